"""Call an ASGI application over the protocol itself, as uvicorn would: shared by the ASGI tests."""

from asgiref.testing import ApplicationCommunicator


def http_scope(path, headers=(), client=("127.0.0.1", 50000), scheme="http", method="GET"):
    """An HTTP scope for `path` (which may carry a query string) from `client`."""
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }


async def call(app, scope, body=b""):
    """Send one request; return (status, headers as sent, body) once the app has finished."""
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=10)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return start["status"], start["headers"], content
