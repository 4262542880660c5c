"""The `websockets` option end to end: a project rendered with it, bootstrapped, its own tests
passing, then served by `invoke serve` (the IIS emulator, web.config's two uvicorn processes) with
a real Redis: a message sent on a connection of one process reaches a client of the other."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import subprocess

import pytest
from conftest import bootstrap, venv_python
from redis_server import ping, redis_server
from test_serve_e2e import backend_pids, serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name == "nt", reason="stops `invoke serve` with POSIX process-group signals"),
]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


class WebSocket:
    """A minimal RFC 6455 client (text frames, masked as a client must), so the test depends on
    nothing of the project's: the handshake goes through the emulator as a browser's would."""

    def __init__(self, port: int, path: str = "/ws/broadcast/", origin: str | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16))
        origin = origin or f"http://127.0.0.1:{port}"
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            assert chunk, f"connection closed during the handshake: {head!r}"
            head += chunk
        self.status = int(head.split(b" ", 2)[1])
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324 (the protocol's own)
        assert self.status != 101 or b"sec-websocket-accept: " + accept.lower() in head.lower(), head

    def send(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        assert len(payload) < 126
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def receive(self, timeout: float = 10) -> str | None:
        """The next text message; None when none comes within `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            while True:
                first, length = self._exactly(2)
                opcode, length = first & 0x0F, length & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self._exactly(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self._exactly(8))
                payload = self._exactly(length)
                if opcode == 0x1:
                    return payload.decode()
                assert opcode in (0x9, 0xA), f"unexpected frame {opcode:#x}: {payload!r}"  # ping/pong
        except TimeoutError:
            return None

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            assert chunk, "the server closed the connection"
            data += chunk
        return data

    def __del__(self) -> None:
        self.sock.close()  # the server's side is closed by `invoke serve` stopping, whatever the test did


@pytest.fixture(scope="module")
def ws_project(template_repo, tmp_path_factory):
    from conftest import render

    project = render(template_repo, tmp_path_factory.mktemp("ws") / "ws site", websockets=True)
    result = bootstrap(project)
    assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_redis_fixture_answers_and_stops(tmp_path):
    with redis_server(tmp_path) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert ping(port)
    assert not ping(port), "stopped when the block ends"


def test_websocket_project_passes_its_own_tests(ws_project):
    result = subprocess.run(
        [venv_python(ws_project), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=ws_project, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "tests/test_websockets.py ..." in result.stdout or " passed" in result.stdout


def two_clients(port: int) -> tuple[WebSocket, WebSocket]:
    """Two connections in a row: the emulator hands them to its processes round-robin, as HPH
    does (the control test below proves they land in different processes)."""
    first, second = WebSocket(port), WebSocket(port)
    assert (first.status, second.status) == (101, 101)
    return first, second


def test_a_message_reaches_a_client_of_the_other_process_through_redis(ws_project, redis_url, tmp_path):
    with serving(ws_project, tmp_path, REDIS_URL=redis_url) as port:
        alice, bob = two_clients(port)
        assert len(backend_pids(ws_project)) >= 2, "web.config's processesPerApplication"
        alice.send("hello from alice")
        assert alice.receive() == "hello from alice"
        assert bob.receive() == "hello from alice", "the other process's client got it through Redis"
        bob.send("and back")
        assert (alice.receive(), bob.receive()) == ("and back", "and back")


def test_control_without_redis_the_other_process_never_hears(ws_project, tmp_path):
    """Control: the in-memory layer stays inside each process. So the two clients above were in
    different processes, and Redis is what carried the message."""
    with serving(ws_project, tmp_path, REDIS_URL="") as port:
        alice, bob = two_clients(port)
        alice.send("only my process")
        assert alice.receive() == "only my process"
        assert bob.receive(timeout=3) is None


def test_a_page_of_another_site_is_refused_through_iis(ws_project, redis_url, tmp_path):
    with serving(ws_project, tmp_path, REDIS_URL=redis_url) as port:
        assert WebSocket(port, origin="http://evil.example").status == 403, "a cross-site page cannot connect"
        assert WebSocket(port, path="/ws/nowhere/").status != 101
