"""Read `icacls <path>` output: who has which rights on a folder.

Format (Microsoft, "icacls" command reference; output of Windows Server 2022):

    C:\\sites\\my site IIS APPPOOL\\my_site:(OI)(CI)(RX)
                      BUILTIN\\Administrators:(I)(OI)(CI)(F)

    Successfully processed 1 files; Failed processing 0 files

The first entry follows the path and a space; the others are indented to line up with it. Each is
`principal:(flag)...(rights)`: flags I (inherited), OI/CI (inherit to files/folders), IO (inherit
only), NP; rights one of F, M, RX, R, W, D, N or a list of specific rights like (R,W,D); a deny
entry carries (DENY).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ENTRY = re.compile(r"^(?P<who>.*):(?P<groups>(?:\([A-Za-z,]+\))+)$")
FLAGS = {"I", "OI", "CI", "IO", "NP", "DENY"}


@dataclass(frozen=True)
class Ace:
    principal: str
    flags: frozenset[str]
    rights: tuple[str, ...]

    @property
    def inherited(self) -> bool:
        return "I" in self.flags

    def __str__(self) -> str:
        return (
            f"{self.principal}:"
            + "".join(f"({f})" for f in sorted(self.flags))
            + f"({','.join(self.rights)})"
        )


@dataclass
class AclState:
    """Per folder: its entries (None when icacls could not read them) and whether it exists."""

    aces: dict[str, list[Ace] | None] = field(default_factory=dict)
    tools_present: bool = True


def parse_icacls(path: str, output: str) -> list[Ace]:
    """The entries `icacls path` printed (an empty list if the output holds none)."""
    aces = []
    for number, line in enumerate(output.splitlines()):
        text = line[len(path) :] if number == 0 and line.startswith(path) else line
        text = text.strip()
        match = _ENTRY.match(text)
        if not match:
            continue
        groups = re.findall(r"\(([A-Za-z,]+)\)", match["groups"])
        flags = frozenset(g for g in groups if g in FLAGS)
        rights = tuple(r for g in groups if g not in FLAGS for r in g.split(","))
        aces.append(Ace(match["who"], flags, rights))
    return aces


def for_principal(aces: list[Ace], principal: str) -> list[Ace]:
    """Entries of one account; Windows compares account names without case."""
    return [a for a in aces if a.principal.lower() == principal.lower()]


def read_aces(icacls: str, path: str, query) -> list[Ace] | None:
    """`icacls path` through `query(argv) -> Result`; None when it cannot be read (missing, denied)."""
    result = query([icacls, path])
    return parse_icacls(path, result.text) if result.returncode == 0 else None
