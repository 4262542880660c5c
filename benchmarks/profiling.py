"""Where one uvicorn process's time goes under load, with the fast handler (benchmarks/profile.md).

    .venv/bin/python -m pip install py-spy      # once, into the maintainers' venv
    .venv/bin/python -m benchmarks.profiling [--seconds 15] [--connections 32]

Renders and bootstraps a project (defaults, uv), deploys it as `invoke bench` does, then for each
path starts one process exactly as web.config does (ASGI_FAST=1, `taskset -c 0`), drives it with
wrk (`taskset -c 1`) and samples it with `py-spy record --gil` (py-spy on CPU 1 too): only the
thread holding the GIL is sampled, so the shares are shares of the process's Python CPU time.
Each sample goes to the component of its innermost frame that belongs to one (a standard-library
frame, asyncio's included, counts for its caller): the event loop and uvicorn/httptools; the
handler (iishost/asgi_handler.py, asgiref's hops whoever calls them, and the thread-pool hand-off:
concurrent.futures, threading, queue); Django, split by phase. Also measured: throughput without
the profiler, and the server's CPU use.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from benchmarks.load import run_wrk
from benchmarks.run import (
    PIN_SERVER,
    PIN_WRK,
    bootstrap,
    copier_copy,
    deploy_for_bench,
    machine,
    python_of,
    webconfig_servers,
)
from benchmarks.servers import started, wait_for_200

PATHS = {"/admin/login/": "/admin/login/", "minimal sync view": "/bench/sync/", "async minimal": "/health/"}

# Top-level components, matched on py-spy's short file names ("django/urls/resolvers.py"). asyncio
# and selectors are standard library: an asyncio frame counts for whoever called it (asgiref's
# shield and run_in_executor, Django's create_task), and the loop's own scheduling (run_forever,
# _run_once, select) for uvicorn, whose Server.run is at the bottom of the main thread's stack.
LOOP = ("uvicorn/", "httptools/", "h11/", "uvloop/", "click/")
HANDLER = ("iishost/", "asgiref/", "concurrent/futures/", "threading.py", "queue.py")
DJANGO = ("django/", "my_site/")
# Django's phases, innermost first wins; other Django frames (utils, http, dispatch, db) are neutral.
VIEW = ("django/views/", "django/contrib/admin/", "django/forms/")
MIDDLEWARE = ("django/middleware/", "django/contrib/sessions/", "django/contrib/messages/")
AUTH_MIDDLEWARE = ("django/contrib/auth/middleware.py", "django/utils/deprecation.py")
PHASES = (
    ("templates", ("django/template/", "django/templatetags/")),
    ("middleware (incl. sessions)", (*MIDDLEWARE, *AUTH_MIDDLEWARE)),  # before auth/ below
    ("view (admin login view, its form; minimal views)", (*VIEW, "django/contrib/auth/", "my_site/")),
    ("URL resolving", ("django/urls/",)),
    ("ASGIHandler request/response (django/core/handlers/asgi.py)", ("django/core/handlers/asgi.py",)),
    ("handler chain (django/core/handlers/base.py, exception.py)", ("django/core/handlers/",)),
)  # fmt: skip


def frame_file(frame: str) -> str:
    """ "SyncToAsync.__call__ (asgiref/sync.py:526)" -> "asgiref/sync.py"."""
    inside = frame.rpartition(" (")[2].rstrip(")")
    return inside.rpartition(":")[0] or inside


def _first(frames: list[str], rules) -> str | None:
    for frame in reversed(frames):  # innermost first
        path = frame_file(frame)
        for name, prefixes in rules:
            if any(path.startswith(p) or f"/{p}" in path for p in prefixes):
                return name
    return None


def classify(stack: str) -> tuple[str, str | None]:
    """(component, Django phase or None) of one collapsed stack "outer;...;inner"."""
    frames = stack.split(";")
    component = _first(frames, (("django", DJANGO), ("handler", HANDLER), ("loop", LOOP))) or "other"
    phase = (
        (_first(frames, PHASES) or "other Django (http, utils, signals, db)")
        if component == "django"
        else None
    )
    return component, phase


def shares(raw: str) -> dict:
    """Sample counts per component and per Django phase from py-spy's raw (collapsed) output."""
    components: Counter = Counter()
    phases: Counter = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        component, phase = classify(stack)
        components[component] += int(count)
        if phase:
            phases[phase] += int(count)
    return {
        "samples": sum(components.values()),
        "components": dict(components),
        "django_phases": dict(phases),
    }


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def profile_path(project: Path, path: str, seconds: int, connections: int, py_spy: str) -> dict:
    server = webconfig_servers(project, 1, {"ASGI_FAST": "1"}, PIN_SERVER)[0]
    url = server.base_url + path
    with started(server) as process:
        wait_for_200(url, 60, process)
        run_wrk(url, seconds=2, connections=connections, threads=1, cpus=PIN_WRK)  # warm-up
        cpu_before, wall_before = cpu_seconds(process.pid), time.perf_counter()
        plain = run_wrk(url, seconds=seconds, connections=connections, threads=1, cpus=PIN_WRK)
        cpu_after, wall = cpu_seconds(process.pid), time.perf_counter() - wall_before
        user, system = ((after - before) / wall for after, before in zip(cpu_after, cpu_before, strict=True))
        loaded: dict = {}
        load = threading.Thread(
            target=lambda: loaded.update(
                r=run_wrk(url, seconds=seconds + 3, connections=connections, threads=1, cpus=PIN_WRK)
            )
        )
        load.start()
        time.sleep(1.5)
        with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
            argv = [py_spy, "record", "--pid", str(process.pid), "--gil", "--nonblocking", "--rate", "250"]
            argv += ["--duration", str(seconds), "--format", "raw", "--output", out.name]
            subprocess.run(["taskset", "-c", PIN_WRK, *argv], check=True, capture_output=True)
            raw = Path(out.name).read_text()
        load.join()
    return {
        "path": path,
        "req_per_s_without_profiler": plain.requests_per_second,
        "p99_ms_without_profiler": plain.p99_ms,
        "req_per_s_with_profiler": loaded["r"].requests_per_second,
        "server_cpu_cores_without_profiler": round(user + system, 3),
        "server_cpu_user_system": [round(user, 3), round(system, 3)],
        "possible_samples": seconds * 250,
        **shares(raw),
    }


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def summary(results: dict[str, dict]) -> str:
    lines = []
    for label, r in results.items():
        total = r["samples"]
        c = r["components"]
        cpu = r["server_cpu_cores_without_profiler"]
        user, system = r["server_cpu_user_system"]
        lines.append(
            f"{label} ({r['path']}): {r['req_per_s_without_profiler']:,.0f} req/s without the profiler "
            f"(p99 {r['p99_ms_without_profiler']:.1f} ms, server CPU {cpu:.2f} cores: user {user:.2f}, "
            f"system {system:.2f}), {r['req_per_s_with_profiler']:,.0f} with it; {total} GIL samples "
            f"of {r['possible_samples']} ticks: event loop + "
            f"uvicorn/httptools {percent(c.get('loop', 0), total)}, handler (asgi_handler + asgiref + "
            f"thread hand-off) {percent(c.get('handler', 0), total)}, "
            f"Django {percent(c.get('django', 0), total)}, other {percent(c.get('other', 0), total)}"
        )
        for phase, count in sorted(r["django_phases"].items(), key=lambda kv: -kv[1]):
            lines.append(f"    Django: {phase} {percent(count, total)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not py_spy:
        raise SystemExit("py-spy is not installed: `.venv/bin/python -m pip install py-spy`.")
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        project = Path(tmp) / "project"
        copier_copy(project)
        bootstrap(project, uv=True)
        deploy_for_bench(project)
        results = {
            label: profile_path(project, path, args.seconds, args.connections, py_spy)
            for label, path in PATHS.items()
        }
        report = {"machine": machine(python_of(project)), "seconds": args.seconds, "results": results}
    print(json.dumps(report, indent=2))
    print(summary(results))
    return report


if __name__ == "__main__":
    main()
