"""HttpPlatformHandler's forwarding: a request to the backend over 127.0.0.1, its answer back.

Header handling follows HttpPlatformHandler v2's forwardinghandler.cpp (lextudio/
httpplatformhandlerv2, src/Servers/IIS/AspNetCoreModuleV2/OutOfProcessRequestHandler/): `Host` is
kept; of the request's hop-by-hop headers only `Connection` is removed (with any `MS-ASPNETCORE*`
header); `X-Forwarded-For` (client `ip:port`) and `X-Forwarded-Proto` are APPENDED to whatever
the client sent, never replacing it. From the response, `Connection`, `Transfer-Encoding: chunked`
and `Date` are dropped (IIS frames and dates the answer itself) and a `Server` header is only
there if the backend sent one. Message framing (`Content-Length`, `Transfer-Encoding`) is
WinHTTP's and IIS's job on each side, as it is aiohttp's here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

# Request headers HPH does not pass on (forwardinghandler.cpp: DeleteHeader(HttpHeaderConnection)),
# plus the framing headers the client library writes itself.
REQUEST_DROPPED = {"connection", "transfer-encoding", "content-length"}
# Response headers IIS does not pass on (forwardinghandler.cpp, SetStatusAndHeaders): framing,
# Connection and Date (IIS writes its own); Server is handled by the caller.
RESPONSE_DROPPED = {"connection", "transfer-encoding", "content-length", "date", "server"}
# The key of a response's mapping that carries the backend's Server header (None: it sent none).
BACKEND_SERVER = web.ResponseKey("hph-backend-server", object)
WINDOWS_AUTH_HEADER = "X-IIS-WINDOWSAUTHTOKEN"  # as forwardinghandler.cpp spells it
WEBSOCKET_HANDSHAKE = {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}


class BackendError(Exception):
    """The backend did not answer (refused, reset, or silent past requestTimeout): 502.3."""


def _append(headers: CIMultiDict, name: str, value: str) -> None:
    previous = ", ".join(headers.getall(name, []))
    headers.popall(name, None)
    headers[name] = f"{previous}, {value}" if previous else value


def forwarded_headers(request: web.BaseRequest, token: str | None = None) -> CIMultiDict:
    """The client's headers as HPH passes them on. `token`: the signed-in user's token handle, which
    replaces any X-IIS-WindowsAuthToken the client sent (SetHeader(..., fReplace TRUE)); without
    one, a client's header passes on untouched, as HPH passes it."""
    headers = CIMultiDict(
        (k, v)
        for k, v in request.headers.items()
        if k.lower() not in REQUEST_DROPPED and not k.lower().startswith("ms-aspnetcore")
    )
    if request.raw_path.startswith(("http://", "https://")):
        # Absolute-form request line: its authority is the host (RFC 9112, 3.2.2), as http.sys does.
        headers["Host"] = URL(request.raw_path, encoded=True).raw_authority
    peer = request.transport.get_extra_info("peername") if request.transport else None
    host, port = (peer[0], peer[1]) if peer else ("", 0)
    _append(headers, "X-Forwarded-For", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    _append(headers, "X-Forwarded-Proto", "https" if request.secure else "http")
    if token is not None:
        headers.popall(WINDOWS_AUTH_HEADER, None)
        headers[WINDOWS_AUTH_HEADER] = token
    return headers


def backend_url(request: web.BaseRequest, port: int) -> URL:
    """The request's path and query as sent (an absolute-form target loses its scheme and host)."""
    return URL(f"http://127.0.0.1:{port}{request.rel_url.raw_path_qs}", encoded=True)


async def forward_http(
    request: web.BaseRequest,
    session: aiohttp.ClientSession,
    port: int,
    timeout: float,
    token: str | None = None,
) -> web.StreamResponse:
    """Stream the request body to the backend and its response back (keep-alive both sides).
    `timeout` applies to every wait for data from the backend, as HPH sets WinHTTP's receive
    timeout to requestTimeout; once the response has started, a timeout can only cut it short."""
    headers = forwarded_headers(request, token)
    body = request.content if request.body_exists else None
    try:
        upstream = await session.request(
            request.method,
            backend_url(request, port),
            headers=headers,
            data=body,
            allow_redirects=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout),
        )
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise BackendError(_describe(exc, timeout)) from exc
    async with upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in RESPONSE_DROPPED:
                response.headers.add(name, value)
        response[BACKEND_SERVER] = upstream.headers.get("Server")
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # Headers are gone already: all IIS can do is drop the connection.
            request.transport.close()
            raise ConnectionResetError(_describe(exc, timeout)) from exc
        await response.write_eof()
        return response


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"the backend did not answer within requestTimeout ({timeout:g} s)"
    return f"the backend refused or dropped the connection ({type(exc).__name__}: {exc})"


async def forward_websocket(
    request: web.BaseRequest,
    session: aiohttp.ClientSession,
    port: int,
    timeout: float,
    token: str | None = None,
    opened: Callable[[web.WebSocketResponse], None] = lambda ws: None,
) -> web.StreamResponse:
    """Open the same WebSocket on the backend, then relay messages both ways until one closes
    (IIS needs its WebSocket Protocol role service for this; HPH then passes the upgrade on).
    `opened` gets the client's side, for the emulator to close on stop."""
    headers = forwarded_headers(request, token)
    for name in WEBSOCKET_HANDSHAKE | {"sec-websocket-protocol"}:
        headers.popall(name, None)
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    try:
        upstream = await session.ws_connect(
            backend_url(request, port),
            headers=headers,
            protocols=protocols,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout),
        )
    except aiohttp.WSServerHandshakeError as exc:
        return web.Response(status=exc.status, text=f"backend refused the WebSocket: {exc.message}")
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise BackendError(_describe(exc, timeout)) from exc
    client = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else ())
    await client.prepare(request)
    opened(client)

    async def relay(source, target) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.TEXT:
                await target.send_str(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await target.send_bytes(message.data)
            else:
                break
        await target.close()

    tasks = [asyncio.ensure_future(relay(client, upstream)), asyncio.ensure_future(relay(upstream, client))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()
        await client.close()
    return client
