"""The scheduled jobs a project declares in invoke.yaml's `jobs:` section, checked before any use.

    jobs:
      folder: "my_site"            # Task Scheduler folder: \\my_site\\<job>
      scheduled:
        clearsessions:
          command: "clearsessions"  # a manage.py command
          args: ""                  # its arguments, split like a shell would (shlex)
          schedule: "daily 03:00"   # or "every 15 minutes", or "at startup"
          time_limit: "3600"        # seconds; Task Scheduler stops the run after that ("0": no limit)

Values are strings, as in the rest of invoke.yaml (INVOKE_JOBS_SCHEDULED_CLEARSESSIONS_SCHEDULE
overrides one); invoke.local.yaml may use a YAML list for args. Names and arguments are limited to
characters that mean nothing to Task Scheduler: it expands %VARIABLES% in an action's arguments
(Microsoft, "ExecAction object", Remarks), and a task name "must conform to the rules for file
names" (Microsoft, "schtasks create", /TN): no \\ / : * ? " < > |.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# A task or folder name: letters, digits, _ . - and no leading punctuation (so never `--x`).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A Django management command is a Python module name (django.core.management.find_commands).
COMMAND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# An argument: printable, no % (expanded by Task Scheduler) and no " (the C-runtime quoting).
ARGUMENT = re.compile(r'^[^"%\x00-\x1f\x7f]{1,200}$')
DAILY = re.compile(r"^daily (?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)$")
EVERY = re.compile(r"^every (?P<n>\d{1,4}) minutes?$")
STARTUP = "at startup"
SCHEDULE_FORMS = '"daily HH:MM" (24-hour, server time), "every N minutes" (1 to 1440) or "at startup"'
KNOWN_KEYS = {"command", "args", "schedule", "time_limit"}
DEFAULT_TIME_LIMIT = 3600


class JobsError(ValueError):
    """A job definition that cannot work; says which and how to fix it (a SettingsError too)."""


@dataclass(frozen=True)
class Schedule:
    kind: str  # "daily", "every", "startup"
    minutes: int = 0  # daily: minutes after midnight; every: the interval

    def __str__(self) -> str:
        if self.kind == "daily":
            return f"daily {self.minutes // 60:02d}:{self.minutes % 60:02d}"
        if self.kind == "every":
            return f"every {self.minutes} minute{'s' if self.minutes != 1 else ''}"
        return STARTUP


@dataclass(frozen=True)
class Job:
    name: str
    command: str
    args: tuple[str, ...]
    schedule: Schedule
    time_limit: int  # seconds, 0 = none


@dataclass(frozen=True)
class JobsConfig:
    folder: str
    jobs: tuple[Job, ...]

    def path(self, job_name: str) -> str:
        """The task's full name as schtasks takes and shows it: \\folder\\name."""
        return f"\\{self.folder}\\{job_name}"


def parse_schedule(value, label: str) -> Schedule:
    text = " ".join(str(value).lower().split())
    if match := DAILY.match(text):
        return Schedule("daily", int(match["h"]) * 60 + int(match["m"]))
    if (match := EVERY.match(text)) and 1 <= int(match["n"]) <= 1440:
        return Schedule("every", int(match["n"]))
    if text == STARTUP:
        return Schedule("startup")
    raise JobsError(f"{label} is {value!r}: write {SCHEDULE_FORMS}")


def _args(value, label: str) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        try:
            items = shlex.split(str(value or ""))
        except ValueError as exc:
            raise JobsError(f"{label}: {exc} in {value!r}") from None
    for item in items:
        if not ARGUMENT.match(item):
            raise JobsError(
                f"{label}: {item!r} is not allowed: arguments may not hold %, double quotes or control "
                "characters (Task Scheduler expands %VARIABLES% in a task's arguments)"
            )
    return tuple(items)


def _seconds(value, label: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) > 31 * 24 * 3600:
        raise JobsError(
            f"{label} must be whole seconds from 0 (no limit) to 2678400 (31 days), not {value!r}"
        )
    return int(text)


def _job(name, values, label: str) -> Job:
    name = str(name)
    if not NAME.match(name):
        raise JobsError(
            f"{label}: {name!r} is not a usable job name: 1 to 64 letters, digits, _ . - starting with "
            "a letter or digit (it names the scheduled task and its log files)"
        )
    if not isinstance(values, dict):
        raise JobsError(f"{label}.{name} must be a mapping with command and schedule, not {values!r}")
    unknown = sorted(set(values) - KNOWN_KEYS)
    if unknown:
        raise JobsError(
            f"{label}.{name}: unknown key(s) {', '.join(unknown)}; a job has {', '.join(sorted(KNOWN_KEYS))}"
        )
    command = str(values.get("command") or "").strip()
    if not COMMAND.match(command):
        raise JobsError(
            f"{label}.{name}.command must be a manage.py command name, e.g. clearsessions, not {command!r}"
        )
    if "schedule" not in values:
        raise JobsError(f"{label}.{name}.schedule is missing: write {SCHEDULE_FORMS}")
    return Job(
        name=name,
        command=command,
        args=_args(values.get("args", ""), f"{label}.{name}.args"),
        schedule=parse_schedule(values["schedule"], f"{label}.{name}.schedule"),
        time_limit=_seconds(values.get("time_limit", DEFAULT_TIME_LIMIT), f"{label}.{name}.time_limit"),
    )


def _plain(value):
    """Invoke hands nested sections over as DataProxy objects: plain dicts from here on."""
    if hasattr(value, "keys"):
        return {str(k): _plain(value[k]) for k in value}
    return value


def parse_jobs(section, default_folder: str) -> JobsConfig | None:
    """The `jobs:` section (a dict, or None when the project has none) as a checked JobsConfig."""
    section = _plain(section)
    if not section:
        return None
    unknown = sorted(set(section) - {"folder", "scheduled"})
    if unknown:
        raise JobsError(
            f"unknown setting(s) jobs.{', jobs.'.join(unknown)}: the jobs section has folder and scheduled"
        )
    folder = str(section.get("folder") or default_folder)
    if not NAME.match(folder):
        raise JobsError(
            f"jobs.folder {folder!r} is not a usable Task Scheduler folder name: letters, digits, _ . -"
        )
    scheduled = section.get("scheduled") or {}
    if not isinstance(scheduled, dict):
        raise JobsError(f"jobs.scheduled must map job names to their settings, not {scheduled!r}")
    jobs = tuple(_job(name, values, "jobs.scheduled") for name, values in scheduled.items())
    lowered = [j.name.lower() for j in jobs]
    if len(set(lowered)) != len(lowered):
        raise JobsError("jobs.scheduled: two jobs differ only in case; Task Scheduler names ignore case")
    return JobsConfig(folder, jobs)
