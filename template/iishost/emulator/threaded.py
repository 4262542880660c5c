"""The emulator on its own event loop in a thread, for synchronous callers (tests, scripts)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from .site import Emulator


class RunningEmulator:
    """A started emulator: `url`, the `emulator` itself, and `call(coroutine)` to run on its loop."""

    def __init__(self, emulator: Emulator, loop: asyncio.AbstractEventLoop, port: int):
        self.emulator, self.loop, self.port = emulator, loop, port
        self.url = f"http://127.0.0.1:{port}"

    def call(self, coroutine, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextlib.contextmanager
def run_in_thread(site_root: Path | str, port: int = 0, **options) -> Iterator[RunningEmulator]:
    """Start an Emulator(site_root, **options) on 127.0.0.1:port; stop it and its processes after."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="iis-emulator", daemon=True)
    thread.start()
    running = None
    try:
        emulator = asyncio.run_coroutine_threadsafe(_make(site_root, options), loop).result(30)
        running = RunningEmulator(emulator, loop, 0)
        running.port = running.call(emulator.start("127.0.0.1", port), timeout=30)
        running.url = f"http://127.0.0.1:{running.port}"
        yield running
    finally:
        if running:
            running.call(running.emulator.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


async def _make(site_root, options) -> Emulator:
    return Emulator(site_root, **options)  # asyncio objects bind to the running loop
