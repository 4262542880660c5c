"""`python -m iishost.launch <uvicorn arguments>`: uvicorn, with this process's output in a log
file of its own (what web.config's `arguments` run).

HttpPlatformHandler's stdout log cannot be relied on for it: HPH 1.2 names the file
`<prefix>_<worker pid>_<time to the second>.log` and v2 `<prefix>_<time>_<worker pid>.log`, the
pid being the IIS worker's, shared by every backend process; it opens the file for writing with
read sharing only, so with processesPerApplication="2" the second process started in the same
second cannot open it and runs without stdout (its startup traceback is lost). Here each process
writes `logs/uvicorn_<UTC time>_<its own pid>.log` (DJANGO_LOG_DIR if set): the name is unique,
whatever the build. HPH's own log keeps what happens before Python runs this (e.g. "No Python at").
"""

from __future__ import annotations

import faulthandler
import os
import runpy
import sys
from datetime import datetime, timezone
from pathlib import Path

from . import PROJECT_ROOT


def log_path(now: datetime | None = None, pid: int | None = None) -> Path:
    """logs/uvicorn_<YYYYmmdd-HHMMSS>_<pid>.log (UTC), in DJANGO_LOG_DIR if that is set."""
    now = now or datetime.now(timezone.utc)
    folder = Path(os.environ.get("DJANGO_LOG_DIR") or PROJECT_ROOT / "logs")
    return folder / f"uvicorn_{now:%Y%m%d-%H%M%S}_{pid or os.getpid()}.log"


def redirect_output(path: Path) -> bool:
    """Point this process's stdout and stderr (the file descriptors, so C-level output and
    tracebacks at exit go there too) at `path`; False, with the reason on stderr, if it cannot."""
    try:
        log = open(path, "ab", buffering=0)  # noqa: SIM115 (open for the life of the process)
    except OSError as exc:
        print(f"iishost.launch: cannot write {path}: {exc}; output stays on stdout", file=sys.stderr)
        return False
    print(f"iishost.launch: process {os.getpid()} writes its output to {path}", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    return True


def main(argv: list[str] | None = None) -> None:
    redirect_output(log_path())
    faulthandler.enable()  # a hard crash leaves its Python stack in the log too
    sys.argv = ["uvicorn", *(sys.argv[1:] if argv is None else argv)]
    runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
