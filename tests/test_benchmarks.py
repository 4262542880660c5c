"""The benchmark harness reads wrk correctly and reports what it measured."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from benchmarks import run as bench_run
from benchmarks.load import LoadResult, combine, median_of, parse_wrk, pinned, run_wrk, wrk_argv
from benchmarks.profiling import classify, shares
from benchmarks.report import (
    END,
    EQUAL,
    FAST,
    GUNICORN,
    PER_PROCESS,
    RECIPE,
    START,
    STOCK,
    WAITRESS,
    markdown_table,
    routes_lines,
    targets,
    targets_block,
    update_readme,
)
from benchmarks.run import routes_delta

ROOT = Path(__file__).resolve().parent.parent

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/admin/login/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    85.12ms   20.03ms 310.55ms   80.12%
    Req/Sec   188.61     30.12   250.00     70.00%
  Latency Distribution
     50%   82.40ms
     75%   95.10ms
     90%  110.02ms
     99%    1.21s
  3761 requests in 10.02s, 14.50MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:    375.37
Transfer/sec:      1.45MB
"""


def test_parse_wrk_reads_throughput_latency_and_every_error():
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests_per_second == 375.37
    assert result.p50_ms == pytest.approx(82.4)
    assert result.p99_ms == pytest.approx(1210.0)
    assert result.errors == 10
    assert result.requests == 3761


def test_parse_wrk_without_errors_and_microseconds():
    clean = WRK_OUTPUT.replace("  Socket errors: connect 0, read 3, write 0, timeout 2\n", "")
    clean = clean.replace("  Non-2xx or 3xx responses: 5\n", "").replace("82.40ms", "950.00us")
    result = parse_wrk(clean)
    assert result.errors == 0
    assert result.p50_ms == pytest.approx(0.95)


def test_parse_wrk_names_output_it_cannot_read():
    """A wrk that died or printed something else is one unmeasured cell with its output, not a
    KeyError that loses the whole run."""
    truncated = WRK_OUTPUT.split("  Latency Distribution")[0]
    with pytest.raises(ValueError, match="no Requests/sec or latency percentiles") as caught:
        parse_wrk(truncated)
    assert "Thread Stats" in str(caught.value)


def test_load_refuses_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        run_wrk("http://10.0.0.1:80/", seconds=1)


def test_pinned_runs_the_command_under_taskset_only_when_asked():
    assert pinned(["wrk", "-c32"], None) == ["wrk", "-c32"]
    if shutil.which("taskset"):
        argv = pinned(["wrk", "-c32"], "1")
        assert argv[1:] == ["-c", "1", "wrk", "-c32"]
        assert argv[0].endswith("taskset")


def test_wrk_arguments_are_bounded(monkeypatch):
    monkeypatch.setattr("benchmarks.load.shutil.which", lambda name: f"/usr/bin/{name}")  # wrk or not
    argv = wrk_argv("http://127.0.0.1:8000/", seconds=7, connections=16, threads=1)
    assert argv[1:] == ["--latency", "-t1", "-c16", "-d7s", "--timeout", "5s", "http://127.0.0.1:8000/"]


def result(rps, p99, errors=0, p50=1.0):
    return LoadResult(requests_per_second=rps, p50_ms=p50, p99_ms=p99, errors=errors, requests=int(rps * 10))


def test_simultaneous_runs_add_throughput_and_keep_the_worst_p99():
    combined = combine([result(100, 50, errors=1, p50=2.0), result(300, 20, errors=2, p50=4.0)])
    assert combined == LoadResult(400, 3.0, 50, 3, 4000)


def test_a_cell_is_the_median_of_each_figure_and_every_error():
    cell = median_of([result(100, 90), result(300, 10, errors=1), result(200, 30)])
    assert (cell.requests_per_second, cell.p99_ms, cell.errors) == (200, 30, 1)


def row(section, role, endpoint, rps, p99, errors=0, processes=1, routes=None):
    names = {
        FAST: "uvicorn, fast handler",
        STOCK: "uvicorn, stock handler",
        GUNICORN: "gunicorn sync",
        WAITRESS: "waitress",
        RECIPE: "recipe",
    }
    paths = {"admin": "/admin/login/", "sync": "/bench/sync/", "async": "/health/"}
    return {
        "section": section,
        "role": role,
        "configuration": f"{names[role]} ({processes})",
        "endpoint": endpoint,
        "path": paths[endpoint],
        "processes": processes,
        "requests_per_second": rps,
        "p50_ms": 1.0,
        "p99_ms": p99,
        "errors": errors,
        "requests": int(rps * 10),
        "routes": routes,
    }


def make_report(**changes):
    load = [
        row(PER_PROCESS, FAST, "admin", 500, 60, routes={"sync": 5000, "async": 0, "django": 0}),
        row(PER_PROCESS, FAST, "sync", 3000, 20, routes={"sync": 30000, "async": 0, "django": 2}),
        row(PER_PROCESS, FAST, "async", 3500, 18, routes={"sync": 0, "async": 35000, "django": 0}),
        row(PER_PROCESS, GUNICORN, "admin", 450, 70),
        row(PER_PROCESS, GUNICORN, "sync", 3200, 15),
        row(PER_PROCESS, WAITRESS, "admin", 400, 150),
        row(PER_PROCESS, WAITRESS, "sync", 2300, 27),
        row(PER_PROCESS, RECIPE, "admin", 190, 210),
        row(EQUAL, FAST, "admin", 950, 90, processes=2, routes={"sync": 9500}),
        row(EQUAL, WAITRESS, "admin", 800, 120, errors=4, processes=2),
    ]
    report = {
        "machine": {
            "date": "d",
            "cpu": "c (2 cores)",
            "os": "o",
            "python": "3",
            "django": "5.2",
            "asgiref": "3.13",
            "uvicorn": "u",
            "httptools": "h",
            "waitress": "w",
            "gunicorn": "g",
        },
        "connections": 32,
        "seconds": 10,
        "runs": 3,
        "pinned": True,
        "cores": 2,
        "processes_per_application": 2,
        "load": load,
        "timings_s": {"copier copy (defaults)": 0.8},
    }
    return {**report, **changes}


def test_table_has_a_pinned_per_process_section_and_an_equal_count_section():
    table = markdown_table(make_report())
    per_process, equal = table.split("**Equal process counts")
    assert "**Per process (N=1)**: server pinned to CPU 0 (`taskset -c 0`), wrk to CPU 1" in per_process
    assert "wrk 32 connections" in per_process and "median of 3 runs of 10 s" in per_process
    assert "| uvicorn, fast handler (1) | 500 | 60.0 | 3,000 | 20.0 | 3,500 | 18.0 | 0 |" in per_process
    assert "| recipe (1) | 190 | 210.0 | - | - | - | - | 0 |" in per_process
    assert "(N=2, web.config's processesPerApplication)**: not pinned" in equal
    assert "16 connections (32 in all)" in equal
    assert "| waitress (2) | 800 | 120.0 | - | - | - | - | 4 |" in equal
    assert "| copier copy (defaults) | 0.80 |" in table
    assert "Django 5.2" in table


def test_an_unmeasured_cell_is_a_dash_with_its_reason():
    report = make_report()
    report["load"] = [r for r in report["load"] if not (r["role"] == GUNICORN and r["endpoint"] == "sync")]
    report["unmeasured"] = ["gunicorn (1), /bench/sync/: wrk's output has no ..."]
    table = markdown_table(report)
    (line,) = [
        line
        for line in table.splitlines()
        if line.startswith(f"| {row(PER_PROCESS, GUNICORN, 'admin', 1, 1)['configuration']} |")
    ]
    assert line.split("|")[2:6] == [" 450 ", " 70.0 ", " - ", " - "]
    assert "Not measured (shown as -):\n\n- gunicorn (1), /bench/sync/: wrk's output" in table


def test_unpinned_machine_says_so():
    assert "not pinned (fewer than 2 CPUs)" in markdown_table(make_report(pinned=False))


def test_no_ratio_anywhere_in_the_table():
    """No figure divides one configuration's result by another's (in particular N processes by 1)."""
    table = markdown_table(make_report())
    assert not re.search(r"\d\.\d+x\b", table)
    assert "vs waitress |" not in table


def test_targets_are_computed_from_the_per_process_figures():
    verdicts = {name: (met, figures) for name, met, figures in targets(make_report())}
    assert verdicts["/admin/login/: req/s >= gunicorn sync 1 worker"] == (True, "500 vs 450 req/s")
    assert verdicts["/admin/login/: req/s >= waitress 4 threads"] == (True, "500 vs 400 req/s")
    assert verdicts["/admin/login/: p99 <= waitress p99"] == (True, "60.0 vs 150.0 ms")
    assert verdicts["minimal sync view: req/s >= gunicorn sync 1 worker"] == (False, "3,000 vs 3,200 req/s")
    assert verdicts["minimal sync view: p99 <= waitress p99"] == (True, "20.0 vs 27.0 ms")
    # The equal-count section's waitress errors are not the fast handler's.
    assert verdicts["0 errors (fast handler, every endpoint)"] == (True, "0 errors")
    assert verdicts["async minimal req/s >= sync minimal req/s (fast handler)"] == (
        True,
        "3,500 vs 3,000 req/s",
    )
    block = "\n".join(targets_block(make_report()))
    assert "- minimal sync view: req/s >= gunicorn sync 1 worker: **missed** (3,000 vs 3,200 req/s)" in block


def test_targets_missing_figures_and_errors():
    report = make_report()
    report["load"] = [r for r in report["load"] if r["role"] != GUNICORN]
    report["load"][0] = {**report["load"][0], "errors": 3}
    verdicts = {name: (met, figures) for name, met, figures in targets(report)}
    assert verdicts["/admin/login/: req/s >= gunicorn sync 1 worker"] == (None, "not measured")
    assert verdicts["0 errors (fast handler, every endpoint)"] == (False, "3 errors")


def test_route_counts_are_reported_per_endpoint():
    lines = "\n".join(routes_lines(make_report()))
    assert "- N=1 /bench/sync/: sync 30,000, async 0, django 2 (of 30,002)" in lines
    assert "- N=2 /admin/login/: sync 9,500, async 0, django 0 (of 9,500)" in lines


def test_route_counts_absent_say_so():
    report = make_report()
    report["load"] = [{**r, "routes": None} for r in report["load"]]
    assert routes_lines(report) == [
        "Fast handler routes: not counted (this render's FastASGIHandler has no `routes`)."
    ]


def test_routes_delta_is_what_one_measurement_added():
    assert routes_delta({"sync": 3}, {"sync": 10, "django": 1}) == {"sync": 7, "django": 1}
    assert routes_delta(None, {"sync": 1}) == {"sync": 1}
    assert routes_delta(None, None) is None


def run_bench_app(tmp_path, asgi_source: str) -> dict:
    (tmp_path / "fakeproj").mkdir()
    (tmp_path / "fakeproj" / "__init__.py").write_text("")
    (tmp_path / "fakeproj" / "asgi.py").write_text(asgi_source)
    shutil.copyfile(ROOT / "benchmarks" / "bench_app.py", tmp_path / "bench_app.py")
    out = tmp_path / "routes.json"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fakeproj.settings",
        "BENCH_ROUTES_FILE": str(out),
        "PYTHONPATH": str(tmp_path),
    }
    code = "import bench_app; bench_app.application.routes['sync'] += 2"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True)
    return json.loads(out.read_text())


def test_bench_app_serves_the_projects_own_object_and_writes_its_routes_at_exit(tmp_path):
    source = "from collections import Counter\nclass App: pass\napplication = App()\n"
    source += "application.routes = Counter(django=1)\n"
    assert run_bench_app(tmp_path, source) == {"exposed": True, "routes": {"django": 1, "sync": 2}}


def test_bench_app_finds_routes_behind_a_wrapper_and_reports_none(tmp_path):
    from importlib import util

    spec = util.spec_from_file_location("bench_app_for_test", ROOT / "benchmarks" / "bench_app.py")
    module = util.module_from_spec(spec)
    inner = types.SimpleNamespace(routes={"sync": 1})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_SETTINGS_MODULE", "fakeapp.settings")
        patch.delenv("BENCH_ROUTES_FILE", raising=False)
        patch.setitem(sys.modules, "fakeapp.asgi", types.SimpleNamespace(application=inner))
        patch.setitem(sys.modules, "fakeapp", types.SimpleNamespace(__path__=[]))
        spec.loader.exec_module(module)
    assert module.find_routes(types.SimpleNamespace(application=inner)) == {"sync": 1}
    # The generated asgi.py's outermost layer, iishost.forwarded.ForwardedHeaders, keeps it as `.app`.
    forwarded = types.SimpleNamespace(app=types.SimpleNamespace(application=inner))
    assert module.find_routes(forwarded) == {"sync": 1}
    assert module.find_routes(types.SimpleNamespace()) is None


STACK = "main (uvicorn/main.py:1);BaseEventLoop._run_once (asyncio/base_events.py:1922)"


@pytest.mark.parametrize(
    ("leaf", "component", "phase"),
    [
        ("", "loop", None),
        (";RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py:498)", "loop", None),
        (";SyncToAsync.__call__ (asgiref/sync.py:580);shield (asyncio/tasks.py:851)", "handler", None),
        (";Worker.submit (iishost/asgi_handler.py:82);RLock (threading.py:101)", "handler", None),
        (
            ";ASGIHandler.handle (django/core/handlers/asgi.py:204);create_task (asyncio/tasks.py:381)",
            "django",
            "ASGIHandler request/response (django/core/handlers/asgi.py)",
        ),
        (
            ";get_response (django/core/handlers/base.py:1);__call__ (django/utils/deprecation.py:1)"
            ";process_request (django/contrib/auth/middleware.py:1);<lambda> (functools.py:1)",
            "django",
            "middleware (incl. sessions)",
        ),
        (
            ";login (django/contrib/admin/sites.py:1);render (django/template/base.py:1)"
            ";escape (django/utils/html.py:1)",
            "django",
            "templates",
        ),
    ],
)
def test_profile_samples_go_to_the_innermost_component(leaf, component, phase):
    assert classify(STACK + leaf) == (component, phase)


def test_profile_shares_count_pyspy_raw_lines():
    raw = f"{STACK} 3\n{STACK};x (asgiref/sync.py:1) 2\nnot a sample line\n"
    assert shares(raw) == {"samples": 5, "components": {"loop": 3, "handler": 2}, "django_phases": {}}


def test_readme_table_is_replaced_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold\n{END}\nafter\n")
    update_readme(readme, "NEW\n")
    assert readme.read_text() == f"intro\n{START}\nNEW\n{END}\nafter\n"


def test_runs_are_interleaved_across_cells_after_one_warm_up_each(monkeypatch):
    """Run 1 of every cell, then run 2 ...: drift hits all configurations alike. A cell wrk cannot
    read is dropped and named; route counts add up over the warm-up and every run."""
    servers = {name: [types.SimpleNamespace(name=name)] for name in ("a", "b")}
    configs = [
        bench_run.Configuration(PER_PROCESS, FAST, name, servers[name], {"sync": "/s/", "async": "/h/"})
        for name in ("a", "b")
    ]
    order, counts = [], {"a": 0, "b": 0}

    def load_many(targets, path, seconds, connections, cpus):
        name = targets[0].name
        order.append((name, path, seconds))
        if (name, path) == ("b", "/h/") and seconds == 10:
            raise ValueError("wrk's output has no Requests/sec")
        counts[name] += 1
        return LoadResult(100.0, 1.0, 2.0, 0, 1000)

    monkeypatch.setattr(bench_run, "load_many", load_many)
    monkeypatch.setattr(bench_run, "read_routes", lambda servers: {"sync": counts[servers[0].name]})
    monkeypatch.setattr(bench_run.time, "sleep", lambda seconds: None)
    unmeasured = []
    cells = bench_run.measure_interleaved(configs, 10, 2, 32, "1", unmeasured)
    assert order == [
        ("a", "/s/", 2), ("a", "/h/", 2), ("b", "/s/", 2), ("b", "/h/", 2),
        ("a", "/s/", 10), ("a", "/h/", 10), ("b", "/s/", 10), ("b", "/h/", 10),
        ("a", "/s/", 10), ("a", "/h/", 10), ("b", "/s/", 10),
    ]  # fmt: skip
    assert unmeasured == ["b, /h/: wrk's output has no Requests/sec"]
    assert [(c.name, path) for c, _, path in cells] == [("a", "/s/"), ("a", "/h/"), ("b", "/s/")]
    runs, routes = cells[(configs[0], "sync", "/s/")]
    assert len(runs) == 2 and routes == {"sync": 3}
