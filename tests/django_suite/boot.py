"""Run Django's own runtests.py with the handler under test in Django's place.

Run by a generated project's interpreter, with Django's sdist `tests/` folder as the working
directory and the project folder on PYTHONPATH:

    python boot.py MODE [runtests.py arguments...]

MODE:
  stock          Django as shipped (the reference run).
  swap           django.core.handlers.asgi.ASGIHandler (and so get_asgi_application()) is the
                 project's FastASGIHandler: Django's asgi/handlers tests drive it directly.
  routed-stock   every test Client/AsyncClient request goes over the ASGI protocol through
  routed-fast    Django's ASGIHandler, or through FastASGIHandler: Django's test clients call
                 the middleware chain directly and would otherwise never reach an ASGI handler.

Patches are applied before runtests.py imports any test module; its parallel workers are forked
(Linux), so they inherit them.
"""

from __future__ import annotations

import asyncio
import runpy
import sys


def swap() -> None:
    import django.contrib.staticfiles.handlers  # noqa: F401  (keeps Django's class as its base, as in a project)
    import django.core.asgi
    import django.core.handlers.asgi

    from iishost.asgi_handler import FastASGIHandler

    django.core.handlers.asgi.ASGIHandler = FastASGIHandler
    django.core.asgi.ASGIHandler = FastASGIHandler


def scope_from_environ(environ: dict) -> tuple[dict, bytes]:
    """The ASGI scope and body of a request the sync test Client built as a WSGI environ."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.replace("_", "-").lower()
        else:
            continue
        headers.append((name.encode("latin-1"), str(value).encode("latin-1")))
    raw_path = environ.get("PATH_INFO", "/").encode("iso-8859-1")  # PEP 3333 str of bytes
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").split("/")[-1],
        "method": environ.get("REQUEST_METHOD", "GET"),
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": raw_path.decode("utf-8", "replace"),
        "raw_path": raw_path,
        "root_path": environ.get("SCRIPT_NAME", ""),
        "query_string": environ.get("QUERY_STRING", "").encode("iso-8859-1"),
        "headers": headers,
        "client": (environ.get("REMOTE_ADDR", "127.0.0.1"), 0),
        "server": (environ.get("SERVER_NAME", "testserver"), int(environ.get("SERVER_PORT", 80))),
    }
    return scope, body


async def over_asgi(handler, scope: dict, body: bytes, enforce_csrf_checks: bool):
    """Serve one request with `handler` over ASGI, as a server would; return Django's response
    object (what the test client inspects) and the request, with the body as it was sent."""
    seen = {}
    create_request, send_response = handler.create_request, handler.send_response

    def capture_request(scope, body_file):
        request, error_response = create_request(scope, body_file)
        if request is not None:
            request._dont_enforce_csrf_checks = not enforce_csrf_checks  # as the test client does
            seen["request"] = request
        return request, error_response

    async def capture_response(response, send):
        seen["response"] = response
        return await send_response(response, send)

    handler.create_request, handler.send_response = capture_request, capture_response
    sent = []

    async def receive():
        if not sent:
            sent.append(None)
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the response is sent

    chunks = []

    async def send(message):
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await handler(scope, receive, send)
    finally:
        handler.create_request, handler.send_response = create_request, send_response
    if "response" not in seen:
        raise AssertionError(f"{type(handler).__name__} sent no response for {scope['path']}")
    response = seen["response"]
    if response.streaming:  # consumed by the handler: the test reads what it sent
        if response.is_async:

            async def replay():
                for chunk in chunks:
                    yield chunk

            response.streaming_content = replay()
        else:
            response.streaming_content = chunks
    return response, seen.get("request")


def route(handler_class) -> None:
    """Send the test clients' requests through `handler_class` over ASGI."""
    from asgiref.sync import async_to_sync
    from django.test import client
    from django.test.client import conditional_content_removal

    def handler_for(client_handler):
        if getattr(client_handler, "_asgi_handler", None) is None:  # once per client, as its chain
            client_handler._asgi_handler = handler_class()
        return client_handler._asgi_handler

    async def serve(client_handler, scope, body):
        # close_old_connections stays connected, unlike in the test clients: the handler sends
        # request_started/request_finished on the request's own thread, as in production, so it
        # closes that thread's connections, never the test's.
        response, request = await over_asgi(
            handler_for(client_handler), scope, body, client_handler.enforce_csrf_checks
        )
        if request is not None:
            conditional_content_removal(request, response)
        return response, request

    def sync_call(self, environ):
        scope, body = scope_from_environ(environ)
        response, request = async_to_sync(serve)(self, scope, body)
        response.wsgi_request = request
        return response

    async def async_call(self, scope):
        scope = dict(scope)
        body_file = scope.pop("_body_file", None)
        body = body_file.read() if body_file is not None else b""
        scope.setdefault("path", "/")
        scope.setdefault("raw_path", scope["path"].encode())
        scope.setdefault("root_path", "")
        scope.setdefault("query_string", b"")
        response, request = await serve(self, scope, body)
        response.asgi_request = request
        return response

    client.ClientHandler.__call__ = sync_call
    client.AsyncClientHandler.__call__ = async_call


def main() -> None:
    mode, sys.argv = sys.argv[1], ["runtests.py", *sys.argv[2:]]
    if mode == "swap":
        swap()
    elif mode == "routed-stock":
        from django.core.handlers.asgi import ASGIHandler

        route(ASGIHandler)
    elif mode == "routed-fast":
        from iishost.asgi_handler import FastASGIHandler

        route(FastASGIHandler)
    elif mode != "stock":
        raise SystemExit(f"unknown mode {mode!r}")
    sys.path.insert(0, ".")
    runpy.run_path("runtests.py", run_name="__main__")


if __name__ == "__main__":
    main()
