"""A scheduled task's definition as Task Scheduler XML: built for a job, and read back for comparison.

Elements (Microsoft, "Task Scheduler Schema", https://learn.microsoft.com/windows/win32/taskschd/task-scheduler-schema):
RegistrationInfo/URI is the task's path; Principal/UserId S-1-5-19 is NT AUTHORITY\\LOCAL SERVICE,
which needs no stored password (schtasks /RU: "NT AUTHORITY\\LOCALSERVICE" is valid for Task
Scheduler 2.0 tasks) and RunLevel LeastPrivilege keeps it unelevated; triggers are a CalendarTrigger
with ScheduleByDay (daily), a TimeTrigger with Repetition/Interval and no Duration (repeats for ever)
or a BootTrigger (at startup); Settings/MultipleInstancesPolicy IgnoreNew skips a run while the last
one still runs, ExecutionTimeLimit stops a run after its limit (PT0S: no limit), StartWhenAvailable
runs a start missed while the server was off; Actions/Exec has Command, Arguments and WorkingDirectory.

Built with xml.etree, so a path with & < > or quotes is escaped, never spliced. Both sides go through
`summary`, so a task is compared on what matters, whatever order or spelling Task Scheduler uses
when it exports it (PT1H or PT3600S, the SID or the account name).
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .config import Job

NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
LOCAL_SERVICE_SID = "S-1-5-19"
LOCAL_SERVICE = "NT AUTHORITY\\LOCAL SERVICE"
# What Task Scheduler exports for LOCAL SERVICE, by SID or name (compared without case).
_LOCAL_SERVICE_NAMES = {
    "s-1-5-19",
    "nt authority\\local service",
    "local service",
    "nt authority\\localservice",
}
# A fixed past date: a daily trigger fires at its time of day from then on; a repetition counts from it.
START_DATE = "2000-01-01"
RUNNER_MODULE = "iishost.jobs.run"
# The runner stops the command itself at the limit and logs it; Task Scheduler's own limit is the
# backstop, a minute later (it ends the runner's process only, not the command it started).
BACKSTOP = 60
_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$")


def duration(seconds: int) -> str:
    """ISO 8601 duration as Task Scheduler writes it: PT1H, PT15M, PT1H30M, PT0S."""
    if not seconds:
        return "PT0S"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if v)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def seconds_of(text: str | None) -> int | None:
    match = _DURATION.match((text or "").strip())
    if not match:
        return None
    d, h, m, s = (int(match[k] or 0) for k in "dhms")
    return ((d * 24 + h) * 60 + m) * 60 + s


def runner_arguments(job: Job) -> list[str]:
    return ["-m", RUNNER_MODULE, "--time-limit", str(job.time_limit), "--", job.command, *job.args]


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def build(job: Job, uri: str, python: str, root: str) -> ET.Element:
    """The <Task> for `job`, run as `python -m iishost.jobs.run ...` in the project folder `root`."""
    ET.register_namespace("", NS)
    task = ET.Element(f"{{{NS}}}Task", {"version": "1.3"})
    info = _sub(task, "RegistrationInfo")
    _sub(info, "Description", f"manage.py {job.command} ({job.schedule}); made by `invoke jobs.register`")
    _sub(info, "URI", uri)
    triggers = _sub(task, "Triggers")
    if job.schedule.kind == "daily":
        trigger = _sub(triggers, "CalendarTrigger")
        hours, minutes = divmod(job.schedule.minutes, 60)
        _sub(trigger, "StartBoundary", f"{START_DATE}T{hours:02d}:{minutes:02d}:00")
        _sub(trigger, "Enabled", "true")
        _sub(_sub(trigger, "ScheduleByDay"), "DaysInterval", "1")
    elif job.schedule.kind == "every":
        trigger = _sub(triggers, "TimeTrigger")
        _sub(_sub(trigger, "Repetition"), "Interval", duration(job.schedule.minutes * 60))
        _sub(trigger, "StartBoundary", f"{START_DATE}T00:00:00")
        _sub(trigger, "Enabled", "true")
    else:
        _sub(_sub(triggers, "BootTrigger"), "Enabled", "true")
    principal = _sub(_sub(task, "Principals"), "Principal")
    principal.set("id", "Author")
    _sub(principal, "UserId", LOCAL_SERVICE_SID)
    _sub(principal, "RunLevel", "LeastPrivilege")
    settings = _sub(task, "Settings")
    _sub(settings, "MultipleInstancesPolicy", "IgnoreNew")
    _sub(settings, "DisallowStartIfOnBatteries", "false")
    _sub(settings, "StopIfGoingOnBatteries", "false")
    _sub(settings, "AllowHardTerminate", "true")
    _sub(settings, "StartWhenAvailable", "true")
    _sub(settings, "AllowStartOnDemand", "true")
    _sub(settings, "Enabled", "true")
    limit = job.time_limit + BACKSTOP if job.time_limit else 0
    _sub(settings, "ExecutionTimeLimit", duration(limit))
    actions = _sub(task, "Actions")
    actions.set("Context", "Author")
    exec_ = _sub(actions, "Exec")
    _sub(exec_, "Command", python)
    _sub(exec_, "Arguments", subprocess.list2cmdline(runner_arguments(job)))
    _sub(exec_, "WorkingDirectory", root)
    return task


def to_bytes(task: ET.Element) -> bytes:
    """UTF-16 with its declaration and byte-order mark, as Task Scheduler exports and imports tasks."""
    return ET.tostring(task, encoding="utf-16", xml_declaration=True)


@dataclass(frozen=True)
class TaskSummary:
    """What decides whether a registered task matches a job (compared field by field)."""

    uri: str
    command: str
    arguments: str
    working_directory: str
    schedule: str
    user: str
    run_level: str
    time_limit: int | None
    multiple_instances: str
    enabled: bool

    def differences(self, other: TaskSummary) -> list[str]:
        labels = {
            "command": "program", "arguments": "arguments", "working_directory": "folder",
            "schedule": "schedule", "user": "account", "run_level": "run level",
            "time_limit": "time limit", "multiple_instances": "overlap policy", "enabled": "enabled",
        }  # fmt: skip
        return [
            f"{label} {getattr(self, key)!r} -> {getattr(other, key)!r}"
            for key, label in labels.items()
            if getattr(self, key) != getattr(other, key)
        ]


def parse(xml: bytes | str) -> ET.Element:
    """A <Task> from schtasks /Query /XML output or a built task. The text may carry an encoding
    declaration that no longer matches (schtasks writes UTF-16's declaration in the console's code
    page), so it is dropped before parsing."""
    text = xml.decode("utf-16") if isinstance(xml, bytes) and xml[:2] in (b"\xff\xfe", b"\xfe\xff") else xml
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text.lstrip("\ufeff"))
    return ET.fromstring(text)  # noqa: S314 (output of the local schtasks.exe or our own)


def _find(task: ET.Element, *tags: str) -> ET.Element | None:
    return task.find("/".join(f"{{{NS}}}{tag}" for tag in tags))


def _value(task: ET.Element, *tags: str) -> str:
    element = _find(task, *tags)
    return (element.text or "").strip() if element is not None else ""


def _schedule(task: ET.Element) -> str:
    triggers = _find(task, "Triggers")
    found = list(triggers) if triggers is not None else []
    if len(found) != 1:
        return f"{len(found)} triggers"
    trigger = found[0]
    kind = trigger.tag.rpartition("}")[2]
    start = _value(trigger, "StartBoundary")
    if kind == "CalendarTrigger" and _value(trigger, "ScheduleByDay", "DaysInterval") == "1" and "T" in start:
        return "daily " + start.split("T", 1)[1][:5]
    if kind == "TimeTrigger" and _find(trigger, "Repetition", "Duration") is None:
        interval = seconds_of(_value(trigger, "Repetition", "Interval"))
        if interval and interval % 60 == 0:
            minutes = interval // 60
            return f"every {minutes} minute{'s' if minutes != 1 else ''}"
    if kind == "BootTrigger":
        return "at startup"
    return f"a {kind}"


def summary(task: ET.Element) -> TaskSummary:
    principal = _find(task, "Principals", "Principal")
    user = _value(principal, "UserId") if principal is not None else ""
    actions = _find(task, "Actions")
    execs = [a for a in actions] if actions is not None else []
    action = execs[0] if len(execs) == 1 and execs[0].tag == f"{{{NS}}}Exec" else None
    return TaskSummary(
        uri=_value(task, "RegistrationInfo", "URI"),
        command=_value(action, "Command") if action is not None else f"{len(execs)} actions",
        arguments=_value(action, "Arguments") if action is not None else "",
        working_directory=_value(action, "WorkingDirectory") if action is not None else "",
        schedule=_schedule(task),
        user=LOCAL_SERVICE if user.lower() in _LOCAL_SERVICE_NAMES else user,
        run_level=(_value(principal, "RunLevel") if principal is not None else "") or "LeastPrivilege",
        time_limit=seconds_of(_value(task, "Settings", "ExecutionTimeLimit") or "PT72H"),
        multiple_instances=_value(task, "Settings", "MultipleInstancesPolicy") or "IgnoreNew",
        enabled=(_value(task, "Settings", "Enabled") or "true").lower() == "true",
    )
