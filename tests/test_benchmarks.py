"""The benchmark harness reads wrk correctly and reports what it measured."""

from __future__ import annotations

import pytest

from benchmarks.load import parse_wrk, run_wrk
from benchmarks.report import END, START, markdown_table, update_readme

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


def test_load_refuses_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        run_wrk("http://10.0.0.1:80/", seconds=1)


REPORT = {
    "machine": {
        "date": "d",
        "cpu": "c",
        "os": "o",
        "python": "3",
        "django": "5.2",
        "uvicorn": "u",
        "httptools": "h",
        "waitress": "w",
        "gunicorn": "g",
    },
    "method": "m",
    "load": [
        {
            "configuration": "same project, WSGI, waitress 4 threads",
            "endpoint": "/admin/login/",
            "processes": 1,
            "requests_per_second": 400.0,
            "p50_ms": 80.0,
            "p99_ms": 150.0,
            "errors": 0,
            "requests": 4000,
        },
        {
            "configuration": "project as web.config starts it",
            "endpoint": "/admin/login/",
            "processes": 2,
            "requests_per_second": 500.0,
            "p50_ms": 60.0,
            "p99_ms": 120.0,
            "errors": 0,
            "requests": 5000,
        },
    ],
    "timings_s": {"copier copy (defaults)": 0.8},
}


def test_table_compares_with_waitress_and_names_the_machine():
    table = markdown_table(REPORT)
    assert (
        "| /admin/login/ | project as web.config starts it (2 processes) | 500 | 1.25x | 60.0 | 120.0 | 0 |"
        in table
    )
    assert "| copier copy (defaults) | 0.80 |" in table
    assert "Django 5.2" in table


def test_readme_table_is_replaced_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold\n{END}\nafter\n")
    update_readme(readme, "NEW\n")
    assert readme.read_text() == f"intro\n{START}\nNEW\n{END}\nafter\n"
