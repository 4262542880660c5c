"""Who listens on which TCP port: `netstat -ano -p tcp` on Windows, /proc on Linux.

netstat's format (Microsoft, "netstat" command reference, learn.microsoft.com/windows-server/
administration/windows-commands/netstat): a header `Proto  Local Address  Foreign Address  State
PID`, then one row per connection, `TCP    0.0.0.0:80    0.0.0.0:0    LISTENING    4`. The State
word is translated on a non-English Windows, so a listening socket is recognised by its foreign
address, which is `0.0.0.0:0` (or `[::]:0`) for a listener only. PID 4 is the System process:
http.sys, the kernel driver IIS listens through (iishost/docs/iis-facts.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HTTP_SYS_PID = 4
_ROW = re.compile(
    r"^\s*TCP\s+(?P<local>\S+):(?P<port>\d+)\s+(?P<foreign>\S+)\s+(?:(?P<state>\S+)\s+)?(?P<pid>\d+)\s*$"
)


def parse_netstat(text: str) -> dict[int, set[int]] | None:
    """{port: PIDs listening on it} from `netstat -ano -p tcp`; None when the text is not Windows'
    netstat (no `Proto ... PID` header: e.g. Linux's net-tools netstat)."""
    if not re.search(r"^\s*Proto\s+.*\bPID\s*$", text, re.M):
        return None
    found: dict[int, set[int]] = {}
    for line in text.splitlines():
        row = _ROW.match(line)
        if row and row["foreign"] in {"0.0.0.0:0", "[::]:0", "*:*"}:
            found.setdefault(int(row["port"]), set()).add(int(row["pid"]))
    return found


def _proc_listeners() -> dict[int, set[int]]:
    """Linux: /proc/net/tcp{,6} rows in state 0A (LISTEN), their socket inodes mapped to the
    processes holding them through /proc/<pid>/fd (proc(5))."""
    inodes: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A":
                inodes[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    found: dict[int, set[int]] = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:[") and link[8:-1] in inodes:
                found.setdefault(inodes[link[8:-1]], set()).add(int(fd_dir.parent.name))
    return found


def process_tree(pid: int) -> set[int]:
    """`pid` and its descendants (Linux /proc; elsewhere just `pid`): a venv's python.exe starts the
    base interpreter as a child, which is the one that listens."""
    if not Path("/proc/self/stat").exists():
        return {pid}
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    tree, grew = {pid}, True
    while grew:
        new = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= new
        grew = bool(new)
    return tree


def listeners(netstat: str | None, query) -> dict[int, set[int]] | None:
    """{port: PIDs} of this machine's own processes: /proc on Linux, else Windows' netstat; None when
    neither can tell."""
    if Path("/proc/net/tcp").exists():
        return _proc_listeners()
    if netstat:
        return parse_netstat(query([netstat, "-ano", "-p", "tcp"]).text)
    return None


def ports_of(pid: int, before: dict[int, set[int]], after: dict[int, set[int]]) -> list[int]:
    """Ports the process tree of `pid` listens on: those of its PIDs where the OS says so, else
    (Windows, no tree) the ports that were not listening before it started."""
    if Path("/proc/self/stat").exists():
        tree = process_tree(pid)
        return sorted(port for port, pids in after.items() if pids & tree)
    return sorted(port for port, pids in after.items() if pid in pids or port not in before)
