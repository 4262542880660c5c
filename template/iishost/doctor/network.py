"""Check 11: each port of the site's bindings is free or held by http.sys (PID 4, through which
IIS listens); another program on it takes the requests, or keeps IIS from starting the site."""

from __future__ import annotations

from .context import Context
from .ports import HTTP_SYS_PID, parse_netstat
from .result import Check, failed, passed, skipped


def site_ports(ctx: Context) -> Check:
    name, title = "ports", "the site's ports free or owned by IIS (http.sys)"
    netstat = ctx.tools.get("netstat")
    if netstat is None:
        return skipped(name, title, ctx.missing("netstat"))
    listening = parse_netstat(ctx.query([netstat, "-ano", "-p", "tcp"]).text)
    if listening is None:
        where = "" if ctx.windows else "not Windows: "
        return skipped(name, title, f"{netstat} is not Windows' netstat ({where}no `Proto ... PID` table)")
    bindings, source = ctx.bindings()
    wanted = sorted({b.port for b in bindings})
    taken = {port: sorted(listening.get(port, set()) - {HTTP_SYS_PID}) for port in wanted}
    taken = {port: pids for port, pids in taken.items() if pids}
    if taken:
        held = ", ".join(f"{port} by PID {', '.join(map(str, pids))}" for port, pids in taken.items())
        first = next(iter(taken.values()))[0]
        return failed(
            name, title,
            f"port(s) {held}: not http.sys (PID {HTTP_SYS_PID}), so another program answers there or IIS "
            "cannot start the site on it",
            f'tasklist /FI "PID eq {first}" names the program: stop it or move it to another port '
            "(or change iis.http_port / iis.https_port)",
        )  # fmt: skip
    states = [f"{port} {'http.sys' if port in listening else 'free'}" for port in wanted]
    return passed(name, title, f"{', '.join(states)} (bindings from {source})")
