"""Run one management command as a scheduled job: `python -m iishost.jobs.run [--time-limit S] -- CMD [ARGS]`.

Task Scheduler starts this (iishost/deploy/jobs) in the project folder as LOCAL SERVICE, with no
console anyone reads. So the command's whole output goes to its own file, logs/jobs/<cmd>-<time>.log,
with a header and footer saying what ran, for how long and how it ended; only the newest KEEP files
per command are kept. manage.py runs the command, so the project's settings (and .env) apply as for
any other manage.py use. The exit code is the command's (Task Scheduler shows it as "Last Run Result");
a command stopped at its time limit ends with TIMED_OUT.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .. import PROJECT_ROOT

KEEP = 30
TIMED_OUT = 124  # the exit code coreutils' timeout uses: shown in Task Scheduler's Last Run Result
LOG_FOLDER = "jobs"
# A management command is a module name; it also names the log files.
COMMAND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


def log_folder() -> Path:
    """logs/jobs/, or DJANGO_LOG_DIR/jobs when the settings' log folder is moved."""
    base = Path(os.environ.get("DJANGO_LOG_DIR") or PROJECT_ROOT / "logs")
    return base / LOG_FOLDER


def prune(folder: Path, command: str, keep: int = KEEP) -> None:
    """Delete all but the newest `keep` logs of `command` (names sort by time)."""
    logs = sorted(folder.glob(f"{command}-*.log"))
    for old in logs[:-keep] if keep else logs:
        old.unlink(missing_ok=True)


def run(command: str, args: list[str], time_limit: float = 0, keep: int = KEEP) -> int:
    folder = log_folder()
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now().astimezone()
    log = folder / f"{command}-{started:%Y%m%d-%H%M%S}-{os.getpid()}.log"
    argv = [sys.executable, str(PROJECT_ROOT / "manage.py"), command, *args]
    clock = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        out.write(f"# {started:%Y-%m-%d %H:%M:%S %z} start: {subprocess.list2cmdline(argv)}\n")
        out.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
        process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
        try:
            code = process.wait(timeout=time_limit or None)
            ending = f"exit code {code}"
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code, ending = TIMED_OUT, f"stopped at its time limit of {time_limit:g} s (exit code {TIMED_OUT})"
        out.write(f"# {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M:%S %z} end after "
                  f"{time.monotonic() - clock:.1f} s: {ending}\n")  # fmt: skip
    prune(folder, command, keep)
    return code


def main(argv: list[str] | None = None) -> int:
    """Options, then `--`, then the command and its arguments, passed on untouched (a `--` among
    them too). Without `--`, everything is the command and its arguments."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="python -m iishost.jobs.run", usage="%(prog)s [--time-limit S] [--keep N] -- COMMAND [ARGS...]"
    )
    parser.add_argument(
        "--time-limit", type=float, default=0, help="seconds before the command is stopped (0: none)"
    )
    parser.add_argument("--keep", type=int, default=KEEP, help="log files kept per command")
    split = argv.index("--") if "--" in argv else -1
    options = parser.parse_args(argv[:split] if split >= 0 else [])
    rest = argv[split + 1 :]
    if not rest or not COMMAND.match(rest[0]):
        parser.error(
            f"give a manage.py command name after --, e.g. -- clearsessions (got {rest[:1] or 'none'})"
        )
    return run(rest[0], rest[1:], options.time_limit, options.keep)


if __name__ == "__main__":
    sys.exit(main())
