"""`invoke jobs.*`: register, unregister, inspect and start this project's scheduled jobs."""

from __future__ import annotations

from invoke import Collection, task
from invoke.exceptions import Exit

from ..plan import Step, describe
from ..session import PLAN_HELP, Session, user_errors
from .plan import ours, plan_register, plan_run, plan_unregister, task_files
from .state import last_run

NEEDS = ("schtasks",)
UNDO_JOBS = "To undo instead: `invoke jobs.unregister` deletes this project's scheduled tasks."


def write_task_files(session: Session, steps: list[Step]) -> None:
    """Before a real run: the XML file each `schtasks /Create ... /XML FILE` step reads."""
    if session.dry_run:
        return
    files = {str(path): (path, data) for path, data in task_files(session.settings).items()}
    for step in steps:
        if step.argv[1] == "/Create":
            path, data = files[step.argv[step.argv.index("/XML") + 1]]
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)


def run_plan(c, dry_run, json, planner) -> None:
    with user_errors():
        session = Session.open(c, dry_run, json, NEEDS)
        if session.settings.jobs is None:
            session.note("no jobs in invoke.yaml (jobs.scheduled): nothing to schedule")
        steps = planner(session.settings, session.schtasks_argv0, session.jobs_state())
        write_task_files(session, steps)
        session.execute(steps, "jobs", NEEDS, UNDO_JOBS)


@task(help=PLAN_HELP)
def register(c, dry_run=False, json=False):
    """Create or update the scheduled tasks of invoke.yaml's jobs (as LOCAL SERVICE); delete dropped ones."""
    run_plan(c, dry_run, json, plan_register)


@task(help=PLAN_HELP)
def unregister(c, dry_run=False, json=False):
    """Delete this project's scheduled tasks (their logs stay in logs/jobs/)."""
    run_plan(c, dry_run, json, plan_unregister)


@task(help={"name": "the job's name in invoke.yaml's jobs.scheduled", **PLAN_HELP})
def run(c, name, dry_run=False, json=False):
    """Start a registered job now through Task Scheduler (its account, its time limit); see logs/jobs/."""
    run_plan(c, dry_run, json, lambda s, schtasks, state: plan_run(s, schtasks, state, name))


@task
def status(c):
    """Each job's task: registered or not, last run and result, and what jobs.register would change."""
    with user_errors():
        session = Session.open(c)
        settings, jobs = session.settings, session.settings.jobs
        if jobs is None:
            raise Exit("no jobs in invoke.yaml (jobs.scheduled): nothing is scheduled", code=0)
        state = session.jobs_state()
        print(f"Task Scheduler folder \\{jobs.folder}, account NT AUTHORITY\\LOCAL SERVICE")
        for job in jobs.jobs:
            path = jobs.path(job.name)
            current = state.tasks.get(path.lower())
            args = " ".join([job.command, *job.args])
            print(f"{path}: manage.py {args}, {job.schedule}, limit {job.time_limit or 'none'} s")
            if current is None:
                print("  not registered")
                continue
            if not ours(current, settings):
                print(f"  a task of this name runs in {current.working_directory}: another project's")
                continue
            row = last_run(session.schtasks, session.query, path)
            print(
                f"  registered; status {row.get('Status', '?')}, last run {row.get('Last Run Time', '?')}, "
                f"last result {row.get('Last Result', '?')}, next run {row.get('Next Run Time', '?')}"
            )
        print("logs of each run: logs/jobs/<job command>-<time>.log")
        print(describe(plan_register(settings, session.schtasks_argv0, state), "jobs.register would change"))


ns = Collection("jobs", register, unregister, status, run)
