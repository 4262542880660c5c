"""The project's virtual environment as the deploy sees it: which Python installation it runs, and
which of bootstrap.py's package sets it holds."""

from __future__ import annotations

from pathlib import Path

from .config import SettingsError


def python_home(root: Path) -> str:
    """The folder of the interpreter the venv was made from: `home` in .venv/pyvenv.cfg."""
    cfg = root / ".venv" / "pyvenv.cfg"
    if not cfg.is_file():
        raise SettingsError(f"{cfg} is missing: run `python bootstrap.py` first, it makes the venv")
    for line in cfg.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return value.strip()
    raise SettingsError(f"{cfg} has no `home = ...` line: recreate the venv with bootstrap.py")


def package_set(root: Path) -> str | None:
    """ "server" or "dev" as bootstrap.py recorded it (first word of .venv/.requirements.sha256; a bare
    digest is an older bootstrap.py's, which installed everything), None when it recorded nothing."""
    stamp = root / ".venv" / ".requirements.sha256"
    fields = stamp.read_text(encoding="utf-8").split() if stamp.is_file() else []
    if len(fields) == 1:
        return "dev"
    return fields[0] if len(fields) == 2 else None
