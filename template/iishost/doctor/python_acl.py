"""Checks 4-5: the venv's base Python installed for all users and readable by the app pool; the
folder grants as `invoke acl.grant` plans them, and static/ readable by IIS's anonymous user."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

from iishost.deploy.acl.plan import plan_grants, targets
from iishost.deploy.acl.state import AclState, read_aces
from iishost.deploy.iis.state import ServerState
from iishost.deploy.plan import describe

from .context import Context
from .result import Check, failed, passed, skipped

# Groups every app-pool identity belongs to (Microsoft, "Understanding Built-In User and Group
# Accounts in IIS"; "Application Pool Identities"): a grant to one of them reaches the pool too.
POOL_GROUPS = ("builtin\\users", "builtin\\iis_iusrs", "everyone", "nt authority\\authenticated users")
READ = {"F", "M", "RX", "R"}
INTERPRETERS = ("python.exe", "python", "python3")


def per_user_install(home: str) -> bool:
    r"""A Python installed "for me only" lives in the user's profile (C:\Users\x\AppData\Local\Programs
    \Python\...), which the app-pool identity may not read."""
    parts = [p.lower() for p in PureWindowsPath(home).parts]
    return "users" in parts and "appdata" in parts


def readers(aces, identity: str) -> tuple[bool, bool]:
    """(may read, denied) for `identity` from icacls entries: its own or its groups'."""
    names = {identity.lower(), *POOL_GROUPS}
    mine = [a for a in aces if a.principal.lower() in names]
    denied = any("DENY" in a.flags and READ & set(a.rights) for a in mine)
    allowed = any("DENY" not in a.flags and READ & set(a.rights) for a in mine)
    return allowed and not denied, denied


def base_python(ctx: Context) -> Check:
    name, title = "python", "the venv's base Python installed for all users, readable by the app pool"
    home = ctx.home
    if not isinstance(home, str):
        return failed(name, title, str(home), "py bootstrap.py")
    if not any((Path(home) / exe).is_file() for exe in INTERPRETERS):
        return failed(
            name, title, f"the venv's Python is gone: no interpreter in {home} (pyvenv.cfg home)",
            "reinstall that Python for all users, or delete .venv and run bootstrap.py with the installed "
            "one",
        )  # fmt: skip
    if per_user_install(home):
        return failed(
            name, title,
            f"{home} (pyvenv.cfg home) is a per-user install, inside a user profile the app pool "
            f"({ctx.settings.identity}) cannot read: HPH's process exits at once (502.5)",
            "install Python for all users (python.org installer: Customize, 'Install Python for all users', "
            "into C:\\Program Files), then delete .venv and run `py bootstrap.py` with that Python",
        )  # fmt: skip
    if ctx.icacls is None:
        return passed(name, title, f"{home}; its ACL is not checked: {ctx.missing('icacls')}")
    aces = read_aces(ctx.icacls, home, ctx.query)
    identity = ctx.settings.identity
    allowed, denied = readers(aces or [], identity)
    if aces is not None and allowed:
        return passed(name, title, f"{home}, readable by {identity}")
    why = "icacls cannot read its ACL" if aces is None else ("denied" if denied else "no read entry")
    return failed(
        name, title, f"{home}: {identity} may not read it ({why})",
        f'icacls "{home}" /grant:r "{identity}:(OI)(CI)RX" (as admin; `invoke acl.grant` does it)',
    )  # fmt: skip


def acls(ctx: Context) -> Check:
    name, title = "acl", "folder permissions as `invoke acl.grant` plans them"
    if ctx.icacls is None:
        return skipped(name, title, ctx.missing("icacls"))
    home = ctx.home if isinstance(ctx.home, str) else str(Path(ctx.python).parent)
    paths = [t.path for t in targets(ctx.settings, home)]
    state = AclState({path: read_aces(ctx.icacls, path, ctx.query) for path in paths})
    steps = plan_grants(ctx.settings, ctx.icacls, home, state)
    problems, fixes = [], []
    if steps:
        problems.append(describe(steps, "still to grant"))
        fixes.append("invoke acl.grant (as admin), or the commands above")
    static = _static_reader(ctx)
    if static:
        problems.append(static)
        fixes.append("invoke iis.register (runs anonymous requests as the app-pool identity)")
    if problems:
        return failed(name, title, "\n".join(problems), "; ".join(fixes))
    return passed(name, title, f"{ctx.settings.identity} holds every planned grant ({len(paths)} folders)")


def _static_reader(ctx: Context) -> str:
    """When IIS serves static/ itself (static/web.config), it reads the files as the anonymous user:
    the app-pool identity (userName "", covered by the grants) or another account, e.g. IUSR, that
    the grants do not cover (401.3 on a hardened folder; iishost/docs/deploying.md)."""
    state, site = ctx.state, ctx.settings.site_name
    if not (ctx.root / "static" / "web.config").is_file() or not isinstance(state, ServerState):
        return ""
    user = state.anonymous_user.get(site)
    if user is None or user == "":
        return ""
    return (
        f'IIS serves static/ as the anonymous user {user} for site "{site}", not the app-pool identity '
        "the grants cover: 401.3 once the folder no longer inherits Users' read"
    )
