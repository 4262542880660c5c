"""Run commands as argument lists (never through a shell) and apply plans step by step.

A list goes through subprocess unchanged on POSIX; on Windows subprocess joins it with list2cmdline,
which quotes an item that holds a space or tab ("/name:My Site" arrives as `"/name:My Site"`) and
escapes inner double quotes. appcmd and icacls parse their own command line the C-runtime way, so
each list item arrives as one argument however many spaces, quotes, `&` or non-ASCII letters it has.
cmd.exe is never involved, so `&`, `|`, `^` and `%` have no special meaning.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from .plan import Step

# icacls writes in the console's OEM code page; appcmd /xml declares its encoding in the XML header.
TEXT_ENCODING = "oem" if os.name == "nt" else "utf-8"


@dataclass
class Result:
    returncode: int
    stdout: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode(TEXT_ENCODING, errors="replace")


def query(argv: list[str] | tuple[str, ...]) -> Result:
    """Run a read-only command; its stdout and stderr together, as the user would see them."""
    completed = subprocess.run(
        [str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120
    )
    return Result(completed.returncode, completed.stdout)


class StepFailed(Exception):
    """A step failed: the run stopped there. Says what was applied and what was not."""

    def __init__(self, failed: Step, result: Result, applied: list[Step], remaining: list[Step]):
        self.failed, self.result, self.applied, self.remaining = failed, result, applied, remaining
        lines = [
            f"FAILED (exit code {result.returncode}): {failed.why}",
            f"  + {failed.command_line()}",
            *("  | " + line for line in result.text.strip().splitlines()),
            f"Applied before the failure ({len(applied)}):",
            *(f"  done: {s.command_line()}" for s in applied),
            f"Not applied ({len(remaining) + 1}):",
            *(f"  not done: {s.command_line()}" for s in [failed, *remaining]),
            "Fix the cause above and run the same command again: it plans only what is still missing.",
        ]
        super().__init__("\n".join(lines))


@dataclass
class Runner:
    """Applies steps in order and stops at the first failure."""

    echo: callable = print
    applied: list[Step] = field(default_factory=list)

    def apply(self, steps: list[Step]) -> None:
        for index, step in enumerate(steps):
            self.echo(f"- {step.why}\n  + {step.command_line()}")
            result = query(step.argv)
            for line in result.text.strip().splitlines():
                self.echo(f"  | {line}")
            if result.returncode:
                raise StepFailed(step, result, list(self.applied), list(steps[index + 1 :]))
            self.applied.append(step)
