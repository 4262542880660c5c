"""A stateful fake of the pywin32 calls iishost.winauth.handles makes, for tests off Windows.

Kernel keeps one handle table per process, as Windows does: a handle value means something only
in the process that holds it. Faithful to pywin32 and Win32 where the resolver depends on it:
  - a failing call raises pywintypes.error(winerror, funcname, strerror) (pywin32 docs,
    "pywintypes.error": the three attributes winerror, funcname, strerror);
  - CloseHandle of a value not in the table: ERROR_INVALID_HANDLE (6), "The handle is invalid."
    (Microsoft, CloseHandle: "If the function fails, the return value is zero");
  - GetTokenInformation(h, TokenUser) returns (PySID, attributes) for a token opened with
    TOKEN_QUERY; a handle that is no token of this process: ERROR_INVALID_HANDLE (6); a token
    without TOKEN_QUERY: ERROR_ACCESS_DENIED (5) (Microsoft, GetTokenInformation: "TokenUser ...
    requires TOKEN_QUERY access");
  - LookupAccountSid(None, sid) returns (name, domain, SidType); an unknown SID:
    ERROR_NONE_MAPPED (1332), "No mapping between account names and security IDs was done."
"""

from __future__ import annotations

import itertools
import types
from dataclasses import dataclass


class Win32Error(Exception):
    """pywintypes.error: args (winerror, funcname, strerror) with the same attributes."""

    def __init__(self, winerror: int, funcname: str, strerror: str):
        super().__init__(winerror, funcname, strerror)
        self.winerror, self.funcname, self.strerror = winerror, funcname, strerror


INVALID = (6, "The handle is invalid.")


@dataclass
class Token:
    sid: str
    query: bool = True  # opened with TOKEN_QUERY


@dataclass
class File:
    path: str


class Kernel:
    """Handle tables of several processes; `current` is the one the modules act for."""

    def __init__(self, accounts: dict[str, tuple[str, str]] | None = None):
        self.accounts = accounts or {"S-1-5-21-1-1001": ("alice", "CONTOSO")}
        self.tables: dict[int, dict[int, object]] = {1: {}, 2: {}}
        self.current = 1
        self.closed: list[int] = []
        self._numbers = itertools.count(0x1A4, 4)  # handles are multiples of 4

    def open(self, obj, process: int | None = None) -> int:
        handle = next(self._numbers)
        self.tables[self.current if process is None else process][handle] = obj
        return handle

    def open_handles(self, kind=object) -> dict[int, object]:
        return {h: o for h, o in self.tables[self.current].items() if isinstance(o, kind)}

    def modules(self):
        """(win32api, win32security, pywintypes) acting on this kernel."""
        table = lambda: self.tables[self.current]  # noqa: E731

        def close_handle(handle):
            if handle not in table():
                raise Win32Error(INVALID[0], "CloseHandle", INVALID[1])
            del table()[handle]
            self.closed.append(handle)

        def get_token_information(handle, klass):
            assert klass == TOKEN_USER, "only TokenUser is emulated"
            obj = table().get(handle)
            if not isinstance(obj, Token):
                raise Win32Error(INVALID[0], "GetTokenInformation", INVALID[1])
            if not obj.query:
                raise Win32Error(5, "GetTokenInformation", "Access is denied.")
            return (obj.sid, 0)

        def lookup_account_sid(system, sid):
            assert system is None
            if sid not in self.accounts:
                raise Win32Error(
                    1332, "LookupAccountSid", "No mapping between account names and security IDs was done."
                )
            name, domain = self.accounts[sid]
            return (name, domain, 1)  # SidTypeUser

        win32api = types.SimpleNamespace(CloseHandle=close_handle)
        win32security = types.SimpleNamespace(
            TokenUser=TOKEN_USER,
            GetTokenInformation=get_token_information,
            LookupAccountSid=lookup_account_sid,
        )
        pywintypes = types.SimpleNamespace(error=Win32Error)
        return win32api, win32security, pywintypes


TOKEN_USER = 1  # TOKEN_INFORMATION_CLASS.TokenUser
