"""A forwarded token handle -> `DOMAIN\\user`, through pywin32, closing the handle.

HttpPlatformHandler DuplicateHandle()s the request's primary token into the backend process and
writes the new handle's value in hex (`_ui64toa_s(handle, buf, 16, 16)`: lower-case digits, no
`0x`; forwardinghandler.cpp, serverprocess.cpp SetWindowsAuthToken in lextudio/
httpplatformhandlerv2). The copy belongs to this process: nothing else closes it, so every token
that arrives is closed here on every path, or the process leaks one handle per request (ASP.NET
Core's IISMiddleware closes it the same way).

A value that does not name a token of this process is refused and NOT closed: the header can come
from a client when IIS did not authenticate the request (HPH sets it only for Negotiate/NTLM and
otherwise passes a client's header on), and such a number may name one of this process's own
files or sockets, which closing would break.
"""

from __future__ import annotations

import contextlib
import re

HANDLE = re.compile(r"[0-9a-fA-F]{1,16}")
ERROR_ACCESS_DENIED = 5  # the handle is a token, opened without TOKEN_QUERY


class TokenRefused(Exception):
    """The header's value is not a usable Windows token of this process (the request gets 403)."""


def parse_handle(value: str) -> int:
    """The header's hex value as a handle number; anything else is refused before any system call."""
    text = value.strip()
    if not HANDLE.fullmatch(text) or int(text, 16) == 0:
        raise TokenRefused(f"{value[:40]!r} is not a token handle (1 to 16 hex digits, not 0)")
    return int(text, 16)


class Win32TokenResolver:
    """Callable: header value -> `DOMAIN\\user`. The pywin32 modules are parameters so tests off
    Windows pass a fake of them (iishost/tests/fakes/win32.py) that keeps a handle table."""

    def __init__(self, win32api=None, win32security=None, pywintypes=None):
        if win32api is None:
            import pywintypes
            import win32api
            import win32security
        self.win32api, self.win32security, self.pywintypes = win32api, win32security, pywintypes

    def __call__(self, value: str) -> str:
        handle = parse_handle(value)
        security, error = self.win32security, self.pywintypes.error
        try:
            sid, _attributes = security.GetTokenInformation(handle, security.TokenUser)
        except error as exc:
            if exc.winerror == ERROR_ACCESS_DENIED:  # a token all the same: ours to close
                self._close(handle)
            raise TokenRefused(f"handle {value} is not a token of this process ({exc.strerror})") from None
        try:
            name, domain, _kind = security.LookupAccountSid(None, sid)
        except error as exc:
            raise TokenRefused(f"the token's account could not be looked up ({exc.strerror})") from None
        finally:
            self._close(handle)
        return f"{domain}\\{name}"

    def _close(self, handle: int) -> None:
        with contextlib.suppress(self.pywintypes.error):  # already gone: nothing left to leak
            self.win32api.CloseHandle(handle)
