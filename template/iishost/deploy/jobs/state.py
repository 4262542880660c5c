"""This project's scheduled tasks as Task Scheduler has them, read with schtasks.exe.

`schtasks /Query /FO CSV /NH` lists every task as `"\\folder\\name","next run","status"` (Microsoft,
"schtasks query", https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks-query:
/FO TABLE|LIST|CSV, /NH no header); `schtasks /Query /TN <name> /XML` prints one task's definition
as Task Scheduler XML; `/V /FO CSV` adds columns such as "Last Run Time" and "Last Result" (the
exit code of the last run: 0 is success, 267011 = 0x41303 means never run).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass, field

from ..runner import QueryFailed
from .taskxml import TaskSummary, parse, summary


@dataclass
class JobsState:
    """The tasks in this project's folder (by lower-cased path), empty when there is no schtasks."""

    tasks: dict[str, TaskSummary] = field(default_factory=dict)
    tools_present: bool = True


def _failed(what: str, result) -> QueryFailed:
    return QueryFailed(
        f"{what} failed (exit code {result.returncode}): {' '.join(result.text.split())}\n"
        "Run the same command from PowerShell opened with 'Run as administrator' (nothing was changed)."
    )


def list_tasks(schtasks: str, query) -> list[str]:
    """Every task's full path (\\folder\\name)."""
    result = query([schtasks, "/Query", "/FO", "CSV", "/NH"])
    if result.returncode:
        raise _failed("schtasks /Query", result)
    return [row[0] for row in csv.reader(io.StringIO(result.text)) if row and row[0].startswith("\\")]


def in_folder(path: str, folder: str) -> bool:
    """Directly in \\folder\\ (Task Scheduler names ignore case)."""
    parent, _, name = path.rpartition("\\")
    return bool(name) and parent.lower() == f"\\{folder}".lower()


def read_state(schtasks: str | None, query, folder: str) -> JobsState:
    if schtasks is None:
        return JobsState(tools_present=False)
    state = JobsState()
    for path in list_tasks(schtasks, query):
        if in_folder(path, folder):
            result = query([schtasks, "/Query", "/TN", path, "/XML"])
            if result.returncode:
                raise _failed(f"schtasks /Query /TN {path} /XML", result)
            # The listed path is the task's name, whatever its RegistrationInfo/URI says.
            state.tasks[path.lower()] = dataclasses.replace(summary(parse(result.stdout)), uri=path)
    return state


def last_run(schtasks: str, query, path: str) -> dict[str, str]:
    """The verbose CSV row of one task: {"Last Run Time": ..., "Last Result": ..., "Status": ...}."""
    result = query([schtasks, "/Query", "/TN", path, "/V", "/FO", "CSV"])
    if result.returncode:
        return {}
    rows = list(csv.DictReader(io.StringIO(result.text)))
    return rows[0] if rows else {}
