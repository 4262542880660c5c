"""Where the Windows tools are: appcmd.exe is not on PATH.

Search order: the `tools.appcmd` / `tools.icacls` setting, then PATH (so a test's fake placed first
on PATH is found), then the default location under %windir%. None means "this machine has no IIS".
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PureWindowsPath


def _windir() -> PureWindowsPath:
    return PureWindowsPath(os.environ.get("WINDIR") or r"C:\Windows")


DEFAULTS = {
    "appcmd": lambda: _windir() / "System32" / "inetsrv" / "appcmd.exe",
    "icacls": lambda: _windir() / "System32" / "icacls.exe",
    "schtasks": lambda: _windir() / "System32" / "schtasks.exe",
    # Read by `invoke doctor` only.
    "netstat": lambda: _windir() / "System32" / "NETSTAT.EXE",
    "wevtutil": lambda: _windir() / "System32" / "wevtutil.exe",
}


def find(tool: str, configured: str = "") -> str | None:
    """The path of `tool` (a key of DEFAULTS), or None when it is nowhere."""
    if configured:
        return configured if Path(configured).is_file() else None
    found = shutil.which(tool)
    if found:
        return found
    default = DEFAULTS[tool]()
    return str(default) if os.name == "nt" and Path(default).is_file() else None


def is_elevated() -> bool:
    """True when this process may change IIS and ACLs: an elevated Windows token (or root elsewhere,
    where only the test fakes run)."""
    if os.name == "nt":
        import ctypes

        try:
            return bool(ctypes.windll.shell32.IsUserAnAdmin())
        except (AttributeError, OSError):
            return False
    return True
