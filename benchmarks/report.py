"""Turn a benchmark report into the Markdown table printed, saved and shown in README.md."""

from __future__ import annotations

import re
from pathlib import Path

BASELINE = "same project, WSGI, waitress 4 threads"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def markdown_table(report: dict) -> str:
    baseline = {
        row["endpoint"]: row["requests_per_second"]
        for row in report["load"]
        if row["configuration"] == BASELINE
    }
    lines = [
        "| endpoint | configuration | req/s | vs waitress | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(report["load"], key=lambda r: r["endpoint"]):
        base = baseline.get(row["endpoint"])
        ratio = f"{row['requests_per_second'] / base:.2f}x" if base else "-"
        name = row["configuration"] + (f" ({row['processes']} processes)" if row["processes"] > 1 else "")
        lines.append(
            f"| {row['endpoint']} | {name} | {row['requests_per_second']:,.0f} | {ratio} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} |"
        )
    lines += ["", "| one-off timing | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in report["timings_s"].items()]
    machine = report["machine"]
    lines += [
        "",
        f"Measured {machine['date']} on {machine['cpu']}, {machine['os']}, Python {machine['python']}, "
        f"Django {machine['django']}, uvicorn {machine['uvicorn']}, httptools {machine['httptools']}, "
        f"waitress {machine['waitress']}, gunicorn {machine['gunicorn']}. Method: {report['method']}.",
    ]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> None:
    """Replace the table between the bench markers, so the README always shows the latest run."""
    text = readme.read_text(encoding="utf-8")
    if START not in text:
        return
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    readme.write_text(pattern.sub(lambda _: f"{START}\n{table}{END}", text), encoding="utf-8")
