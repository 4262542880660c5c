"""Which token resolver this process uses: settings.WINDOWS_AUTH_TOKEN_RESOLVER (a dotted path to a
callable, for tests), else the emulator's stand-in when the emulator started this process, else
pywin32 on Windows, else none (every forwarded token is refused, with the reason logged)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from .emulated import EmulatedTokens
from .handles import Win32TokenResolver

Resolver = Callable[[str], str]


def from_environment(
    environ: Mapping[str, str] | None = None, platform: str = sys.platform
) -> Resolver | None:
    emulated = EmulatedTokens.from_environment(os.environ if environ is None else environ)
    if emulated is not None:
        return emulated
    if platform == "win32":
        return Win32TokenResolver()
    return None
