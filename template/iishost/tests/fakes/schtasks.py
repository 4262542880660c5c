#!/usr/bin/env python3
"""A fake schtasks.exe for tests on Linux/macOS: Create /XML /F, Query (CSV list, /XML, /V), Delete, Run.

Tasks live in $FAKE_IIS_DIR/tasks.json ({"\\\\folder\\\\name": "<Task ...>...</Task>"}), their last
runs in $FAKE_IIS_DIR/task_runs.json. Behaviour and messages (Microsoft, "schtasks create", "schtasks
query", "schtasks delete", "schtasks run" under
https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks; output of
Windows Server 2022):
- `/Create /TN name /XML file [/F]`: the file is Task Scheduler XML (UTF-16 with a BOM, as exported);
  an existing task without /F is `ERROR: Cannot create a file when that file already exists.` (exit 1);
  success `SUCCESS: The scheduled task "name" has successfully been created.` A task name "must
  conform to the rules for file names" ("schtasks create", /TN): no < > : / | ? * " (folders are
  separated by \\).
  A principal other than a built-in account is `ERROR: No mapping between account names and
  security IDs was done.` (exit 1).
- `/Query /FO CSV /NH`: `"\\folder\\name","N/A","Ready"` per task; `/Query /TN name /XML` prints the
  definition with `<?xml version="1.0" encoding="UTF-16"?>` (in the console's code page) and the
  task's URI; `/Query /TN name /V /FO CSV` a header and one row (a subset of the real columns);
  a missing task: `ERROR: The system cannot find the file specified.` (exit 1).
- `/Delete /TN name /F`: `SUCCESS: The scheduled task "name" was successfully deleted.`
- `/Run /TN name`: `SUCCESS: Attempted to run the scheduled task "name".` Task Scheduler starts the
  action and returns at once; this fake runs the Exec action to its end first (its Command with the
  Arguments split the C-runtime way, in its WorkingDirectory) and records the exit code as the
  task's Last Result, so a test sees what a real run leaves behind. 267011 (0x41303) is the Last
  Result of a task that has not run yet.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

STATE = Path(os.environ["FAKE_IIS_DIR"])
TASKS = STATE / "tasks.json"
RUNS = STATE / "task_runs.json"
NS = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
NOT_FOUND = "ERROR: The system cannot find the file specified."
NEVER_RAN = "267011"
BAD_NAME = re.compile(r'[<>:/|?*"]')
# Accounts a task can use without a stored password (Microsoft, "schtasks create", /RU).
BUILTIN = {"s-1-5-18", "s-1-5-19", "s-1-5-20", "system", "nt authority\\system",
           "nt authority\\local service", "nt authority\\network service"}  # fmt: skip


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def save(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


def option(argv: list[str], name: str) -> str | None:
    lowered = [a.lower() for a in argv]
    if name.lower() in lowered:
        index = lowered.index(name.lower())
        return argv[index + 1] if index + 1 < len(argv) else ""
    return None


def flag(argv: list[str], name: str) -> bool:
    return name.lower() in (a.lower() for a in argv)


def find(tasks: dict, name: str) -> str | None:
    """Task names ignore case; a name without a leading \\ is in the root folder."""
    wanted = ("\\" + name.lstrip("\\")).lower()
    return next((key for key in tasks if key.lower() == wanted), None)


def create(argv: list[str], tasks: dict) -> int:
    name, xml_file = option(argv, "/TN"), option(argv, "/XML")
    if not name or xml_file is None:
        print('ERROR: Invalid syntax.\nType "SCHTASKS /CREATE /?" for usage.')
        return 1
    if BAD_NAME.search(name):
        print("ERROR: The filename, directory name, or volume label syntax is incorrect.")
        return 1
    try:
        data = Path(xml_file).read_bytes()
    except OSError:
        print(NOT_FOUND)
        return 1
    try:
        text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8")
        task = ET.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", text.lstrip("\ufeff")))
    except (UnicodeDecodeError, ET.ParseError) as exc:
        print(f"ERROR: The task XML is malformed.\n(1,1)::{exc}")
        return 1
    if task.tag != f"{NS}Task":
        print("ERROR: The task XML contains an unexpected node.")
        return 1
    user = task.findtext(f"{NS}Principals/{NS}Principal/{NS}UserId") or "S-1-5-18"
    if user.strip().lower() not in BUILTIN:
        print("ERROR: No mapping between account names and security IDs was done.")
        return 1
    existing = find(tasks, name)
    if existing and not flag(argv, "/F"):
        print("ERROR: Cannot create a file when that file already exists.")
        return 1
    path = existing or "\\" + name.lstrip("\\")
    info = task.find(f"{NS}RegistrationInfo")
    if info is None:
        info = ET.SubElement(task, f"{NS}RegistrationInfo")
    uri = info.find(f"{NS}URI")
    if uri is None:
        uri = ET.SubElement(info, f"{NS}URI")
    uri.text = path  # Task Scheduler records the name it registered the task under
    ET.register_namespace("", NS[1:-1])
    tasks[path] = ET.tostring(task, encoding="unicode")
    save(TASKS, tasks)
    print(f'SUCCESS: The scheduled task "{name}" has successfully been created.')
    return 0


def query(argv: list[str], tasks: dict) -> int:
    name = option(argv, "/TN")
    runs = load(RUNS)
    if name is None:
        if (option(argv, "/FO") or "").upper() != "CSV":
            print("ERROR: this fake answers /Query only with /FO CSV, /XML or /V /FO CSV")
            return 1
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        if not flag(argv, "/NH"):
            writer.writerow(["TaskName", "Next Run Time", "Status"])
        for path in sorted(tasks):
            writer.writerow([path, "N/A", "Ready"])
        print(out.getvalue(), end="")
        return 0
    path = find(tasks, name)
    if path is None:
        print(NOT_FOUND)
        return 1
    if flag(argv, "/XML"):
        print('<?xml version="1.0" encoding="UTF-16"?>\n' + tasks[path])
        return 0
    run = runs.get(path, {})
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["HostName", "TaskName", "Next Run Time", "Status", "Last Run Time", "Last Result"])
    writer.writerow(["FAKEHOST", path, "N/A", "Ready", run.get("time", "N/A"), run.get("result", NEVER_RAN)])
    print(out.getvalue(), end="")
    return 0


def named(argv: list[str], tasks: dict) -> tuple[str, str | None]:
    """/TN's name and the stored task it names; None (after schtasks' message) when there is none."""
    name = option(argv, "/TN") or ""
    path = find(tasks, name)
    if path is None:
        print(NOT_FOUND)
    return name, path


def delete(argv: list[str], tasks: dict) -> int:
    name, path = named(argv, tasks)
    if path is None:
        return 1
    del tasks[path]
    save(TASKS, tasks)
    print(f'SUCCESS: The scheduled task "{name}" was successfully deleted.')
    return 0


def run(argv: list[str], tasks: dict) -> int:
    name, path = named(argv, tasks)
    if path is None:
        return 1
    action = ET.fromstring(tasks[path]).find(f"{NS}Actions/{NS}Exec")
    command = [action.findtext(f"{NS}Command"), *shlex.split(action.findtext(f"{NS}Arguments") or "")]
    folder = action.findtext(f"{NS}WorkingDirectory") or str(STATE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_IIS")}
    result = subprocess.run(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    runs = load(RUNS)
    runs[path] = {"time": "now", "result": str(result.returncode)}
    save(RUNS, runs)
    print(f'SUCCESS: Attempted to run the scheduled task "{name}".')
    return 0


def main(argv: list[str]) -> int:
    with (STATE / "calls.log").open("a", encoding="utf-8") as log:
        log.write(json.dumps(["schtasks", *argv]) + "\n")
    tasks = load(TASKS)
    verb = argv[0].lower() if argv else "/query"
    verbs = {"/create": create, "/query": query, "/delete": delete, "/run": run}
    if verb not in verbs:
        print(f"ERROR: Invalid argument/option - '{argv[0]}'.\nType \"SCHTASKS /?\" for usage.")
        return 1
    return verbs[verb](argv[1:], tasks)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
