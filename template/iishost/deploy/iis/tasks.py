"""`invoke iis.*`: register, unregister, inspect and recycle this project's IIS site and app pool."""

from __future__ import annotations

from invoke import Collection, task

from ..plan import describe
from ..session import PLAN_HELP, UNDO_IIS, Session, user_errors
from .plan import plan_recycle, plan_register, plan_unregister, wanted_bindings

NEEDS = ("appcmd",)


def run_plan(c, dry_run, json, planner) -> None:
    """Read the server, plan with `planner`, then show or apply the steps."""
    with user_errors():
        session = Session.open(c, dry_run, json, NEEDS)
        steps = planner(session.settings, session.appcmd_argv0, session.server_state())
        session.execute(steps, "IIS", NEEDS, UNDO_IIS)


@task(help=PLAN_HELP)
def register(c, dry_run=False, json=False):
    """Create or update the app pool and site (bindings, path, handlers unlock): only the difference."""
    run_plan(c, dry_run, json, plan_register)


@task(help=PLAN_HELP)
def unregister(c, dry_run=False, json=False):
    """Delete the site and its app pool (files, logs and folder permissions are left alone)."""
    run_plan(c, dry_run, json, plan_unregister)


@task(help=PLAN_HELP)
def recycle(c, dry_run=False, json=False):
    """Restart the app: overlapped recycle of its app pool (the old process finishes its requests)."""
    run_plan(c, dry_run, json, plan_recycle)


@task
def status(c):
    """Show the site, the app pool and what `iis.register` would still change."""
    with user_errors():
        session = Session.open(c)
        settings, state = session.settings, session.server_state()
        pool = state.pools.get(settings.app_pool)
        site = state.sites.get(settings.site_name)
        print(f'app pool "{settings.app_pool}": ' + (f"{pool.state}" if pool else "not registered"))
        if site:
            print(f'site "{site.name}": {site.state}, app pool "{site.app_pool}", path {site.physical_path}')
            for binding in site.bindings:
                print(f"  binding {binding}")
            print("  handlers section: " + ("unlocked" if site.name in state.handlers_unlocked else "LOCKED"))
            anonymous = state.anonymous_user.get(site.name)
            print(
                "  anonymous requests (and static files) run as: "
                + ("the app pool identity" if anonymous == "" else f"{anonymous} (iis.register changes it)")
            )
            auth = state.authentication.get(site.name)
            if auth is not None:
                on = {True: "on", False: "off"}
                print(
                    f"  Windows authentication: {on[auth.windows]}, anonymous: {on[auth.anonymous]}, "
                    f"signed-in requests read files as: {auth.user_override}"
                )
        else:
            print(f'site "{settings.site_name}": not registered')
        print("wanted bindings: " + ", ".join(map(str, wanted_bindings(settings))))
        print("settings (invoke.yaml < INVOKE_* variables < invoke.local.yaml):")
        for key, value in settings.effective().items():
            print(f"  {key}: {value}")
        print(describe(plan_register(settings, session.appcmd_argv0, state), "iis.register would change"))


ns = Collection("iis", register, unregister, status, recycle)
