"""`invoke deploy`: from checked-out code to a site answering 200, in one repeatable command."""

from __future__ import annotations

import sys

from invoke import task
from invoke.exceptions import Exit

from iishost.doctor.run import after_failed_deploy

from .acl.tasks import grant_steps
from .app_plan import plan_app
from .checks import check_all, django_checks, installed_hph
from .iis.plan import plan_register, plan_restart
from .jobs.plan import plan_register as plan_jobs
from .jobs.tasks import write_task_files
from .runner import query
from .session import PLAN_HELP, UNDO_IIS, Session, user_errors
from .venv import package_set
from .verify import WINDOWS_SIGN_IN, failure_message, wait_for_200

DEV_SET_NOTE = (
    "note: .venv holds the development set (tests, emulator, lint); a server needs only"
    " requirements.txt: run `py bootstrap.py --server` once, later deploys keep it"
)


@task(help=PLAN_HELP)
def deploy(c, dry_run=False, json=False):
    """Check prerequisites, bootstrap, migrate, collectstatic, register IIS, grant ACLs, restart, verify."""
    with user_errors():
        session = Session.open(c, dry_run, json)
        settings = session.settings
        state = session.server_state()  # first: an unreadable IIS is named before its modules are asked
        problems = check_all(settings, session.appcmd, query)
        hph, unloadable = installed_hph(settings, session.appcmd)
        failed, note = django_checks(settings, sys.executable, query)
        problems += [p for p in (unloadable, failed) if p]
        for line in (hph, note):
            if line:
                session.note(line)
        if problems and not session.dry_run:
            raise Exit(
                "Prerequisites missing (nothing was changed):\n" + "\n".join(f"  - {p}" for p in problems)
            )
        for problem in problems:
            session.note(f"prerequisite missing: {problem}")
        if problems:
            session.note(
                f"A real deploy would stop here, before any change: {len(problems)} problem(s) above."
            )
        iis_steps = plan_register(settings, session.appcmd_argv0, state)
        acl_steps = grant_steps(session, show=False)
        # A new pool starts fresh; an existing one is recycled so the new code and settings load.
        restart = plan_restart(settings, session.appcmd_argv0, state)
        # Scheduled jobs last: they run the code and database the steps before have just updated.
        job_steps = plan_jobs(settings, session.schtasks_argv0, session.jobs_state())
        needs = ("appcmd", "icacls") + (("schtasks",) if settings.jobs else ())
        session.note(
            f"IIS: {len(iis_steps) or 'no'} change(s); ACL: {len(acl_steps) or 'no'} change(s)"
            + (f"; jobs: {len(job_steps) or 'no'} change(s)" if settings.jobs else "")
        )
        if package_set(settings.root) == "dev":
            session.note(DEV_SET_NOTE)
        if not session.dry_run:
            session.refuse_unless_able(needs)
        write_task_files(session, job_steps)
        session.execute(plan_app(settings, sys.executable) + iis_steps + acl_steps + restart + job_steps,
                        "deploy", needs, UNDO_IIS)  # fmt: skip
        if session.dry_run:
            session.note(f"then: wait up to {settings.check_timeout:g} s for 200 from {settings.check_url}")
            return
        try:
            ok, last = wait_for_200(settings.check_url, settings.check_timeout)
        except KeyboardInterrupt:
            raise Exit(
                "\nInterrupted (Ctrl+C) while waiting for the site: every step was applied; "
                f"check {settings.check_url} yourself.",
                code=130,
            ) from None
        if not ok:
            findings = [] if WINDOWS_SIGN_IN in last else after_failed_deploy(settings)
            raise Exit(
                failure_message(settings.check_url, settings.check_timeout, last, settings.root, findings),
                code=1,
            )
        print(f"{settings.check_url} answered 200: deployed.")
