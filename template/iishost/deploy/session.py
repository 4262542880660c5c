"""What every server-changing task shares: settings, tools, state, printing and the run-or-show choice.

The task functions stay short: they build a Session, ask the planners for steps and hand them to
`execute`. Errors the user can fix (settings, refusals, a failed step) end the task with their
message and exit code 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from invoke.exceptions import Exit

from .. import PROJECT_ROOT
from . import tools
from .acl.plan import targets
from .acl.state import AclState, read_aces
from .config import Settings, SettingsError, from_config, load_local_file
from .iis.state import ServerState, read_state
from .jobs.state import JobsState
from .jobs.state import read_state as read_jobs
from .plan import Refusal, Step, describe, to_json
from .runner import QueryFailed, Runner, StepFailed, query
from .venv import python_home

# Help for the --dry-run and --json flags of every task that changes the server.
PLAN_HELP = {
    "dry_run": "print the plan (why, exact command) and change nothing",
    "json": 'print the plan as JSON: [{"why": ..., "argv": [...]}]; changes nothing',
}
NO_IIS = "no IIS on this machine (appcmd.exe not found): planning against an empty server"
# After an IIS step fails or is interrupted: the way back, besides finishing with the same command.
UNDO_IIS = (
    "To undo instead: `invoke iis.unregister` removes this project's site and app pool (only if the site "
    "is on this folder); `invoke iis.status` shows what exists now."
)


@contextlib.contextmanager
def user_errors():
    """Turn the errors a user can fix into a clean exit with the message. A failure while steps run is
    a StepFailed (its report says what was done); Ctrl+C anywhere else comes before or after them."""
    try:
        yield
    except (SettingsError, Refusal, StepFailed, QueryFailed) as exc:
        raise Exit(f"\n{exc}", code=1) from None
    except KeyboardInterrupt:
        raise Exit(
            "\nInterrupted (Ctrl+C) while reading the server's state: nothing was changed.", code=130
        ) from None


@dataclass
class Session:
    settings: Settings
    dry_run: bool = False
    as_json: bool = False
    appcmd: str | None = None
    icacls: str | None = None
    schtasks: str | None = None
    steps: list[Step] = field(default_factory=list)

    @classmethod
    def open(cls, c, dry_run=False, as_json=False, needs: tuple[str, ...] = ()) -> Session:
        """Settings and tools; a real run that needs a missing tool is refused here, before the
        server is read (an empty state would otherwise read as "nothing to change")."""
        load_local_file(c.config, PROJECT_ROOT)
        settings = from_config(c.config, PROJECT_ROOT)
        session = cls(
            settings, dry_run or as_json, as_json,
            tools.find("appcmd", settings.appcmd), tools.find("icacls", settings.icacls),
            tools.find("schtasks", settings.schtasks),
        )  # fmt: skip
        if not session.dry_run and needs:
            session.refuse_unless_able(needs)
        return session

    def note(self, message: str) -> None:
        """Commentary: on stderr with --json so stdout stays one JSON document."""
        print(message, file=sys.stderr if self.as_json else sys.stdout, flush=True)

    @property
    def appcmd_argv0(self) -> str:
        """The appcmd path in plans; the Windows default when planning on a machine without IIS."""
        return self.appcmd or str(tools.DEFAULTS["appcmd"]())

    @property
    def icacls_argv0(self) -> str:
        return self.icacls or "icacls.exe"

    @property
    def schtasks_argv0(self) -> str:
        return self.schtasks or str(tools.DEFAULTS["schtasks"]())

    @staticmethod
    def query(argv):
        """The runner's read-only query, for tasks that ask a tool one more question."""
        return query(argv)

    def jobs_state(self) -> JobsState:
        """This project's scheduled tasks; none read when the project declares no jobs."""
        if self.settings.jobs is None:
            return JobsState()
        if self.schtasks is None:
            self.note("no schtasks.exe on this machine: planning against a Task Scheduler with no tasks")
        return read_jobs(self.schtasks, query, self.settings.jobs.folder)

    def server_state(self) -> ServerState:
        if self.appcmd is None:
            self.note(NO_IIS)
        return read_state(self.appcmd, query, self.settings.site_name)

    def acl_state(self, home: str) -> AclState:
        if self.icacls is None:
            self.note("no icacls on this machine: planning against folders with no grants")
            return AclState(tools_present=False)
        paths = [t.path for t in targets(self.settings, home)]
        return AclState({path: read_aces(self.icacls, path, query) for path in paths})

    def python_home(self) -> str:
        """pyvenv.cfg's `home`; in a dry run before bootstrap, the folder of the Python running this
        task, which is the one bootstrap.py will make the venv with."""
        try:
            return python_home(self.settings.root)
        except SettingsError:
            if not self.dry_run:
                raise
            home = str(Path(getattr(sys, "_base_executable", sys.executable)).parent)
            self.note(f"no venv yet: planning with the Python bootstrap.py would use ({home})")
            return home

    def refuse_unless_able(self, needs: tuple[str, ...]) -> None:
        """A real run needs the tools it will call and an elevated prompt: refuse before any change."""
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise Refusal(
                f"Cannot change this server: {' and '.join(m + '.exe' for m in missing)} not found, so this "
                "is not a Windows server with IIS. Use --dry-run to see the plan."
            )
        if not tools.is_elevated():
            raise Refusal(
                "Not elevated: changing IIS and folder permissions needs an administrator. Open PowerShell "
                "with 'Run as administrator' and run the same command (nothing was changed)."
            )

    def show(self, steps: list[Step], title: str) -> None:
        if self.as_json:
            print(to_json(steps), flush=True)
        else:
            print(
                describe(steps, title + (" (dry run: nothing changed)" if self.dry_run else "")), flush=True
            )

    def execute(self, steps: list[Step], title: str, needs: tuple[str, ...], hint: str = "") -> None:
        """--dry-run/--json: show the plan. Otherwise apply it, stopping at the first failure with the
        done/not-done report (`hint`: how to undo instead)."""
        if self.dry_run:
            self.show(steps, title)
            return
        self.refuse_unless_able(needs)
        if not steps:
            print(f"{title}: nothing to change.", flush=True)
            return
        print(f"{title}: {len(steps)} step(s)", flush=True)
        Runner(timeout=self.settings.step_timeout, hint=hint).apply(steps)
        print(f"{title}: done.", flush=True)
