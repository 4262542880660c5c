"""One check's verdict: what was looked at, what was found, and the fix an admin can type."""

from __future__ import annotations

from dataclasses import asdict, dataclass

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Check:
    name: str  # short and stable: scripts select on it (`--only`, --json)
    title: str  # what was checked, in words
    status: str  # PASS, FAIL or SKIP
    detail: str = ""  # what was found; for SKIP, why the check could not run here
    fix: str = ""  # for FAIL: what to do

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def passed(name: str, title: str, detail: str = "") -> Check:
    return Check(name, title, PASS, detail)


def failed(name: str, title: str, detail: str, fix: str) -> Check:
    return Check(name, title, FAIL, detail, fix)


def skipped(name: str, title: str, why: str) -> Check:
    return Check(name, title, SKIP, why)
