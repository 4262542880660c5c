"""`invoke acl.grant`: least-privilege folder permissions for the app-pool identity."""

from __future__ import annotations

import os

from invoke import Collection, task

from ..session import PLAN_HELP, Session, user_errors
from .plan import media_notes, plan_grants, targets
from .state import for_principal


def show_current(session: Session, home: str, state) -> None:
    """What the identity holds now on each folder, where icacls could read it."""
    identity = session.settings.identity
    session.note(f"{identity} now:")
    for target in targets(session.settings, home):
        aces = state.aces.get(target.path) if state.tools_present else None
        held = "unreadable" if aces is None else (", ".join(
            ("inherited " if a.inherited else "") + "(" + ",".join(a.rights) + ")"
            for a in for_principal(aces, identity)
        ) or "nothing")  # fmt: skip
        session.note(f"  {target.path}: {held} (wanted ({target.rights}))")


def grant_steps(session: Session, show: bool = True):
    home = session.python_home()
    state = session.acl_state(home)
    if show:
        show_current(session, home, state)
    for note in media_notes(session.settings, os.environ.get("COMPUTERNAME", "")):
        session.note(note)
    return plan_grants(session.settings, session.icacls_argv0, home, state)


@task(help=PLAN_HELP)
def grant(c, dry_run=False, json=False):
    """Grant IIS AppPool\\<pool> (and the jobs' LOCAL SERVICE) read & execute; modify where they write."""
    with user_errors():
        session = Session.open(c, dry_run, json, ("icacls",))
        session.execute(grant_steps(session), "ACL", ("icacls",))


ns = Collection("acl", grant)
