#!/usr/bin/env python3
"""A fake netstat.exe for tests on Linux/macOS: `netstat -ano -p tcp` only.

Listeners: port 135 held by PID 1004 (RPC, svchost), port 445 and each port a Started site of the
fake appcmd's applicationHost.config binds held by PID 4 (System: http.sys and the SMB driver
listen in the kernel), plus $FAKE_IIS_DIR/netstat.json's `[[port, pid], ...]` (a test's other
programs).

Format (Microsoft, "netstat" command reference, learn.microsoft.com/windows-server/administration/
windows-commands/netstat: -a all connections and listening ports, -n numeric addresses, -o the
owning process ID, -p tcp IPv4 TCP only; output of Windows Server 2022): a blank line, `Active
Connections`, a blank line, the header `  Proto  Local Address          Foreign Address        State
PID`, then one row per socket, columns padded with spaces; a listener's foreign address is
`0.0.0.0:0` and its state `LISTENING`.
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

STATE = Path(os.environ["FAKE_IIS_DIR"])


def listeners() -> list[tuple[int, int]]:
    found = [(135, 1004), (445, 4)]
    config = STATE / "applicationHost.config"
    if config.is_file():
        for site in ET.parse(config).getroot().iterfind("system.applicationHost/sites/site"):
            if site.get("_state", "Started") == "Started":  # the fake appcmd's own mark
                for binding in site.iterfind("bindings/binding"):
                    found.append((int(binding.get("bindingInformation").split(":")[1]), 4))
    extra = STATE / "netstat.json"
    if extra.is_file():
        found += [tuple(item) for item in json.loads(extra.read_text(encoding="utf-8"))]
    return sorted(set(found))


def main(argv: list[str]) -> int:
    if argv != ["-ano", "-p", "tcp"]:
        print("fake netstat: only `netstat -ano -p tcp` is faked", file=sys.stderr)
        return 1
    print("\nActive Connections\n")
    print(f"  {'Proto':<7}{'Local Address':<23}{'Foreign Address':<23}{'State':<16}PID")
    for port, pid in listeners():
        print(f"  {'TCP':<7}{f'0.0.0.0:{port}':<23}{'0.0.0.0:0':<23}{'LISTENING':<16}{pid}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
