"""Run this venv's Python in the project folder for a task: an argument list, never a shell string
(Invoke's `c.run` would hand a string to cmd.exe on Windows, where `&` or quotes in a path break it)."""

from __future__ import annotations

import os
import subprocess
import sys

from invoke.exceptions import Exit

from . import PROJECT_ROOT


def show(argv) -> None:
    print("+", subprocess.list2cmdline([str(a) for a in argv]), flush=True)


def python(*args, env=None) -> None:
    """Run `python ARGS` with this venv's Python; stop the task with its exit code if it fails."""
    argv = [sys.executable, *map(str, args)]
    show(argv)
    completed = subprocess.run(argv, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})})
    if completed.returncode:
        raise Exit(code=completed.returncode)
