"""The emulator's HttpPlatformHandler schema tables, judged by the shared reference
(../shared/reference/httpplatform-schema.md, written from the published schema files of HPH 1.2
and lextudio/httpplatformhandlerv2), not by restating them."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

REFERENCE = ROOT.parent / "shared" / "reference" / "httpplatform-schema.md"
DAY = 24 * 3600


@pytest.fixture(scope="module")
def reference() -> str:
    if not REFERENCE.exists():
        pytest.skip(f"the shared reference is not beside this repository ({REFERENCE})")
    return REFERENCE.read_text(encoding="utf-8")


def table_rows(text: str, header_start: str) -> dict[str, list[str]]:
    """The rows of the Markdown table whose header starts with `header_start`, by first cell."""
    lines = text[text.index(header_start) :].splitlines()
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].replace("`", "")] = cells[1:]
    return rows


def test_hph_12_attributes_types_and_ranges_are_the_references(reference, webconfig):
    rows = table_rows(reference, "| attribute | type | default | valid values |")
    schema = webconfig.SCHEMAS["1.2"]
    assert set(schema.attributes) == set(rows)
    for name, (kind, default, valid, _notes) in rows.items():
        ours = schema.attributes[name]
        assert kind.split(",")[0].split()[0] == ours.kind, name
        numbers = re.fullmatch(r"(\d+)–(\d+)", valid)
        if numbers:
            assert (ours.low, ours.high) == tuple(map(int, numbers.groups())), name
        if ours.kind == "bool":
            assert default == ours.default, name
    timeout = schema.attributes["requestTimeout"]
    assert "30 days" in rows["requestTimeout"][2] and timeout.high == 30 * DAY
    assert "whole minutes" in rows["requestTimeout"][2] and timeout.granularity == 60


def test_hph_2_differs_from_12_exactly_as_the_reference_says(reference, webconfig):
    rows = table_rows(reference, "| attribute | v1.2 | v2 |")
    v12, v2 = webconfig.SCHEMAS["1.2"], webconfig.SCHEMAS["2"]
    absent = {name.strip("`") for name, (_, in_v2) in rows.items() if "absent" in in_v2}
    assert set(v12.attributes) - set(v2.attributes) == absent == {"startupRetryCount"}
    assert set(v2.attributes) <= set(v12.attributes)
    days = re.search(r"up to (\d+) days", rows["requestTimeout range"][1])
    assert v2.attributes["requestTimeout"].high == int(days.group(1)) * DAY
    assert v2.attributes["forwardWindowsAuthToken"].default == rows["forwardWindowsAuthToken default"][
        1
    ].strip("*")
    assert v2.attributes["startupTimeLimit"].default == rows["startupTimeLimit default"][1]
    only_v2 = {name.split()[0].strip("`") for name, (in_12, _) in rows.items() if in_12 == "no"}
    assert set(v2.collections) - set(v12.collections) == only_v2 == {"handlerSettings"}
    same = {"processPath", "arguments", "rapidFailsPerMinute", "stdoutLogEnabled", "stdoutLogFile",
            "processesPerApplication"}  # fmt: skip
    assert all(v2.attributes[name] == v12.attributes[name] for name in same)
