"""`invoke lock`: pin the dependencies, with hashes, for Windows and Linux alike (uv, universal).

Two locks: requirements.txt (what the server installs: requirements.in) and requirements-dev.txt
(that plus the test and lint tools of requirements-dev.in, held to the same versions by
`-c requirements.txt`). bootstrap.py installs one or the other.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

from invoke import task
from invoke.exceptions import Exit

from .. import PROJECT_ROOT
from ..commands import show

LOCKS = {"requirements.in": "requirements.txt", "requirements-dev.in": "requirements-dev.txt"}


def uv_argv() -> list[str] | None:
    if shutil.which("uv"):
        return [shutil.which("uv")]
    if importlib.util.find_spec("uv"):
        return [sys.executable, "-m", "uv"]
    return None


def compile_argv(uv: list[str], source: str, target: str, python_version: str) -> list[str]:
    """The one command that makes each lock (the template's maintainers run the same)."""
    return [
        *uv, "pip", "compile", "--quiet", "--universal", "--generate-hashes",
        "--python-version", python_version, "--custom-compile-command", "invoke lock", source, "-o", target,
    ]  # fmt: skip


@task
def lock(c):
    """Pin requirements.in and requirements-dev.in into requirements.txt and requirements-dev.txt."""
    uv = uv_argv()
    if uv is None:
        raise Exit(
            "invoke lock needs uv: `pipx install uv` (or `python -m pip install uv`), then run it again."
        )
    # The oldest Python the project's Django supports (invoke.yaml), so the lock suits every newer one.
    oldest = str(c.config.python.oldest)
    for source, target in LOCKS.items():
        argv = compile_argv(uv, source, target, oldest)
        show(argv)
        if subprocess.run(argv, cwd=PROJECT_ROOT).returncode:
            raise Exit(f"uv could not pin {source}; see its message above.", code=1)
    print("Locks updated: run bootstrap.py to install them, and commit the .in and .txt files.")
