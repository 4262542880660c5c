"""Plan least-privilege grants for the app-pool identity `IIS AppPool\\<pool>` (and, when the project
has scheduled jobs, for their account LOCAL SERVICE: job_targets).

Read & execute on the project, its venv and the Python installation the venv runs (the venv's
python.exe launches the base interpreter); modify only where the app writes: logs/, media/ and, for
SQLite, data/ (SQLite writes journal files beside the database, so the folder, not just the file).
Nothing else, and never Write on the Python installation: that would let the web identity replace
the interpreter. `/grant:r` replaces the identity's explicit grants on that folder, so a Write
granted there earlier is taken away by the same step. `(OI)(CI)` makes files and subfolders inherit.
A farm's media may be elsewhere (DJANGO_MEDIA_ROOT): a local folder is granted like media/; a share
(\\\\files\\site\\media) is not, since the pool reaches it as the server's computer account
(media_notes says whom to grant there); object storage has no folder to grant.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...farm import is_unc
from ..config import Settings
from ..plan import Step
from .state import Ace, AclState, for_principal

# The account scheduled jobs run as (iishost/deploy/jobs/taskxml.py), as icacls names it.
JOBS_IDENTITY = "NT AUTHORITY\\LOCAL SERVICE"


@dataclass(frozen=True)
class Target:
    path: str
    rights: str  # "RX" or "M"
    why: str


def targets(settings: Settings, home: str) -> list[Target]:
    root = settings.root
    wanted = [
        Target(str(root), "RX", "read & execute on the project (code, web.config, static files)"),
        Target(str(root / ".venv"), "RX", "read & execute on the venv"),
        Target(home, "RX", "read & execute on the Python installation the venv runs (pyvenv.cfg home)"),
        Target(str(root / "logs"), "M", "modify on logs/ (HttpPlatformHandler's stdout log, django.log)"),
    ]
    media = media_folder(settings)
    if media is not None:
        named = "media/" if media == str(root / "media") else "DJANGO_MEDIA_ROOT"
        wanted.append(Target(media, "M", f"modify on {named} (uploaded files)"))
    if settings.database == "sqlite":
        wanted.append(
            Target(str(root / "data"), "M", "modify on data/ (SQLite database and its journal files)")
        )
    return wanted


def media_folder(settings: Settings) -> str | None:
    """The local folder uploads are saved in, or None when icacls here has none to grant: a farm's
    media on a share (UNC) or in object storage (DJANGO_MEDIA_STORAGE)."""
    if settings.farm and (settings.media_storage or is_unc(settings.media_root)):
        return None
    return (settings.farm and settings.media_root) or str(settings.root / "media")


def media_notes(settings: Settings, computer: str = "") -> list[str]:
    """What to do by hand where media_folder has nothing to grant. An app pool's identity reaches the
    network as the server's computer account, DOMAIN\\SERVER$ (iishost/docs/iis-facts.md), so the
    share's own permissions decide, on the file server."""
    if not settings.farm:
        return []
    if settings.media_storage:
        return [f"media: in object storage ({settings.media_storage}): no folder to grant here"]
    if not is_unc(settings.media_root):
        return []
    account = f"DOMAIN\\{computer or 'SERVER'}$"
    return [
        f"media: {settings.media_root} is a share, not granted here: {settings.identity} reaches it as this "
        f"server's computer account. On the file server, grant {account} (and every other server of the "
        "farm, each its own DOMAIN\\NAME$) Change on the share and Modify on its folder "
        '(iishost/docs/farm.md, "Media").'
    ]


def job_targets(settings: Settings) -> list[Target]:
    """What the scheduled jobs' account (LOCAL SERVICE) needs: read the project and its venv, modify
    logs/ (each run's log) and, for SQLite, data/. Nothing on the Python installation: an all-users
    install is readable by BUILTIN\\Users, which LOCAL SERVICE belongs to (iishost/docs/iis-facts.md)."""
    root = settings.root
    wanted = [
        Target(str(root), "RX", "scheduled jobs: read & execute on the project"),
        Target(str(root / ".venv"), "RX", "scheduled jobs: read & execute on the venv"),
        Target(str(root / "logs"), "M", "scheduled jobs: modify on logs/ (logs/jobs/, django.log)"),
    ]
    if settings.database == "sqlite":
        wanted.append(
            Target(str(root / "data"), "M", "scheduled jobs: modify on data/ (the SQLite database)")
        )
    return wanted


def satisfied(aces: list[Ace] | None, identity: str, rights: str) -> bool:
    """Exactly one explicit grant for the identity, inherited by files and folders, with `rights`."""
    if aces is None:
        return False
    explicit = [a for a in for_principal(aces, identity) if not a.inherited]
    return len(explicit) == 1 and explicit[0].flags == {"OI", "CI"} and explicit[0].rights == (rights,)


def grants(settings: Settings, home: str) -> list[tuple[str, Target]]:
    """(account, target) for the app pool, and for the jobs' account when the project has jobs."""
    wanted = [(settings.identity, t) for t in targets(settings, home)]
    if settings.jobs is not None:
        wanted += [(JOBS_IDENTITY, t) for t in job_targets(settings)]
    return wanted


def plan_grants(settings: Settings, icacls: str, home: str, state: AclState) -> list[Step]:
    steps = []
    for identity, target in grants(settings, home):
        aces = state.aces.get(target.path)
        if satisfied(aces, identity, target.rights):
            continue
        explicit = [str(a) for a in for_principal(aces or [], identity) if not a.inherited]
        why = target.why + (f" (replacing {', '.join(explicit)})" if explicit else "")
        steps.append(Step(why, [icacls, target.path, "/grant:r", f"{identity}:(OI)(CI){target.rights}"]))
    return steps
