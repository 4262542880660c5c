"""Check 13: the last errors W3SVC, WAS and HttpPlatformHandler wrote to the Windows Event Log.

`wevtutil qe LOG /q:XPATH /c:N /rd:true /f:text` (Microsoft, "wevtutil" command reference): the N
newest events (/rd:true) matching the XPath, as text blocks `Event[i]:` with indented
`Log Name:`, `Source:`, `Date:` (ISO 8601, local time), `Event ID:`, `Level:` ... and `Description:`
followed by the message on the next lines. WAS and W3SVC write to the System log (providers
Microsoft-Windows-WAS and Microsoft-Windows-IIS-W3SVC), HttpPlatformHandler to Application (source
HttpPlatformHandler; its event 1004 is the stdout log it could not create). Level 1 critical,
2 error, 3 warning.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from .context import Context
from .result import Check, failed, passed, skipped

COUNT = 5
RECENT = timedelta(hours=24)
QUERIES = (
    ("System", "*[System[Provider[@Name='Microsoft-Windows-WAS' or @Name='Microsoft-Windows-IIS-W3SVC']"
               " and (Level=1 or Level=2)]]"),
    ("Application", "*[System[Provider[@Name='HttpPlatformHandler'] and (Level=1 or Level=2 or Level=3)]]"),
)  # fmt: skip
# Events with a known fix (Microsoft, "Application Pool Identity"/"Rapid-Fail Protection" docs).
KNOWN = {
    "5002": "the app pool was disabled by rapid-fail protection: fix the startup (the start and "
    "stdout-log checks), then `invoke iis.recycle` (it starts the pool)",
    "1004": "HttpPlatformHandler could not create its stdout log: the logs check's fix",
}


def parse_events(text: str) -> list[dict[str, str]]:
    """`wevtutil qe ... /f:text` output as a list of {field: value}, Description the whole message."""
    events = []
    for block in re.split(r"^Event\[\d+\]:\s*$", text, flags=re.M)[1:]:
        event: dict[str, str] = {}
        lines = block.splitlines()
        for number, line in enumerate(lines):
            key, sep, value = line.strip().partition(":")
            if key == "Description":
                event["Description"] = " ".join(x.strip() for x in [value, *lines[number + 1 :]] if x.strip())
                break
            if sep and key:
                event[key] = value.strip()
        events.append(event)
    return events


def _when(event: dict[str, str]) -> datetime | None:
    try:
        return datetime.fromisoformat(event.get("Date", "")[:19])
    except ValueError:
        return None


def event_log(ctx: Context, now: datetime | None = None) -> Check:
    name, title = "eventlog", "the last W3SVC, WAS and HttpPlatformHandler errors in the Event Log"
    wevtutil = ctx.tools.get("wevtutil")
    if wevtutil is None:
        return skipped(name, title, ctx.missing("wevtutil"))
    now = now or datetime.now()
    events = []
    for log, xpath in QUERIES:
        result = ctx.query([wevtutil, "qe", log, f"/q:{xpath}", f"/c:{COUNT}", "/rd:true", "/f:text"])
        if result.returncode:
            return skipped(
                name, title, f"wevtutil could not read the {log} log: {' '.join(result.text.split())}"
            )
        events += parse_events(result.text)
    recent = [e for e in events if (_when(e) or now) >= now - RECENT]
    lines = [
        f"{e.get('Date', '?')} {e.get('Source', '?')} event {e.get('Event ID', '?')} "
        f"({e.get('Level', '?')}): {e.get('Description', '')[:300]}"
        for e in sorted(events, key=lambda e: e.get("Date", ""), reverse=True)
    ]
    if not recent:
        older = "; older ones:\n" + "\n".join(f"      {x}" for x in lines) if lines else ""
        return passed(name, title, f"none in the last {RECENT.total_seconds() / 3600:g} hours{older}")
    fixes = [KNOWN[e["Event ID"]] for e in recent if e.get("Event ID") in KNOWN]
    return failed(
        name, title, f"{len(recent)} in the last 24 hours:\n" + "\n".join(f"      {x}" for x in lines),
        "; ".join(dict.fromkeys(fixes))
        or "read each message above; the checks before this one name most causes",
    )  # fmt: skip
