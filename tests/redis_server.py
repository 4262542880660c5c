"""A real Redis server for the tests: Debian's `redis-server`, in a temp folder, on a free loopback
port, stopped by its PID. Nothing is saved to disk (`--save ""`, no append-only file)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BINARY = "redis-server"
MISSING = f"needs {BINARY} (Debian: apt-get install -y redis-server; .ci/run installs it)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ping(port: int) -> bool:
    """Redis's own liveness answer, in its wire protocol (RESP): PING -> +PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """Yields the server's URL (redis://127.0.0.1:PORT/0) once it answers PING."""
    binary = shutil.which(BINARY)
    if binary is None:
        pytest.skip(MISSING)
    port = free_port()
    log = folder / "redis.log"
    command = [
        binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
        "--dir", str(folder), "--logfile", str(log), "--daemonize", "no",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not ping(port):
            assert process.poll() is None, f"redis-server exited: {log.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, "redis-server did not answer PING within 20 s"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
