"""`invoke serve`: the site as IIS will run it, through the emulator of IIS + HttpPlatformHandler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from invoke import task
from invoke.exceptions import Exit

from .. import PROJECT_ROOT
from ..commands import python, show


@task(help={"port": "port on 127.0.0.1 (default 8000)"})
def serve(c, port=8000):
    """The site as IIS will run it, at http://127.0.0.1:PORT/: web.config through the IIS emulator
    (iishost/docs/emulator.md), after what a deploy does first (collectstatic, migrate)."""
    python("manage.py", "collectstatic", "--noinput", "-v", "0")
    python("manage.py", "migrate", "--noinput")
    argv = [sys.executable, "-m", "iishost.emulator", "--site-root", str(PROJECT_ROOT), "--port", str(port)]
    show(argv)
    emulator = subprocess.Popen(argv, cwd=PROJECT_ROOT)
    try:
        emulator.wait()
    except KeyboardInterrupt:
        # subprocess.run would kill the emulator 0.25 s after Ctrl-C, leaving its backends running:
        # let it stop them (it got Ctrl-C too; on POSIX it is told again in case it did not).
        if os.name != "nt":
            emulator.send_signal(signal.SIGINT)
        emulator.wait(timeout=60)
    if emulator.returncode not in (0, -signal.SIGINT):
        raise Exit(code=emulator.returncode)
