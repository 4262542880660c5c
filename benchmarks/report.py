"""Turn a benchmark report into the Markdown printed, saved and shown in README.md: two tables
(per process; equal process counts), the targets computed from the per-process figures, and the
fast handler's route counts. No figure here divides one configuration's result by another's."""

from __future__ import annotations

import re
from pathlib import Path

START, END = "<!-- bench:start -->", "<!-- bench:end -->"

PER_PROCESS, EQUAL = "per_process", "equal"
FAST, STOCK, GUNICORN, WAITRESS, RECIPE = "fast", "stock", "gunicorn", "waitress", "recipe"
ENDPOINTS = {"admin": "/admin/login/", "sync": "minimal sync view", "async": "async minimal (/health/)"}
ROUTE_KEYS = ("sync", "async", "django")


def _cell(rows: list[dict], section: str, role: str, endpoint: str) -> dict | None:
    return next(
        (r for r in rows if r["section"] == section and r["role"] == role and r["endpoint"] == endpoint),
        None,
    )


def _section_table(report: dict, section: str) -> list[str]:
    rows = [r for r in report["load"] if r["section"] == section]
    header = "| configuration |"
    rule = "|---|"
    for label in ENDPOINTS.values():
        header += f" {label} req/s | p99 ms |"
        rule += "---:|---:|"
    lines = [header + " errors |", rule + "---:|"]
    names = list(dict.fromkeys(r["configuration"] for r in rows))
    for name in names:
        cells = {r["endpoint"]: r for r in rows if r["configuration"] == name}
        line = f"| {name} |"
        for endpoint in ENDPOINTS:
            row = cells.get(endpoint)
            line += f" {row['requests_per_second']:,.0f} | {row['p99_ms']:.1f} |" if row else " - | - |"
        line += f" {sum(r['errors'] for r in cells.values())} |"
        lines.append(line)
    return lines


def captions(report: dict) -> dict[str, str]:
    c, s, r = report["connections"], report["seconds"], report["runs"]
    n = report["processes_per_application"]
    cell = (
        f"each cell the median of {r} runs of {s} s after a 2 s warm-up, the runs interleaved (run 1 of "
        "every row and endpoint, then run 2, ...) so that a drift in the machine's speed shifts every "
        "row alike; errors summed over the runs"
    )
    if report["pinned"]:
        where = "server pinned to CPU 0 (`taskset -c 0`), wrk to CPU 1 (`taskset -c 1`, 1 thread)"
    else:
        where = "not pinned (fewer than 2 CPUs): server and wrk share the machine"
    return {
        PER_PROCESS: f"**Per process (N=1)**: {where}; wrk {c} connections; {cell}.",
        EQUAL: (
            f"**Equal process counts (N={n}, web.config's processesPerApplication)**: not pinned "
            f"(servers and wrk share the machine's {report['cores']} cores). As "
            "HttpPlatformHandler runs them, each uvicorn or waitress process listens on its own port "
            f"and gets its own wrk at {max(1, c // n)} connections ({c} in all); gunicorn's {n} workers "
            f"share one port, loaded by the same {n} wrk processes. req/s is the sum, p99 the worst "
            f"process's; {cell}."
        ),
    }


def targets(report: dict) -> list[tuple[str, bool | None, str]]:
    """(target, met: True/False/None when a figure is missing, measured figures), from the
    per-process section: the fast handler's uvicorn process against one gunicorn sync worker and
    one waitress process with 4 threads."""
    rows = report["load"]

    def get(role: str, endpoint: str) -> dict | None:
        return _cell(rows, PER_PROCESS, role, endpoint)

    results = []
    for endpoint in ("admin", "sync"):
        label = ENDPOINTS[endpoint]
        fast = get(FAST, endpoint)
        for role, other in ((GUNICORN, "gunicorn sync 1 worker"), (WAITRESS, "waitress 4 threads")):
            base = get(role, endpoint)
            if fast and base:
                met = fast["requests_per_second"] >= base["requests_per_second"]
                figures = f"{fast['requests_per_second']:,.0f} vs {base['requests_per_second']:,.0f} req/s"
            else:
                met, figures = None, "not measured"
            results.append((f"{label}: req/s >= {other}", met, figures))
        base = get(WAITRESS, endpoint)
        if fast and base:
            met = fast["p99_ms"] <= base["p99_ms"]
            figures = f"{fast['p99_ms']:.1f} vs {base['p99_ms']:.1f} ms"
        else:
            met, figures = None, "not measured"
        results.append((f"{label}: p99 <= waitress p99", met, figures))
    fast_rows = [r for r in rows if r["section"] == PER_PROCESS and r["role"] == FAST]
    if fast_rows:
        errors = sum(r["errors"] for r in fast_rows)
        results.append(("0 errors (fast handler, every endpoint)", errors == 0, f"{errors} errors"))
    else:
        results.append(("0 errors (fast handler, every endpoint)", None, "not measured"))
    sync, asynchronous = get(FAST, "sync"), get(FAST, "async")
    if sync and asynchronous:
        met = asynchronous["requests_per_second"] >= sync["requests_per_second"]
        figures = f"{asynchronous['requests_per_second']:,.0f} vs {sync['requests_per_second']:,.0f} req/s"
    else:
        met, figures = None, "not measured"
    results.append(("async minimal req/s >= sync minimal req/s (fast handler)", met, figures))
    return results


def targets_block(report: dict) -> list[str]:
    verdict = {True: "met", False: "missed", None: "not measured"}
    lines = ["Targets (per process, fast handler's uvicorn process; computed from the table above):", ""]
    lines += [f"- {name}: **{verdict[met]}** ({figures})" for name, met, figures in targets(report)]
    return lines


def routes_lines(report: dict) -> list[str]:
    """Which path of the fast handler served each request (FastASGIHandler.routes), per endpoint,
    counted over the warm-up and every run."""
    parts = []
    exposed = False
    for row in report["load"]:
        if row["role"] != FAST:
            continue
        routes = row.get("routes")
        if routes is None:
            continue
        exposed = True
        total = sum(routes.values())
        counts = ", ".join(f"{key} {routes.get(key, 0):,}" for key in ROUTE_KEYS)
        others = ", ".join(f"{k} {v:,}" for k, v in routes.items() if k not in ROUTE_KEYS)
        counts += f", {others}" if others else ""
        section = "N=1" if row["section"] == PER_PROCESS else f"N={row['processes']}"
        parts.append(f"{section} {row['path']}: {counts} (of {total:,})")
    if not exposed:
        return ["Fast handler routes: not counted (this render's FastASGIHandler has no `routes`)."]
    heading = (
        "Fast handler routes, per endpoint over the warm-up and every run (sync: Django's sync chain in "
        "one hop; async: phased middleware hooks; django: fell back to Django's own code):"
    )
    return [heading, "", *(f"- {part}" for part in parts)]


def markdown_table(report: dict) -> str:
    caption = captions(report)
    lines = [caption[PER_PROCESS], "", *_section_table(report, PER_PROCESS), ""]
    lines += [caption[EQUAL], "", *_section_table(report, EQUAL), ""]
    lines += [*targets_block(report), "", *routes_lines(report), ""]
    if report.get("unmeasured"):
        lines += ["Not measured (shown as -):", "", *(f"- {cell}" for cell in report["unmeasured"]), ""]
    lines += ["| one-off timing | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in report["timings_s"].items()]
    machine = report["machine"]
    lines += [
        "",
        f"Measured {machine['date']} on {machine['cpu']}, {machine['os']}, Python {machine['python']}, "
        f"Django {machine['django']}, asgiref {machine.get('asgiref', '?')}, uvicorn {machine['uvicorn']}, "
        f"httptools {machine['httptools']}, waitress {machine['waitress']}, gunicorn {machine['gunicorn']}; "
        "loopback. The minimal sync view is a sync twin of /health/ added to the benchmark's copy only; "
        "uvicorn serves `bench_app:application` (the project's own application object, which writes the "
        "route counts) with web.config's other arguments and environment.",
    ]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> None:
    """Replace the table between the bench markers, so the README always shows the latest run."""
    text = readme.read_text(encoding="utf-8")
    if START not in text:
        return
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    readme.write_text(pattern.sub(lambda _: f"{START}\n{table}{END}", text), encoding="utf-8")
