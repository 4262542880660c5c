"""The results as people read them (one line per check, details and fix indented) and as JSON."""

from __future__ import annotations

import json

from .result import FAIL, Check

MARKS = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


def text(checks: list[Check]) -> str:
    lines = []
    for number, check in enumerate(checks, 1):
        lines.append(f"{number:2}. {MARKS[check.status]}  {check.name}: {check.title}")
        if check.detail:
            prefix = "skipped: " if check.status == "skip" else ""
            lines += [
                f"      {prefix}{line}" if i == 0 else f"    {line}"
                for i, line in enumerate(check.detail.splitlines())
            ]
        if check.fix:
            lines.append(f"      fix: {check.fix}")
    failures = sum(c.status == FAIL for c in checks)
    skips = sum(c.status == "skip" for c in checks)
    lines.append(
        f"{len(checks) - failures - skips} passed, {failures} failed, {skips} skipped"
        + (" (nothing was changed)" if checks else "")
    )
    return "\n".join(lines)


def to_json(checks: list[Check]) -> str:
    return json.dumps([c.as_dict() for c in checks], indent=2, ensure_ascii=False)
