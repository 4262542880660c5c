"""`DOMAIN\\user` -> a Django user, as settings.py configures it (iishost/docs/settings.md):

WINDOWS_AUTH_STRIP_DOMAIN (`CONTOSO\\alice` -> `alice`), WINDOWS_AUTH_LOWERCASE (Windows names are
case-insensitive, Django's are not), WINDOWS_AUTH_CREATE_USERS (a first sign-in creates the
user, or only existing users may sign in) and WINDOWS_AUTH_DOMAINS (only these domains; needed
when stripping the domain, or two domains' `alice` would be one Django user). Groups from Active
Directory are later work (iishost/docs/intranet.md).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.backends import RemoteUserBackend


def _setting(name: str, default):
    return getattr(settings, name, default)


class WindowsUserBackend(RemoteUserBackend):
    @property
    def create_unknown_user(self) -> bool:
        return bool(_setting("WINDOWS_AUTH_CREATE_USERS", True))

    def authenticate(self, request, remote_user, **kwargs):
        if not remote_user:
            return None
        domain = remote_user.rpartition("\\")[0].lower()
        allowed = {d.lower() for d in _setting("WINDOWS_AUTH_DOMAINS", [])}
        if allowed and domain not in allowed:
            return None
        return super().authenticate(request, remote_user, **kwargs)

    def configure_user(self, request, user, created=True):
        """A user made by a first sign-in has no password: Windows is the only way in."""
        if created and user.has_usable_password():
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    def clean_username(self, username: str) -> str:
        if _setting("WINDOWS_AUTH_STRIP_DOMAIN", True):
            username = username.rpartition("\\")[2]
        if _setting("WINDOWS_AUTH_LOWERCASE", True):
            username = username.lower()
        return username
