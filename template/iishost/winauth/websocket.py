"""The forwarded token of a WebSocket handshake: read, closed, and refused as the HTTP middleware does.

HttpPlatformHandler forwards a token with every signed-in request, the WebSocket upgrade included,
but Django's middleware (iishost.winauth.middleware) sees HTTP requests only: without this, each
WebSocket connection would leak one handle. Placed inside iishost.forwarded (asgi.py), so the real
TCP peer is known. The Windows name goes in scope["windows_user"]; a refused handshake is closed
before it is accepted (the client sees 403), with the same log line as the HTTP middleware's.
"""

from __future__ import annotations

import asyncio
import logging

from iishost.forwarded import LOOPBACK, PEER

from . import resolver as resolvers
from .handles import TokenRefused

log = logging.getLogger("iishost.winauth")
NAME = b"x-iis-windowsauthtoken"


class WebSocketWindowsToken:
    def __init__(self, app, resolver=None):
        self.app = app
        self.resolver = resolver if resolver is not None else resolvers.from_environment()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == NAME]
        headers = [(k, v) for k, v in scope.get("headers", ()) if k.lower() != NAME]
        scope = {**scope, "headers": headers}
        if not values:
            return await self.app(scope, receive, send)
        peer = (scope.get(PEER) or scope.get("client") or ("",))[0]
        if peer not in LOOPBACK:
            return await self._refuse(scope, receive, send, f"from {peer}, not through IIS's loopback proxy")
        if self.resolver is None:
            return await self._refuse(scope, receive, send, "cannot be read here: no token resolver")
        try:
            name = await asyncio.to_thread(self.resolver, values[0])
        except TokenRefused as exc:
            return await self._refuse(scope, receive, send, f"from {peer} is not a usable token: {exc}")
        await self.app({**scope, "windows_user": name}, receive, send)

    @staticmethod
    async def _refuse(scope, receive, send, why: str) -> None:
        log.warning("refused WebSocket %s: %s", scope.get("path", ""), why)
        message = await receive()  # websocket.connect
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": 1008})
