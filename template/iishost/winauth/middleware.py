"""Log in the Windows user IIS authenticated, from the token HttpPlatformHandler forwards.

Trusted only as IIS forwards it: the request's TCP peer must be loopback (HPH connects over
127.0.0.1; iishost.forwarded keeps that peer in the scope before it rewrites `client` from
X-Forwarded-For, and the rewritten value is never what is checked here). A header from anywhere
else, or one that is not a token of this process, is refused with 403 and a log line, not ignored:
it is either an attack or a misconfigured server, and both should be seen. Installed only when
the project has windows_auth; without it the header means nothing to Django.

The login itself is django.contrib.auth's RemoteUserMiddleware's (authenticate(remote_user=...),
then login; a remote user whose request no longer carries a token is logged out), written as plain
process_request so the fast ASGI handler keeps its single thread hop (iishost/asgi_handler.py).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import RemoteUserBackend
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseForbidden
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from iishost.forwarded import LOOPBACK, PEER

from . import HEADER, META_KEY, resolver
from .handles import TokenRefused

log = logging.getLogger("iishost.winauth")


def real_peer(request) -> str:
    """The address of whoever opened the TCP connection to this process."""
    scope = getattr(request, "scope", None)
    if scope is None:  # WSGI (the test client): REMOTE_ADDR is the socket's peer
        return request.META.get("REMOTE_ADDR", "")
    peer = scope.get(PEER, scope.get("client"))
    return peer[0] if peer else ""


def refuse(request, why: str) -> HttpResponseForbidden:
    log.warning("refused %s %s: %s", request.method, request.path, why)
    return HttpResponseForbidden(f"Windows sign-in refused: {HEADER} {why.split(':')[0]}.\n")


class WindowsAuthMiddleware(MiddlewareMixin):
    def __init__(self, get_response):
        super().__init__(get_response)
        path = getattr(settings, "WINDOWS_AUTH_TOKEN_RESOLVER", None)
        self.resolver = import_string(path)() if path else resolver.from_environment()

    def process_request(self, request):
        if not hasattr(request, "user"):
            raise ImproperlyConfigured(
                "WindowsAuthMiddleware needs django.contrib.auth.middleware.AuthenticationMiddleware "
                "before it in MIDDLEWARE"
            )
        value = request.META.pop(META_KEY, None)
        if value is None:
            self._logout_remote_user(request)
            return None
        peer = real_peer(request)
        if peer not in LOOPBACK:
            return refuse(request, f"from {peer or 'an unknown peer'}, not through IIS's loopback proxy")
        if self.resolver is None:
            return refuse(request, "cannot be read here: no token resolver (pywin32 runs on Windows only)")
        try:
            windows_name = self.resolver(value)
        except TokenRefused as exc:
            return refuse(request, f"from {peer} is not a usable token: {exc}")
        request.META["REMOTE_USER"] = windows_name
        if request.user.is_authenticated:
            if request.user.get_username() == self._clean(windows_name, request):
                return None
            auth.logout(request)  # another Windows user on this session
        user = auth.authenticate(request, remote_user=windows_name)
        if user is not None:
            request.user = user
            auth.login(request, user)
        else:
            log.info("Windows user %s has no Django user (WINDOWS_AUTH_CREATE_USERS, _DOMAINS)", windows_name)
        return None

    @staticmethod
    def _backend(request):
        try:
            return auth.load_backend(request.session.get(auth.BACKEND_SESSION_KEY, ""))
        except ImportError:
            return None

    def _clean(self, name: str, request) -> str:
        backend = self._backend(request)
        return backend.clean_username(name) if hasattr(backend, "clean_username") else name

    def _logout_remote_user(self, request) -> None:
        """As RemoteUserMiddleware: a session made from a forwarded token ends without one."""
        if request.user.is_authenticated and isinstance(self._backend(request), RemoteUserBackend):
            auth.logout(request)
