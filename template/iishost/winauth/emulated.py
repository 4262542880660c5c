"""The emulator's stand-in for Windows tokens (`invoke serve --windows-user "CONTOSO\\alice"`).

The emulator signs every request in as one configured user. It cannot hand a real token to the
backend, so it sends what HPH would (`X-IIS-WindowsAuthToken: <16 hex digits>`) where the digits
are a random nonce and its HMAC under a key made for this run only and given to its own backend
processes in the environment (KEY_VARIABLE; web.config's variables cannot override it there). A
value is accepted once, as a real handle is gone once closed.

It must never work under real IIS, where web.config could set any variable: a key has 64 hex
digits that exist only in one emulator run, and EmulatedTokens refuses to start at all inside an
IIS worker process (APP_POOL_ID, which w3wp.exe sets for its children, or HttpPlatformHandler v2's
HTTP_PLATFORM_IIS_APP_POOL_ID: iishost/docs/iis-facts.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping

from .handles import TokenRefused, parse_handle

KEY_VARIABLE = "IISHOST_EMULATOR_WINAUTH_KEY"
USER_VARIABLE = "IISHOST_EMULATOR_WINDOWS_USER"
RESERVED = (KEY_VARIABLE, USER_VARIABLE)
IIS_MARKERS = ("APP_POOL_ID", "HTTP_PLATFORM_IIS_APP_POOL_ID")
KEY = re.compile(r"[0-9a-f]{64}")
# DOMAIN\name: what a Windows account name looks like, and nothing that needs escaping anywhere.
WINDOWS_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}\\[A-Za-z0-9][A-Za-z0-9._ -]{0,63}")
REMEMBERED = 100_000  # used nonces kept (a replay of an older one is as unlikely as a guess)


class EmulatedTokens:
    """Issues (emulator side) and resolves (backend side) the stand-in handles of one run."""

    def __init__(self, key: str, user: str):
        if not KEY.fullmatch(key):
            raise ValueError(
                f"{KEY_VARIABLE} must be 64 lower-case hex digits (the emulator makes one per run)"
            )
        if not WINDOWS_USER.fullmatch(user):
            raise ValueError(f'{user!r} is not a Windows account name: DOMAIN\\name, e.g. "CONTOSO\\alice"')
        self.key, self.user = bytes.fromhex(key), user
        self._used: OrderedDict[int, None] = OrderedDict()

    @classmethod
    def new_run(cls, user: str) -> EmulatedTokens:
        return cls(secrets.token_hex(32), user)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> EmulatedTokens | None:
        """The run's tokens when the emulator started this process; refuses inside IIS."""
        if KEY_VARIABLE not in environ:
            return None
        marker = next((name for name in IIS_MARKERS if name in environ), None)
        if marker:
            raise RuntimeError(
                f"{KEY_VARIABLE} is set inside an IIS worker process ({marker} is set): the emulator's "
                "stand-in sign-in never runs under IIS. Remove the variable (web.config, the server's "
                "environment)"
            )
        return cls(environ[KEY_VARIABLE], environ.get(USER_VARIABLE, ""))

    def environment(self) -> dict[str, str]:
        """What the emulator gives its backend processes."""
        return {KEY_VARIABLE: self.key.hex(), USER_VARIABLE: self.user}

    def _tag(self, nonce: int) -> int:
        digest = hmac.new(self.key, nonce.to_bytes(4, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest[:4], "big")

    def issue(self) -> str:
        """A new stand-in handle, written as HPH writes one (lower-case hex, no 0x)."""
        nonce = secrets.randbits(32) | 1 << 31  # 16 digits, never 0
        return f"{nonce:08x}{self._tag(nonce):08x}"

    def __call__(self, value: str) -> str:
        number = parse_handle(value)
        nonce, tag = number >> 32, number & 0xFFFFFFFF
        if not hmac.compare_digest(tag.to_bytes(4, "big"), self._tag(nonce).to_bytes(4, "big")):
            raise TokenRefused(f"handle {value} was not issued by this emulator run")
        if nonce in self._used:
            raise TokenRefused(f"handle {value} was already used (a handle is closed after one request)")
        self._used[nonce] = None
        while len(self._used) > REMEMBERED:
            self._used.popitem(last=False)
        return self.user
