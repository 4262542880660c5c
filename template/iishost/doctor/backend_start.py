"""Check 8: the backend started exactly as HttpPlatformHandler would start it (web.config's
processPath and arguments with %VAR% expanded, the site folder as working folder, web.config's
environmentVariables, HTTP_PLATFORM_PORT a free port) answers HTTP on that port within
startupTimeLimit. Its output goes to a temp folder and it is stopped, by PID, afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time

from iishost.emulator.backend import command, command_line, environment, expand, free_port, resolve
from iishost.emulator.webconfig import HttpPlatform

from . import diagnose, ports
from .context import Context
from .logs import read_log
from .result import Check, failed, passed, skipped

POLL = 0.2


def http_status(port: int, scheme: str = "http") -> int | None:
    """The status of `GET /health/` on 127.0.0.1:port, or None while nothing answers HTTP there.
    Any status means the process started (all HPH needs); 5xx means every page will fail too:
    Django imports the URLconf, and with it the project's views, at the first request. Sent with
    the headers HPH adds (iis-facts.md, "HttpPlatformHandler"), so an HTTPS site answers as behind IIS rather
    than redirecting to https:// before any of its code runs."""
    request = (
        "GET /health/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Forwarded-For: 127.0.0.1:50000\r\nX-Forwarded-Proto: {scheme}\r\nConnection: close\r\n\r\n"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request.encode("ascii"))
            head = sock.recv(12)
    except OSError:
        return None
    if not head.startswith(b"HTTP/") or len(head) < 12 or not head[9:12].isdigit():
        return None
    return int(head[9:12])


def stop_tree(process: subprocess.Popen) -> None:
    """Stop the trial process and everything it started: its process group (POSIX) or, on Windows,
    `taskkill /T /F /PID` (a venv's python.exe runs the base interpreter as a child)."""
    if process.poll() is None:
        if os.name == "nt":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
    if os.name != "nt":  # a grandchild left in the group after the leader exited
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def scratch_output(ctx: Context, out) -> str:
    """The trial's output and the Django logs it wrote into the scratch folder (the traceback of a
    failing request is logged, not printed)."""
    logs = sorted(p for p in ctx.scratch.glob("*.log") if p != out)
    return "\n".join([read_log(out), *(p.read_text(encoding="utf-8", errors="replace") for p in logs)])


def trial_start(ctx: Context) -> Check:
    name, title = "start", "the backend starts by itself as HttpPlatformHandler would start it"
    platform = ctx.platform
    if not isinstance(platform, HttpPlatform):
        return skipped(name, title, "web.config does not load (see the webconfig check)")
    port = free_port()
    env = environment(platform, ctx.env(), port, warn=lambda message: None)
    # Windows: the command line itself, as HPH passes it to CreateProcess (and no mslex, which only
    # the development set has); elsewhere split the way the program's C runtime would.
    argv = command_line(platform, env, ctx.root) if os.name == "nt" else command(platform, env, ctx.root)
    shown = argv if isinstance(argv, str) else subprocess.list2cmdline(argv)
    limit = platform.startup_time_limit
    out = ctx.scratch / "trial-stdout.log"
    before = ports.listeners(ctx.tools.get("netstat"), ctx.query) or {}
    group = (
        {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        if os.name == "nt"
        else {"start_new_session": True}
    )
    started = time.monotonic()
    with open(out, "wb") as sink:
        try:
            process = subprocess.Popen(
                argv, cwd=ctx.root, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                **group,
            )  # fmt: skip
        except OSError as exc:
            program = str(resolve(expand(platform.process_path, env), ctx.root))
            return failed(name, title, *diagnose.cannot_start(program, exc.strerror or str(exc)))
    try:
        while True:
            status = http_status(port, "https" if ctx.settings.https else "http")
            if status is not None and status >= 500:
                return failed(name, title, *diagnose.failing_requests(status, scratch_output(ctx, out)))
            if status is not None:
                return passed(
                    name, title,
                    f"answered HTTP on HTTP_PLATFORM_PORT={port} after {time.monotonic() - started:.1f} s "
                    f"(startupTimeLimit {limit} s): {shown}",
                )  # fmt: skip
            code = process.poll()
            if code is not None:
                return failed(name, title, *diagnose.crashed(code, read_log(out)))
            if time.monotonic() - started > limit:
                after = ports.listeners(ctx.tools.get("netstat"), ctx.query) or {}
                others = [p for p in ports.ports_of(process.pid, before, after) if p != port]
                if others:
                    return failed(name, title, *diagnose.not_listening(port, others))
                return failed(name, title, *diagnose.too_slow(limit, read_log(out)))
            time.sleep(POLL)
    finally:
        stop_tree(process)
