"""Plan least-privilege grants for the app-pool identity `IIS AppPool\\<pool>`.

Read & execute on the project, its venv and the Python installation the venv runs (the venv's
python.exe launches the base interpreter); modify only where the app writes: logs/, media/ and, for
SQLite, data/ (SQLite writes journal files beside the database, so the folder, not just the file).
Nothing else, and never Write on the Python installation: that would let the web identity replace
the interpreter. `/grant:r` replaces the identity's explicit grants on that folder, so a Write
granted there earlier is taken away by the same step. `(OI)(CI)` makes files and subfolders inherit.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..plan import Step
from .state import Ace, AclState, for_principal


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
        Target(str(root / "media"), "M", "modify on media/ (uploaded files)"),
    ]
    if settings.database == "sqlite":
        wanted.append(
            Target(str(root / "data"), "M", "modify on data/ (SQLite database and its journal files)")
        )
    return wanted


def satisfied(aces: list[Ace] | None, identity: str, rights: str) -> bool:
    """Exactly one explicit grant for the identity, inherited by files and folders, with `rights`."""
    if aces is None:
        return False
    explicit = [a for a in for_principal(aces, identity) if not a.inherited]
    return len(explicit) == 1 and explicit[0].flags == {"OI", "CI"} and explicit[0].rights == (rights,)


def plan_grants(settings: Settings, icacls: str, home: str, state: AclState) -> list[Step]:
    steps = []
    for target in targets(settings, home):
        aces = state.aces.get(target.path)
        if satisfied(aces, settings.identity, target.rights):
            continue
        explicit = [str(a) for a in for_principal(aces or [], settings.identity) if not a.inherited]
        why = target.why + (f" (replacing {', '.join(explicit)})" if explicit else "")
        steps.append(
            Step(why, [icacls, target.path, "/grant:r", f"{settings.identity}:(OI)(CI){target.rights}"])
        )
    return steps
