"""Copied into the benchmark's copy of the generated project as `bench_app.py`; uvicorn serves
`bench_app:application` with web.config's other arguments unchanged.

`application` is the project's own object (`<project>.asgi:application`, found from
DJANGO_SETTINGS_MODULE), not a wrapper around it: the request path is the same. If the handler
counts which path served each request (FastASGIHandler.routes, a Counter of "sync", "async",
"django"), a daemon thread writes the counts as JSON to $BENCH_ROUTES_FILE every quarter second
and once more at exit, so the harness can read them between measurements.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import threading
import time

_settings = os.environ.get("DJANGO_SETTINGS_MODULE", "")
application = importlib.import_module(_settings.rpartition(".")[0] + ".asgi").application


def find_routes(app) -> dict | None:
    """The handler's Counter, also behind wrappers: ASGIStaticFilesHandler (DEBUG only) keeps the
    wrapped app as `.application`, iishost.forwarded.ForwardedHeaders (and most ASGI middleware)
    as `.app`."""
    for _ in range(4):
        routes = getattr(app, "routes", None)
        if routes is not None:
            return routes
        app = getattr(app, "application", None) or getattr(app, "app", None)
        if app is None:
            return None
    return None


def snapshot(routes) -> dict[str, int]:
    for _ in range(10):  # the event loop may add a key while this thread copies
        try:
            return {str(key): int(value) for key, value in dict(routes).items()}
        except RuntimeError:
            time.sleep(0.001)
    return {}


_lock = threading.Lock()
_final = threading.Event()


def write(path: str, routes, final: bool = False) -> None:
    """Replace the file atomically; after the final (atexit) write, the thread writes no more."""
    with _lock:
        if _final.is_set():
            return
        data = {"exposed": routes is not None, "routes": snapshot(routes) if routes is not None else {}}
        temporary = f"{path}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(data, file)
        os.replace(temporary, path)
        if final:
            _final.set()


def _keep_writing(path: str) -> None:
    last = None
    while not _final.is_set():
        routes = find_routes(application)  # looked up again: a handler may create it late
        current = snapshot(routes) if routes is not None else None
        if current != last:
            write(path, routes)
            last = current
        time.sleep(0.25)


_path = os.environ.get("BENCH_ROUTES_FILE")
if _path:
    write(_path, find_routes(application))
    atexit.register(lambda: write(_path, find_routes(application), final=True))
    threading.Thread(target=_keep_writing, args=(_path,), daemon=True).start()
