"""Start a server under test, wait until it answers, and stop its whole process group after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load import pinned


@dataclass(frozen=True)
class Server:
    """One way of serving a project: the exact command line, environment and folder."""

    name: str
    argv: list[str]
    cwd: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    cpus: str | None = None  # `taskset -c` list, e.g. "0"; None: not pinned

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_200(url: str, timeout: float, process: subprocess.Popen) -> float:
    """Seconds until `url` answers 200; fails early if the process dies."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 (loopback URL)
        ):
            if response.status == 200:
                return time.perf_counter() - start
        time.sleep(0.01)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")


@contextlib.contextmanager
def started(server: Server) -> Iterator[subprocess.Popen]:
    """Run `server` in its own process group (on `server.cpus` if set: taskset execs the server, so
    the group and its pid are the server's) and stop that group after."""
    env = {**os.environ, **server.env}
    log = open(server.cwd / f".bench-{server.port}.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        pinned(server.argv, server.cpus),
        cwd=server.cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@contextlib.contextmanager
def serving(server: Server, ready_path: str = "/", timeout: float = 60) -> Iterator[float]:
    """Run `server` (see `started`); yield its cold-start time (spawn to first 200)."""
    with started(server) as process:
        yield wait_for_200(server.base_url + ready_path, timeout, process)
