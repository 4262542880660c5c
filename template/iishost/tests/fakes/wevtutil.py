#!/usr/bin/env python3
"""A fake wevtutil.exe for tests on Linux/macOS: `wevtutil qe LOG /q:XPATH /c:N /rd:true /f:text`.

Events live in $FAKE_IIS_DIR/events.json: `[{"log": "System", "source": "Microsoft-Windows-WAS",
"id": 5002, "level": 2, "date": "2026-01-02T03:04:05.000", "description": "..."}, ...]` (none when
the file is missing). The query keeps the events of LOG whose provider is one of the XPath's
`@Name='...'` and whose level is one of its `Level=N`, newest first (/rd:true), at most N (/c:N).

Format (Microsoft, "wevtutil" command reference, learn.microsoft.com/windows-server/administration/
windows-commands/wevtutil, `qe` with /f:text; output of Windows Server 2022): per event a line
`Event[i]:` then indented `Log Name:`, `Source:`, `Date:`, `Event ID:`, `Task:`, `Level:` (Critical,
Error, Warning), `Opcode:`, `Keyword:`, `User:`, `User Name:`, `Computer:` and `Description:`, the
message on the lines after it. Nothing at all when no event matches.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_IIS_DIR"])
LEVELS = {1: "Critical", 2: "Error", 3: "Warning", 4: "Information"}


def main(argv: list[str]) -> int:
    options = {a.split(":", 1)[0].lower(): a.split(":", 1)[1] for a in argv[2:] if a.startswith("/")}
    if argv[:1] != ["qe"] or len(argv) < 2 or options.get("/f") != "text":
        print("fake wevtutil: only `wevtutil qe LOG /q:... /c:N /rd:true /f:text` is faked", file=sys.stderr)
        return 87  # ERROR_INVALID_PARAMETER
    log, xpath = argv[1], options.get("/q", "*")
    names = set(re.findall(r"@Name='([^']+)'", xpath))
    levels = {int(n) for n in re.findall(r"Level=(\d)", xpath)}
    path = STATE / "events.json"
    events = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    events = [
        e for e in events
        if e["log"] == log and (not names or e["source"] in names) and (not levels or e["level"] in levels)
    ]  # fmt: skip
    events.sort(key=lambda e: e["date"], reverse=options.get("/rd") == "true")
    for number, event in enumerate(events[: int(options.get("/c", len(events)))]):
        print(f"Event[{number}]:")
        for key, value in [
            ("Log Name", log), ("Source", event["source"]), ("Date", event["date"]),
            ("Event ID", event["id"]), ("Task", "N/A"), ("Level", LEVELS[event["level"]]),
            ("Opcode", "Info"), ("Keyword", "Classic"),
            ("User", "N/A"), ("User Name", "N/A"), ("Computer", "WEB01"),
        ]:  # fmt: skip
            print(f"  {key}: {value}")
        print(f"  Description: \n{event['description']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
