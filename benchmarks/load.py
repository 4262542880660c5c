"""Drive load with wrk and read its report: requests/s, latency percentiles, errors."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def combine(results: list[LoadResult]) -> LoadResult:
    """Simultaneous runs against separate processes (one wrk each): throughput, requests and errors
    add up; p50 is the mean and p99 the worst of them."""
    return LoadResult(
        requests_per_second=sum(r.requests_per_second for r in results),
        p50_ms=statistics.mean(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        requests=sum(r.requests for r in results),
    )


def median_of(runs: list[LoadResult]) -> LoadResult:
    """One cell from repeated runs: the median of each figure, and every error of every run."""
    return LoadResult(
        requests_per_second=statistics.median(r.requests_per_second for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        requests=sum(r.requests for r in runs),
    )


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> LoadResult:
    """wrk --latency prints "50%  1.23ms" lines, "Requests/sec:", and error lines only when any occur."""
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)$", output, re.MULTILINE))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rate or set(percentiles) != {"50", "99"}:
        raise ValueError(f"wrk's output has no Requests/sec or latency percentiles:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return LoadResult(
        requests_per_second=float(rate.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        errors=errors,
        requests=int(re.search(r"(\d+) requests in", output).group(1)),
    )


def wrk_path() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`.")
    return path


def pinned(argv: list[str], cpus: str | None) -> list[str]:
    """`argv` run on the given CPUs only (`taskset -c 0`); unchanged when `cpus` is None."""
    if cpus is None:
        return list(argv)
    taskset = shutil.which("taskset")
    if not taskset:
        raise SystemExit("taskset is not installed: `apt-get install util-linux`.")
    return [taskset, "-c", cpus, *argv]


def wrk_argv(url: str, *, seconds: int, connections: int = 32, threads: int = 2) -> list[str]:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"benchmarks only load loopback addresses, not {url}")
    return [
        wrk_path(),
        "--latency",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        url,
    ]


def run_wrk(
    url: str, *, seconds: int, connections: int = 32, threads: int = 2, cpus: str | None = None
) -> LoadResult:
    """One bounded wrk run against a loopback URL, pinned to `cpus` when given."""
    argv = pinned(wrk_argv(url, seconds=seconds, connections=connections, threads=threads), cpus)
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(completed.stdout)
