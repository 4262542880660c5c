"""WebSocket handshakes carry a forwarded token too: it is read and closed (no leak), and refused
from outside or when bogus, before the application sees the connection."""

import asyncio

from iishost.forwarded import ForwardedHeaders
from iishost.tests.fakes.win32 import Kernel, Token
from iishost.winauth.handles import Win32TokenResolver
from iishost.winauth.websocket import WebSocketWindowsToken

ALICE = "S-1-5-21-1-1001"


def handshake(kernel, token, peer=("127.0.0.1", 50000)):
    seen = {}

    async def app(scope, receive, send):
        seen["scope"] = scope
        await receive()
        await send({"type": "websocket.accept"})

    guarded = ForwardedHeaders(WebSocketWindowsToken(app, Win32TokenResolver(*kernel.modules())), [])
    headers = [(b"x-forwarded-for", b"10.1.2.3:5000"), (b"x-forwarded-proto", b"http")]
    if token is not None:
        headers.append((b"x-iis-windowsauthtoken", token.encode()))
    scope = {"type": "websocket", "path": "/ws/", "headers": headers, "client": peer}
    sent = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    asyncio.run(guarded(scope, receive, send))
    return seen.get("scope"), sent


def test_the_token_of_a_handshake_is_resolved_and_closed():
    kernel = Kernel()
    scope, sent = handshake(kernel, f"{kernel.open(Token(ALICE)):x}")
    assert scope["windows_user"] == "CONTOSO\\alice"
    assert all(k != b"x-iis-windowsauthtoken" for k, _ in scope["headers"])
    assert sent == [{"type": "websocket.accept"}]
    assert kernel.open_handles() == {}


def test_a_handshake_token_from_outside_or_bogus_is_refused_before_the_app():
    kernel = Kernel()
    handle = kernel.open(Token(ALICE))
    scope, sent = handshake(kernel, f"{handle:x}", peer=("10.0.0.5", 1))
    assert scope is None and sent == [{"type": "websocket.close", "code": 1008}]
    assert kernel.open_handles() == {handle: Token(ALICE)}
    scope, sent = handshake(kernel, f"{handle + 4:x}")
    assert scope is None and sent[0]["type"] == "websocket.close"


def test_a_handshake_without_a_token_passes_untouched():
    scope, sent = handshake(Kernel(), None)
    assert "windows_user" not in scope and sent == [{"type": "websocket.accept"}]
