"""Plan the schtasks commands that make Task Scheduler match the jobs in invoke.yaml, and only those.

Pure: (Settings, JobsState) in, Steps out. A task is this project's when its action's working folder
is this project's folder; one of a configured name on another folder is someone else's and is
refused, never replaced (as the IIS planner treats a site on another folder). Each task is written
whole from XML (`schtasks /Create /TN <name> /XML <file> /F`; /F replaces an existing task of that
name, Microsoft "schtasks create"), so every setting is explicit and a re-run converges.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Settings
from ..plan import Refusal, Step
from .config import Job, JobsConfig
from .state import JobsState
from .taskxml import TaskSummary, build, summary, to_bytes

# Where the task definitions are written just before `schtasks /Create /XML` reads them (git-ignored).
XML_FOLDER = ".scheduled-tasks"


def _same_path(a: str, b: str) -> bool:
    return a.replace("/", "\\").rstrip("\\").lower() == b.replace("/", "\\").rstrip("\\").lower()


def venv_python(root: Path) -> str:
    """The venv's interpreter, which the task runs (bootstrap.py makes it)."""
    return str(root / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))


def xml_path(settings: Settings, job: Job) -> Path:
    return settings.root / XML_FOLDER / f"{job.name}.xml"


def definition(settings: Settings, jobs: JobsConfig, job: Job) -> bytes:
    return to_bytes(build(job, jobs.path(job.name), venv_python(settings.root), str(settings.root)))


def task_files(settings: Settings) -> dict[Path, bytes]:
    """Each configured job's task XML, by the path the Create step names."""
    jobs = settings.jobs
    return {xml_path(settings, job): definition(settings, jobs, job) for job in (jobs.jobs if jobs else ())}


def ours(task: TaskSummary, settings: Settings) -> bool:
    return _same_path(task.working_directory, str(settings.root))


def _not_ours(path: str, task: TaskSummary, settings: Settings) -> str:
    return (
        f'scheduled task "{path}" runs in {task.working_directory or "no folder"}, not in this project '
        f"({settings.root}): it is not this project's to replace or delete. Set jobs.folder to a folder name "
        "of this project's own (invoke.local.yaml), or delete that task yourself "
        f'(schtasks /Delete /TN "{path}" /F) if it really is a leftover.'
    )


def plan_register(settings: Settings, schtasks: str, state: JobsState) -> list[Step]:
    jobs = settings.jobs
    if jobs is None:
        return []
    steps = []
    for job in jobs.jobs:
        path = jobs.path(job.name)
        current = state.tasks.get(path.lower())
        if current is not None and not ours(current, settings):
            raise Refusal(
                f"Refusing to register the jobs (nothing was changed): {_not_ours(path, current, settings)}"
            )
        wanted = summary(build(job, path, venv_python(settings.root), str(settings.root)))
        if current == wanted:
            continue
        why = (
            f"schedule {path}: manage.py {job.command} {job.schedule}, as {wanted.user}"
            if current is None
            else f"update {path}: " + "; ".join(current.differences(wanted))
        )
        steps.append(Step(why, [schtasks, "/Create", "/TN", path, "/XML", xml_path(settings, job), "/F"]))
    configured = {jobs.path(job.name).lower() for job in jobs.jobs}
    for key, task in sorted(state.tasks.items()):
        if key not in configured and ours(task, settings):
            steps.append(_delete(schtasks, task, "no longer in invoke.yaml's jobs.scheduled"))
    return steps


def _delete(schtasks: str, task: TaskSummary, reason: str) -> Step:
    return Step(f"delete {task.uri} ({reason})", [schtasks, "/Delete", "/TN", task.uri, "/F"])


def plan_unregister(settings: Settings, schtasks: str, state: JobsState) -> list[Step]:
    """Delete this project's tasks in its folder; another project's are left alone."""
    return [
        _delete(schtasks, task, "this project's scheduled task")
        for _, task in sorted(state.tasks.items())
        if ours(task, settings)
    ]


def plan_run(settings: Settings, schtasks: str, state: JobsState, name: str) -> list[Step]:
    """Start one registered job now, as Task Scheduler would (its account, its limits)."""
    jobs = settings.jobs
    job = next((j for j in (jobs.jobs if jobs else ()) if j.name.lower() == name.lower()), None)
    if job is None:
        known = ", ".join(j.name for j in jobs.jobs) if jobs and jobs.jobs else "none"
        raise Refusal(f"no job named {name!r} in invoke.yaml's jobs.scheduled (configured: {known})")
    path = jobs.path(job.name)
    task = state.tasks.get(path.lower())
    if task is None:
        raise Refusal(f'"{path}" is not registered: run `invoke jobs.register` (or `invoke deploy`) first')
    if not ours(task, settings):
        raise Refusal(_not_ours(path, task, settings))
    return [Step(f"run {path} now (manage.py {job.command})", [schtasks, "/Run", "/TN", path])]
