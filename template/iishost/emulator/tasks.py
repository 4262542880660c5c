"""`invoke serve`: the site as IIS will run it, through the emulator of IIS + HttpPlatformHandler."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from invoke import task
from invoke.exceptions import Exit

from .. import PROJECT_ROOT
from ..commands import python, show


@task(
    help={
        "port": "port on 127.0.0.1 (default 8000)",
        "hph": "HttpPlatformHandler build whose schema web.config must satisfy: 1.2, 2 or both (default)",
        "windows-user": 'Windows sign-in: every request signed in as this user, e.g. "CONTOSO\\alice"',
    }
)
def serve(c, port=8000, hph="both", windows_user=""):
    """The site as IIS will run it, at http://127.0.0.1:PORT/: web.config through the IIS emulator
    (iishost/docs/emulator.md), after what a deploy does first (collectstatic, migrate)."""
    python("manage.py", "collectstatic", "--noinput", "-v", "0")
    python("manage.py", "migrate", "--noinput")
    if str((c.config.get("project") or {}).get("farm", "")).lower() == "true":
        python("manage.py", "createcachetable")  # a farm without REDIS_URL caches in the database
    argv = [sys.executable, "-m", "iishost.emulator", "--site-root", str(PROJECT_ROOT), "--port", str(port)]
    argv += ["--hph", hph]
    if windows_user:
        argv += ["--windows-user", windows_user]
    show(argv)
    code = supervise(argv, PROJECT_ROOT)
    if code not in (0, -signal.SIGINT):
        raise Exit(code=code)


def supervise(argv: list[str], cwd: Path | str | None = None) -> int:
    """Run the emulator until it exits and return its exit code. Ctrl-C and SIGTERM to this
    process are passed on to it and we wait while it stops its backends (subprocess.run would kill
    it 0.25 s after Ctrl-C and leave them running; an unhandled SIGTERM would leave it up). If this
    process is killed outright, Linux sends the emulator SIGTERM (die_with_parent)."""
    if os.name == "nt":  # Ctrl-C reaches the emulator through the console; wait for it
        emulator = subprocess.Popen(argv, cwd=cwd)
        while True:
            with contextlib.suppress(KeyboardInterrupt):
                return emulator.wait()
    from .backend import die_with_parent  # the emulator's modules need the development set

    emulator = subprocess.Popen(argv, cwd=cwd, preexec_fn=die_with_parent(signal.SIGTERM))

    def forward(signum, _frame) -> None:
        with contextlib.suppress(ProcessLookupError):
            emulator.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return emulator.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
