"""`invoke bench`: a generated project as web.config starts it, against WSGI and the usual recipe.

One run prints (and writes to benchmarks/results/latest.{json,md}) two tables, each on
/admin/login/ (full middleware stack, sessions, CSRF, templates), a minimal sync view and the
project's async /health/, on loopback, each load bounded in time (wrk):

1. Per process (N=1). The server on CPU 0 (`taskset -c 0`), wrk on CPU 1 (`taskset -c 1`) when
   the machine has two CPUs or more (the caption says "not pinned" otherwise):
   the project's uvicorn command exactly as web.config starts it but with one process, with
   Django's stock ASGI handler (ASGI_FAST=0) and with iishost/asgi_handler.py's FastASGIHandler
   (ASGI_FAST=1); the same project's WSGI application under gunicorn sync with 1 worker and under
   waitress with 4 threads; a plain `startproject` under `uvicorn proj.asgi:application`.
2. Equal process counts, N = web.config's processesPerApplication, not pinned (servers and wrk
   share the cores). HttpPlatformHandler starts N separate processes, each on its own port, and
   balances requests over them; emulated as N processes on N ports, each driven by its own wrk
   with connections/N, req/s summed and the worst p99 kept. The same for N waitress processes
   (4 threads each). gunicorn runs its own way, N sync workers sharing one port, loaded by the
   same N wrk processes on that port. (uvicorn --workers would share one port too, but that is
   not how web.config runs it.)

Each cell is the median of `runs` runs of `seconds` s after a 2 s warm-up; the runs are
interleaved across the section's cells (every server of a section is up at once, only the one
under load works), so a machine whose speed drifts shifts every configuration alike. No figure compares
one configuration with another by a ratio, and none compares N processes with 1. Under the
tables: the targets for the fast handler's process, computed from the per-process figures
(benchmarks/report.py), and how many requests each of its paths served (FastASGIHandler.routes,
read through benchmarks/bench_app.py). Also: cold start, `copier copy`, `bootstrap.py` with uv and
with pip, `invoke --list`. Where one process's time goes: benchmarks/profiling.py, profile.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.load import LoadResult, combine, median_of, run_wrk
from benchmarks.report import (
    EQUAL,
    FAST,
    GUNICORN,
    PER_PROCESS,
    RECIPE,
    STOCK,
    WAITRESS,
    markdown_table,
    update_readme,
)
from benchmarks.servers import Server, free_port, serving

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
VENV_BIN = "Scripts" if os.name == "nt" else "bin"
PIN_SERVER, PIN_WRK = "0", "1"  # taskset -c: server process(es) on CPU 0, wrk on CPU 1
WSGI_ENV = {"DJANGO_SETTINGS_MODULE": "my_site.settings"}

# A sync twin of the project's async /health/ view, added to the benchmark's copy only, so the
# table shows whether async views keep up with sync ones.
SYNC_TWIN = """
from django.http import HttpResponse as _HttpResponse


def _bench_sync_minimal(request):
    return _HttpResponse("ok", content_type="text/plain")


urlpatterns.append(path("bench/sync/", _bench_sync_minimal))
"""
RECIPE_VIEW = """
from django.http import HttpResponse


def minimal(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns.append(path("minimal/", minimal))
"""


def timed(argv: list[str | Path], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - start


def copier_copy(dest: Path) -> float:
    copier = Path(sys.executable).parent / "copier"
    return timed(
        [copier, "copy", "--quiet", "--trust", "--defaults", "--vcs-ref", "HEAD", ROOT, dest], cwd=ROOT
    )


def bootstrap(project: Path, uv: bool) -> float:
    env = {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    return timed([sys.executable, "bootstrap.py", *([] if uv else ["--no-uv"])], cwd=project, env=env)


def python_of(project: Path) -> Path:
    return project / ".venv" / VENV_BIN / "python"


def prepare_project(work: Path) -> tuple[Path, dict[str, float]]:
    """Render and bootstrap as a user would, timing each step; then do what `invoke deploy` does."""
    timings = {}
    project = work / "project"
    timings["copier copy (defaults)"] = statistics.median(copier_copy(work / f"copy{i}") for i in range(3))
    copier_copy(project)
    timings["bootstrap.py with pip (fresh venv)"] = bootstrap(work / "copy0", uv=False)
    timings["bootstrap.py with uv (fresh venv)"] = bootstrap(project, uv=True)
    deploy_for_bench(project)
    invoke = project / ".venv" / VENV_BIN / "invoke"
    timings["invoke --list"] = statistics.median(timed([invoke, "--list"], cwd=project) for _ in range(5))
    return project, timings


def deploy_for_bench(project: Path) -> None:
    """What `invoke deploy` does (migrate, collectstatic, compile), plus the WSGI servers, the sync
    twin of /health/ and bench_app.py in this copy only."""
    python = python_of(project)
    subprocess.run(
        [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", python, "waitress", "gunicorn"],
        check=True,
    )
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([python, "manage.py", *step], cwd=project, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([python, "-m", "compileall", "-q", "my_site"], cwd=project, check=True)
    with (project / "my_site" / "urls.py").open("a", encoding="utf-8") as urls:
        urls.write(SYNC_TWIN)
    shutil.copyfile(Path(__file__).with_name("bench_app.py"), project / "bench_app.py")


def prepare_recipe(work: Path, python: Path) -> Path:
    """The blog recipe: startproject, DEBUG off, one host, a minimal view; nothing else changed."""
    recipe = work / "recipe"
    recipe.mkdir()
    subprocess.run([python, "-m", "django", "startproject", "proj", "."], cwd=recipe, check=True)
    settings = recipe / "proj" / "settings.py"
    text = settings.read_text(encoding="utf-8").replace("DEBUG = True", "DEBUG = False")
    settings.write_text(text.replace("ALLOWED_HOSTS = []", "ALLOWED_HOSTS = ['127.0.0.1']"), encoding="utf-8")
    with (recipe / "proj" / "urls.py").open("a", encoding="utf-8") as urls:
        urls.write(RECIPE_VIEW)
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput"], cwd=recipe, check=True, stdout=subprocess.DEVNULL
    )
    return recipe


def webconfig_servers(
    project: Path,
    processes: int | None = None,
    env: dict[str, str] | None = None,
    cpus: str | None = None,
    app: str | None = None,
    routes_dir: Path | None = None,
) -> list[Server]:
    """The process(es) HttpPlatformHandler would start, read from the project's own web.config:
    its interpreter, arguments and environment variables, each process on its own port. `processes`
    overrides processesPerApplication; `env` adds variables; `app` replaces the ASGI application
    argument (the benchmark's bench_app:application, the same object); `routes_dir` makes each
    process write its handler's route counts there."""
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    from iishost.emulator import webconfig  # the generated project's own reader, not a copy

    platform_config = webconfig.load_http_platform(project / "web.config")
    assert platform_config.process_path == r".\.venv\Scripts\python.exe", platform_config.process_path
    count = platform_config.processes_per_application if processes is None else processes
    servers = []
    for index in range(count):
        port = free_port()
        args = platform_config.arguments.replace("%HTTP_PLATFORM_PORT%", str(port)).split()
        if app is not None:
            args = [app if arg.endswith(".asgi:application") else arg for arg in args]
        extra = dict(env or {})
        if routes_dir is not None:
            extra["BENCH_ROUTES_FILE"] = str(routes_dir / f"routes-{port}.json")
        server_env = {**platform_config.environment_variables, **extra, "HTTP_PLATFORM_PORT": str(port)}
        servers.append(
            Server(
                f"project, process {index + 1}",
                [str(python_of(project)), *args],
                project,
                port,
                server_env,
                cpus,
            )
        )
    return servers


def processes_per_application(project: Path) -> int:
    return len(webconfig_servers(project))


def gunicorn(project: Path, workers: int, cpus: str | None = None) -> Server:
    port = free_port()
    argv = [
        str(python_of(project)),
        "-m",
        "gunicorn",
        f"--workers={workers}",
        "--worker-class=sync",
        f"--bind=127.0.0.1:{port}",
        "django.core.wsgi:get_wsgi_application()",
    ]
    return Server(f"gunicorn sync {workers}", argv, project, port, WSGI_ENV, cpus)


def waitress(project: Path, cpus: str | None = None) -> Server:
    port = free_port()
    argv = [
        str(python_of(project)),
        "-m",
        "waitress",
        "--threads=4",
        "--host=127.0.0.1",
        f"--port={port}",
        "--call",
        "django.core.wsgi:get_wsgi_application",
    ]
    return Server("waitress", argv, project, port, WSGI_ENV, cpus)


def recipe_server(recipe: Path, python: Path, cpus: str | None = None) -> Server:
    """`uvicorn proj.asgi:application` as a plain `pip install uvicorn` runs it (h11, no extras)."""
    port = free_port()
    argv = [str(python), "-m", "uvicorn", "proj.asgi:application", "--http", "h11", "--port", str(port)]
    return Server("recipe", argv, recipe, port, {}, cpus)


@dataclass(eq=False)  # a cell's key: each configuration is itself
class Configuration:
    section: str  # report.PER_PROCESS or report.EQUAL
    role: str  # report.FAST, STOCK, GUNICORN, WAITRESS, RECIPE: what the targets look up
    name: str
    servers: list[Server]
    paths: dict[str, str]  # endpoint key (report.ENDPOINTS) -> URL path
    # One wrk per listening port (HttpPlatformHandler balances over its processes' ports); gunicorn's
    # workers share one port, so it gets the same wrk processes all on that port.
    targets: list[Server] = field(default_factory=list)


def configurations(project: Path, recipe: Path, routes_dir: Path) -> list[Configuration]:
    python = python_of(project)
    n = processes_per_application(project)
    project_paths = {"admin": "/admin/login/", "sync": "/bench/sync/", "async": "/health/"}
    recipe_paths = {"admin": "/admin/login/", "sync": "/minimal/"}
    pin = PIN_SERVER if pinning() else None
    stock, fast = {"ASGI_FAST": "0"}, {"ASGI_FAST": "1"}
    uvicorn_kwargs = {"app": "bench_app:application", "routes_dir": routes_dir}
    per_process = [
        Configuration(
            PER_PROCESS,
            STOCK,
            "project: uvicorn as web.config, 1 process, stock handler (ASGI_FAST=0)",
            webconfig_servers(project, 1, stock, pin, **uvicorn_kwargs),
            project_paths,
        ),
        Configuration(
            PER_PROCESS,
            FAST,
            "project: uvicorn as web.config, 1 process, fast handler (ASGI_FAST=1)",
            webconfig_servers(project, 1, fast, pin, **uvicorn_kwargs),
            project_paths,
        ),
        Configuration(
            PER_PROCESS,
            GUNICORN,
            "same project: gunicorn sync, 1 worker",
            [gunicorn(project, 1, pin)],
            project_paths,
        ),
        Configuration(
            PER_PROCESS,
            WAITRESS,
            "same project: waitress, 1 process, 4 threads",
            [waitress(project, pin)],
            project_paths,
        ),
        Configuration(
            PER_PROCESS,
            RECIPE,
            "usual recipe: startproject + uvicorn",
            [recipe_server(recipe, python, pin)],
            recipe_paths,
        ),
    ]
    shared_gunicorn = gunicorn(project, n)
    equal = [
        Configuration(
            EQUAL,
            STOCK,
            f"project: uvicorn as web.config, {n} processes, stock handler (ASGI_FAST=0)",
            webconfig_servers(project, n, stock, **uvicorn_kwargs),
            project_paths,
        ),
        Configuration(
            EQUAL,
            FAST,
            f"project: uvicorn as web.config, {n} processes, fast handler (ASGI_FAST=1)",
            webconfig_servers(project, n, fast, **uvicorn_kwargs),
            project_paths,
        ),
        Configuration(
            EQUAL,
            GUNICORN,
            f"same project: gunicorn sync, {n} workers (one port)",
            [shared_gunicorn],
            project_paths,
            [shared_gunicorn] * n,
        ),
        Configuration(
            EQUAL,
            WAITRESS,
            f"same project: waitress, {n} processes, 4 threads each",
            [waitress(project) for _ in range(n)],
            project_paths,
        ),
    ]
    return per_process + equal


def pinning() -> bool:
    """Server and wrk on separate cores, when there are at least two."""
    return (os.cpu_count() or 1) >= 2 and sys.platform.startswith("linux")


def load_many(
    targets: list[Server], path: str, seconds: int, connections: int, cpus: str | None
) -> LoadResult:
    """One wrk per target at once, the connections split evenly: HttpPlatformHandler's balancing
    over processesPerApplication ports, approximated. About two wrk threads in all (one when wrk
    is pinned to one core)."""
    share = max(1, connections // len(targets))
    threads = 1 if cpus is not None else max(1, 2 // len(targets))
    with ThreadPoolExecutor(len(targets)) as pool:
        results = list(
            pool.map(
                lambda s: run_wrk(
                    s.base_url + path, seconds=seconds, connections=share, threads=threads, cpus=cpus
                ),
                targets,
            )
        )
    return combine(results)


def measure_interleaved(
    configs: list[Configuration],
    seconds: int,
    runs: int,
    connections: int,
    cpus: str | None,
    unmeasured: list[str],
) -> dict[tuple[Configuration, str, str], tuple[list[LoadResult], dict[str, int] | None]]:
    """Every cell (configuration, endpoint) warmed up for 2 s, then run 1 of every cell, run 2 of
    every cell, and so on: a machine whose speed drifts (a VM's neighbours) shifts all
    configurations alike instead of whichever happened to run then. A cell wrk cannot measure is
    listed in `unmeasured` and dropped. Returns each cell's runs and its route-count delta."""
    cells = {
        (config, endpoint, path): config.targets or config.servers
        for config in configs
        for endpoint, path in config.paths.items()
    }
    results: dict = {cell: [] for cell in cells}
    routes: dict = {cell: None for cell in cells}
    for round_ in range(-1, runs):  # round -1: the warm-up
        for cell, targets in list(cells.items()):
            config, _, path = cell
            what = "warm-up" if round_ < 0 else f"run {round_ + 1}"
            print(f"  [{config.section}] {config.name}: {path} ({what})", flush=True)
            before = read_routes(config.servers)
            try:
                result = load_many(targets, path, 2 if round_ < 0 else seconds, connections, cpus)
            except (ValueError, subprocess.SubprocessError) as error:  # one cell, not the run
                print(f"    not measured: {error}", flush=True)
                unmeasured.append(f"{config.name}, {path}: {str(error).splitlines()[0]}")
                del cells[cell], results[cell]
                continue
            time.sleep(0.6)  # bench_app writes the counts every 0.25 s
            delta = routes_delta(before, read_routes(config.servers))
            if delta is not None:
                total = routes[cell] or {}
                routes[cell] = {
                    key: total.get(key, 0) + delta.get(key, 0) for key in total.keys() | delta.keys()
                }
            if round_ >= 0:
                results[cell].append(result)
    return {cell: (results[cell], routes[cell]) for cell in results}


def read_routes(servers: list[Server]) -> dict[str, int] | None:
    """The route counts the servers' bench_app wrote, summed; None if the handler exposes none."""
    total: Counter = Counter()
    exposed = False
    for server in servers:
        path = server.env.get("BENCH_ROUTES_FILE")
        if not path or not Path(path).exists():
            continue
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        exposed = exposed or data["exposed"]
        total.update(data["routes"])
    return dict(total) if exposed else None


def routes_delta(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, int] | None:
    if after is None:
        return None
    return {key: value - (before or {}).get(key, 0) for key, value in after.items()}


def cold_start(project: Path, repeats: int = 5) -> float:
    """Spawn to first 200 on /health/, as HttpPlatformHandler's startupTimeLimit counts it."""
    samples = []
    for _ in range(repeats):
        server = webconfig_servers(project)[0]
        with serving(server, "/health/") as seconds:
            samples.append(seconds)
    return statistics.median(samples)


def machine(python: Path) -> dict[str, str]:
    versions = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "('django', 'uvicorn', 'httptools', 'waitress', 'gunicorn', 'asgiref')}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} ({os.cpu_count()} cores)",
        "os": platform.platform(),
        "python": platform.python_version(),
        **json.loads(versions),
    }


def main(seconds: int = 10, runs: int = 3, connections: int = 32, readme: bool = True) -> dict:
    pin = pinning()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        print("preparing a generated project and the recipe project ...", flush=True)
        project, timings = prepare_project(work)
        recipe = prepare_recipe(work, python_of(project))
        timings["cold start, spawn to first 200 (median of 5)"] = cold_start(project)
        routes_dir = work / "routes"
        routes_dir.mkdir()
        rows, unmeasured = [], []
        every = configurations(project, recipe, routes_dir)
        for section in (PER_PROCESS, EQUAL):
            configs = [c for c in every if c.section == section]
            wrk_cpus = PIN_WRK if section == PER_PROCESS and pin else None
            with contextlib.ExitStack() as stack:
                for config in configs:  # all up at once; only the one under load works
                    for server in config.servers:
                        stack.enter_context(serving(server, next(iter(config.paths.values()))))
                cells = measure_interleaved(configs, seconds, runs, connections, wrk_cpus, unmeasured)
            for (config, endpoint, path), (all_runs, routes) in cells.items():
                rows.append(
                    {
                        "section": config.section,
                        "role": config.role,
                        "configuration": config.name,
                        "endpoint": endpoint,
                        "path": path,
                        "processes": len(config.servers),
                        **asdict(median_of(all_runs)),
                        "runs": [asdict(r) for r in all_runs],
                        "routes": routes,
                    }
                )
        report = {
            "machine": machine(python_of(project)),
            "connections": connections,
            "seconds": seconds,
            "runs": runs,
            "pinned": pin,
            "cores": os.cpu_count(),
            "processes_per_application": processes_per_application(project),
            "load": rows,
            "unmeasured": unmeasured,
            "timings_s": timings,
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = markdown_table(report)
    (RESULTS / "latest.md").write_text(table, encoding="utf-8")
    print("\n" + table)
    if readme:
        update_readme(ROOT / "README.md", table)
    return report
