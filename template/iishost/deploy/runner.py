"""Run commands as argument lists (never through a shell) and apply plans step by step.

A list goes through subprocess unchanged on POSIX; on Windows subprocess joins it with list2cmdline,
which quotes an item that holds a space or tab ("/name:My Site" arrives as `"/name:My Site"`) and
escapes inner double quotes. appcmd and icacls parse their own command line the C-runtime way, so
each list item arrives as one argument however many spaces, quotes, `&` or non-ASCII letters it has.
cmd.exe is never involved, so `&`, `|`, `^` and `%` have no special meaning.
"""

from __future__ import annotations

import collections
import functools
import os
import subprocess
import threading
from dataclasses import dataclass, field

from .plan import Step

# icacls writes in the console's OEM code page; appcmd /xml declares its encoding in the XML header.
TEXT_ENCODING = "oem" if os.name == "nt" else "utf-8"
# Read-only commands (appcmd list, icacls PATH) answer in seconds; one that hangs is not waited for.
QUERY_TIMEOUT = 120
# Lines of a failed step's output repeated in its report (all of it was shown live above).
TAIL_LINES = 40


@dataclass
class Result:
    returncode: int
    stdout: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode(TEXT_ENCODING, errors="replace")


class QueryFailed(Exception):
    """A read-only command could not run or did not finish: raised before anything is changed."""


def query(argv: list[str] | tuple[str, ...]) -> Result:
    """Run a read-only command; its stdout and stderr together, as the user would see them."""
    argv = [str(a) for a in argv]
    line = subprocess.list2cmdline(argv)
    try:
        completed = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=QUERY_TIMEOUT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise QueryFailed(
            f"{line} did not answer within {QUERY_TIMEOUT} s: nothing was changed; run the same "
            "command again when the server is less busy"
        ) from None
    except OSError as exc:
        raise QueryFailed(f"could not run {line}: {exc} (nothing was changed)") from None
    return Result(completed.returncode, completed.stdout)


class StepFailed(Exception):
    """A step failed, timed out, could not start or was interrupted: the run stopped there. Says what
    was applied and what was not, whatever the cause (the done/not-done report)."""

    def __init__(self, failed: Step, what: str, output: list[str], applied: list[Step],
                 remaining: list[Step], hint: str = "", stopped: bool = False):  # fmt: skip
        self.failed, self.applied, self.remaining = failed, applied, remaining
        lines = [
            f"{what}: {failed.why}",
            f"  + {failed.command_line()}",
            *("  | " + line for line in output),
            f"Applied before the failure ({len(applied)}):",
            *(f"  done: {s.command_line()}" for s in applied),
            f"Not applied ({len(remaining) + 1}"
            + ("; the first was stopped midway and may be partly applied" if stopped else "")
            + "):",
            *(f"  not done: {s.command_line()}" for s in [failed, *remaining]),
            "Fix the cause above and run the same command again: it plans only what is still missing."
            + (f" {hint}" if hint else ""),
        ]
        super().__init__("\n".join(lines))


@dataclass
class Runner:
    """Applies steps in order, each one's output shown as it comes, and stops at the first failure.

    No time limit by default: a migration may rightly take an hour. `timeout` (deploy.step_timeout)
    sets one per step. Every way a step can end badly (exit code, timeout, a missing program, Ctrl+C)
    raises StepFailed with the done/not-done report."""

    echo: callable = functools.partial(print, flush=True)  # live even when stdout is a pipe or a log
    timeout: float | None = None
    hint: str = ""
    applied: list[Step] = field(default_factory=list)

    def apply(self, steps: list[Step]) -> None:
        for index, step in enumerate(steps):
            try:
                self.echo(f"- {step.why}\n  + {step.command_line()}")
                what, tail, stopped = self._run(step)
            except KeyboardInterrupt:  # between steps: this one had not started
                what, tail, stopped = "INTERRUPTED (Ctrl+C) before it started", [], False
            if what:
                raise StepFailed(
                    step, what, tail, list(self.applied), list(steps[index + 1 :]), self.hint, stopped
                )
            self.applied.append(step)

    def _run(self, step: Step) -> tuple[str, list[str], bool]:
        """Run one step: (what went wrong or "", tail of its output, whether it was stopped midway)."""
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        # Python children write through a pipe in blocks unless unbuffered: the progress would come at
        # the end. stdin is closed so a step that would ask a question fails instead of waiting forever.
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            process = subprocess.Popen(
                list(step.argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=env,
            )  # fmt: skip
        except OSError as exc:
            return f"COULD NOT START ({exc.strerror or exc})", [], False
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            process.kill()

        timer = threading.Timer(self.timeout, stop) if self.timeout else None
        try:
            if timer:
                timer.start()
            for raw in process.stdout:
                line = raw.decode(TEXT_ENCODING, errors="replace").rstrip("\r\n")
                tail.append(line)
                self.echo(f"  | {line}")
            code = process.wait()
        except BaseException as exc:  # Ctrl+C, or anything else: stop the step, then report
            process.kill()
            process.wait()
            what = "INTERRUPTED (Ctrl+C)" if isinstance(exc, KeyboardInterrupt) else f"ERROR ({exc!r})"
            return what, list(tail), True
        finally:
            if timer:
                timer.cancel()
            process.stdout.close()
        if expired.is_set():
            return f"TIMED OUT after {self.timeout:g} s (deploy.step_timeout)", list(tail), True
        return (f"FAILED (exit code {code})" if code else ""), list(tail), False
