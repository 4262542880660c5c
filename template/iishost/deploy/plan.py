"""What every planner returns and every runner executes: steps, each a reason and an argv.

A plan is data, not actions: `--dry-run` prints it, `--json` dumps it, the runner applies it. Keeping
the planners pure (state in, steps out) is what lets the tests cover every server state on Linux.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One command that changes the server, and why it is needed."""

    why: str
    argv: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "argv", tuple(str(a) for a in self.argv))

    def command_line(self) -> str:
        """The line Windows will see: subprocess joins a list with list2cmdline on every OS."""
        return subprocess.list2cmdline(self.argv)


class Refusal(Exception):
    """The server is in a state the planner will not change on its own; the message says why and
    what to do. Raised before anything is applied."""


def to_json(steps: list[Step]) -> str:
    return json.dumps([{"why": s.why, "argv": list(s.argv)} for s in steps], indent=2, ensure_ascii=False)


def describe(steps: list[Step], title: str) -> str:
    """Human form of a plan: each step's reason, then its exact command line."""
    if not steps:
        return f"{title}: nothing to change."
    lines = [f"{title}: {len(steps)} step(s)"]
    for number, step in enumerate(steps, 1):
        lines += [f"  {number}. {step.why}", f"     + {step.command_line()}"]
    return "\n".join(lines)
