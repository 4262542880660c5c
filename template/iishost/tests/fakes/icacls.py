#!/usr/bin/env python3
"""A fake icacls.exe for tests on Linux/macOS: show, `/grant:r` and `/inheritance:r` on folders.

Explicit grants live in $FAKE_IIS_DIR/acls.json ({path: ["IIS APPPOOL\\\\p:(OI)(CI)(RX)", ...]});
every existing folder also shows the entries a fresh Windows folder inherits, and entries granted
with (OI)(CI) on a parent folder show on its children with (I). An `IIS AppPool\\<pool>` account
exists only while that pool exists in the fake appcmd's applicationHost.config, as on Windows.
`/inheritance:r` removes the entries a folder inherits (from its parents and from the drive), as an
admin hardening a site folder does; the folder is listed in $FAKE_IIS_DIR/protected.json and its
children inherit only from it and from folders below it.

Formats, messages and exit codes (Microsoft's "icacls" command reference; output of Windows
Server 2022): listing `<path> <first entry>` then entries indented under it, a blank line and
`Successfully processed 1 files; Failed processing 0 files`; a grant prints `processed file: <path>`;
a missing path `<path>: The system cannot find the file specified.` (exit 2, ERROR_FILE_NOT_FOUND);
an unknown account `No mapping between account names and security
IDs was done.` (exit 1332, ERROR_NONE_MAPPED).
"""

from __future__ import annotations

import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

STATE = Path(os.environ["FAKE_IIS_DIR"])
ACLS = STATE / "acls.json"
PROTECTED = STATE / "protected.json"
BASE = [
    "BUILTIN\\Administrators:(I)(OI)(CI)(F)",
    "NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)",
    "BUILTIN\\Users:(I)(OI)(CI)(RX)",
]
GRANT = re.compile(r"^(?P<who>[^:]+):(?P<flags>(?:\((?:OI|CI|IO|NP)\))*)(?P<rights>F|M|RX|R|W|D|N)$")


def summary(ok: int, failed: int) -> str:
    return f"Successfully processed {ok} files; Failed processing {failed} files"


def account_exists(who: str) -> bool:
    domain, _, name = who.partition("\\")
    if domain.lower() != "iis apppool":
        # Built-in accounts every Windows has (Microsoft, "Well-known SIDs": S-1-5-18, S-1-5-19).
        return who.lower() in {
            "builtin\\administrators",
            "builtin\\users",
            "nt authority\\system",
            "nt authority\\local service",
        }
    config = STATE / "applicationHost.config"
    if not config.exists():
        return False
    pools = ET.parse(config).getroot().iterfind("system.applicationHost/applicationPools/add")
    return any(p.get("name", "").lower() == name.lower() for p in pools)


def display(who: str) -> str:
    domain, sep, name = who.partition("\\")
    return f"IIS APPPOOL{sep}{name}" if domain.lower() == "iis apppool" else who


def under(path: str, parent: str) -> bool:
    return os.path.commonpath([parent, path]) == parent


def entries(path: str, acls: dict, protected: list[str]) -> list[str]:
    own = list(acls.get(path, []))
    # Inheritance stops at the nearest folder whose inheritance was removed (itself included).
    barrier = max((p for p in protected if under(path, p)), key=len, default=None)
    inherited = []
    for parent, granted in acls.items():
        if parent != path and under(path, parent) and (barrier is None or under(parent, barrier)):
            inherited += [e.replace(":(OI)(CI)", ":(I)(OI)(CI)", 1) for e in granted if ":(OI)(CI)" in e]
    return own + inherited + ([] if barrier else BASE)


def main(argv: list[str]) -> int:
    with (STATE / "calls.log").open("a", encoding="utf-8") as log:
        log.write(json.dumps(["icacls", *argv]) + "\n")
    acls = json.loads(ACLS.read_text(encoding="utf-8")) if ACLS.exists() else {}
    protected = json.loads(PROTECTED.read_text(encoding="utf-8")) if PROTECTED.exists() else []
    if not argv:
        print("ERROR: Invalid parameter.")
        return 87
    path, options = argv[0], argv[1:]
    if not os.path.isdir(path):
        print(f"{path}: The system cannot find the file specified.\n{summary(0, 1)}")
        return 2
    if not options:
        lines = entries(path, acls, protected) or [""]
        pad = " " * (len(path) + 1)
        print("\n".join([f"{path} {lines[0]}", *(pad + e for e in lines[1:])]) + f"\n\n{summary(1, 0)}")
        return 0
    if options == ["/inheritance:r"]:
        PROTECTED.write_text(json.dumps(sorted({*protected, path})), encoding="utf-8")
        print(f"processed file: {path}\n{summary(1, 0)}")
        return 0
    if len(options) != 2 or options[0].lower() != "/grant:r":
        print(f'Invalid parameter "{options[0]}"')
        return 87
    match = GRANT.match(options[1])
    if not match:
        print(f'Invalid parameter "{options[1]}"')
        return 87
    if not account_exists(match["who"]):
        print(f"{match['who']}: No mapping between account names and security IDs was done.\n{summary(0, 1)}")
        return 1332
    who = display(match["who"])
    kept = [e for e in acls.get(path, []) if e.split(":(")[0].lower() != who.lower()]
    acls[path] = [*kept, f"{who}:{match['flags']}({match['rights']})"]
    ACLS.write_text(json.dumps(acls, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"processed file: {path}\n{summary(1, 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
