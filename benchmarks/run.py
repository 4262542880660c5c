"""`invoke bench`: a generated project as web.config starts it, against WSGI and the usual recipe.

Side by side, in one run, on loopback, each load bounded in time (wrk, 32 connections):
  1. the generated project exactly as its web.config starts it (same interpreter and arguments),
  2. the same project's WSGI application under waitress with 4 threads (and gunicorn sync, 1 worker),
  3. a plain `startproject` under `uvicorn proj.asgi:application` (the usual blog recipe),
on /admin/login/ (full middleware stack, sessions, CSRF, templates) and on a minimal view. Also:
cold start, `copier copy`, `bootstrap.py` with uv and with pip, `invoke --list`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.load import LoadResult, run_wrk
from benchmarks.report import markdown_table, update_readme
from benchmarks.servers import Server, free_port, serving

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
VENV_BIN = "Scripts" if os.name == "nt" else "bin"

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
    invoke = project / ".venv" / VENV_BIN / "invoke"
    timings["invoke --list"] = statistics.median(timed([invoke, "--list"], cwd=project) for _ in range(5))
    return project, timings


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


def webconfig_servers(project: Path) -> list[Server]:
    """The process(es) HttpPlatformHandler would start, read from the project's own web.config."""
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    from iishost.emulator import webconfig  # the generated project's own reader, not a copy

    platform_config = webconfig.load_http_platform(project / "web.config")
    assert platform_config.process_path == r".\.venv\Scripts\python.exe", platform_config.process_path
    servers = []
    for index in range(platform_config.processes_per_application):
        port = free_port()
        args = platform_config.arguments.replace("%HTTP_PLATFORM_PORT%", str(port)).split()
        env = {**platform_config.environment_variables, "HTTP_PLATFORM_PORT": str(port)}
        servers.append(
            Server(f"project, process {index + 1}", [str(python_of(project)), *args], project, port, env)
        )
    return servers


def configurations(project: Path, recipe: Path) -> dict[str, tuple[list[Server], dict[str, str]]]:
    """name -> (servers, {endpoint label: path})."""
    python = str(python_of(project))
    project_paths = {
        "/admin/login/": "/admin/login/",
        "minimal (async)": "/health/",
        "minimal (sync)": "/bench/sync/",
    }
    wsgi_env = {"DJANGO_SETTINGS_MODULE": "my_site.settings"}
    waitress_port, gunicorn_port, recipe_port = free_port(), free_port(), free_port()
    as_configured = webconfig_servers(project)
    # With processesPerApplication > 1, also one of those processes alone: the per-process figure
    # to compare with the one-process servers below.
    one_process = {"project, one of its processes": ([as_configured[0]], project_paths)}
    return {
        "project as web.config starts it": (as_configured, project_paths),
        **(one_process if len(as_configured) > 1 else {}),
        "same project, WSGI, waitress 4 threads": (
            [
                Server(
                    "waitress",
                    [
                        python,
                        "-m",
                        "waitress",
                        "--threads=4",
                        "--host=127.0.0.1",
                        f"--port={waitress_port}",
                        "--call",
                        "django.core.wsgi:get_wsgi_application",
                    ],
                    project,
                    waitress_port,
                    wsgi_env,
                )
            ],
            project_paths,
        ),
        "same project, WSGI, gunicorn sync 1 worker": (
            [
                Server(
                    "gunicorn",
                    [
                        python,
                        "-m",
                        "gunicorn",
                        "--workers=1",
                        "--worker-class=sync",
                        f"--bind=127.0.0.1:{gunicorn_port}",
                        "django.core.wsgi:get_wsgi_application()",
                    ],
                    project,
                    gunicorn_port,
                    wsgi_env,
                )
            ],
            project_paths,
        ),
        "usual recipe: startproject + uvicorn": (
            [
                Server(
                    "recipe",
                    [
                        python,
                        "-m",
                        "uvicorn",
                        "proj.asgi:application",
                        "--http",
                        "h11",
                        "--port",
                        str(recipe_port),
                    ],
                    recipe,
                    recipe_port,
                )
            ],
            {"/admin/login/": "/admin/login/", "minimal (sync)": "/minimal/"},
        ),
    }


def load_many(servers: list[Server], path: str, seconds: int, connections: int) -> LoadResult:
    """wrk against each process at once, connections split evenly: HttpPlatformHandler's
    round-robin over processesPerApplication, approximated. Throughput adds up; p50 is the mean
    and p99 the worst of the processes."""
    share = max(1, connections // len(servers))
    with ThreadPoolExecutor(len(servers)) as pool:
        results = list(
            pool.map(lambda s: run_wrk(s.base_url + path, seconds=seconds, connections=share), servers)
        )
    return LoadResult(
        requests_per_second=sum(r.requests_per_second for r in results),
        p50_ms=statistics.mean(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        requests=sum(r.requests for r in results),
    )


def measure(servers: list[Server], path: str, seconds: int, runs: int, connections: int) -> LoadResult:
    """Median run by throughput, after a short warm-up."""
    load_many(servers, path, 2, connections)
    results = sorted(
        (load_many(servers, path, seconds, connections) for _ in range(runs)),
        key=lambda r: r.requests_per_second,
    )
    return results[len(results) // 2]


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
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        print("preparing a generated project and the recipe project ...", flush=True)
        project, timings = prepare_project(work)
        recipe = prepare_recipe(work, python_of(project))
        timings["cold start, spawn to first 200 (median of 5)"] = cold_start(project)
        rows = []
        for name, (servers, paths) in configurations(project, recipe).items():
            with contextlib.ExitStack() as stack:
                for server in servers:
                    stack.enter_context(serving(server, next(iter(paths.values()))))
                for label, path in paths.items():
                    print(f"  {name}: {label} ...", flush=True)
                    result = measure(servers, path, seconds, runs, connections)
                    rows.append(
                        {
                            "configuration": name,
                            "endpoint": label,
                            "processes": len(servers),
                            **asdict(result),
                        }
                    )
        report = {
            "machine": machine(python_of(project)),
            "method": f"wrk, {connections} connections, 2 threads, {seconds} s per run, "
            f"median of {runs} runs after a 2 s warm-up; one server process unless noted; loopback",
            "load": rows,
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
