"""Checks 6-7: the stdout log's folder exists and the app pool may write it; the newest stdout log
and the Python traceback in it."""

from __future__ import annotations

from pathlib import Path

from iishost.deploy.acl.state import for_principal, read_aces
from iishost.deploy.verify import newest_stdout_log
from iishost.emulator.backend import expand, resolve
from iishost.emulator.webconfig import HttpPlatform

from . import diagnose
from .context import Context
from .result import Check, failed, passed, skipped

WRITE = {"F", "M", "W"}
# What the venv's python.exe launcher prints when its base interpreter is gone (pyvenv.cfg home).
NO_PYTHON = "No Python at"


def log_folders(ctx: Context) -> list[Path]:
    """logs/ and the folder of web.config's stdoutLogFile (the same one in the template's web.config)."""
    folders = [ctx.root / "logs"]
    if isinstance(ctx.platform, HttpPlatform) and ctx.platform.stdout_log_enabled:
        prefix = resolve(expand(ctx.platform.stdout_log_file, ctx.env()), ctx.root)
        folders.append(prefix.parent)
    return list(dict.fromkeys(folders))


def logs_writable(ctx: Context) -> Check:
    name, title = "logs", "logs/ exists and the app pool may write it"
    missing = [f for f in log_folders(ctx) if not f.is_dir()]
    if missing:
        return failed(
            name, title,
            f"{', '.join(map(str, missing))} missing: HttpPlatformHandler cannot create its stdout log "
            "(event 1004, 0x80070003) and iishost.launch cannot write its own",
            "mkdir logs (bootstrap.py creates it), then invoke acl.grant",
        )  # fmt: skip
    if ctx.icacls is None:
        return passed(
            name, title, f"{log_folders(ctx)[0]} exists; its ACL is not checked: {ctx.missing('icacls')}"
        )
    identity = ctx.settings.identity
    bad = []
    for folder in log_folders(ctx):
        aces = read_aces(ctx.icacls, str(folder), ctx.query)
        mine = for_principal(aces or [], identity) + for_principal(aces or [], "BUILTIN\\IIS_IUSRS")
        if aces is None or not any("DENY" not in a.flags and WRITE & set(a.rights) for a in mine):
            bad.append(str(folder))
    if bad:
        return failed(
            name, title, f"{identity} may not write {', '.join(bad)}: no stdout log (event 1004, 0x80070005)",
            f'invoke acl.grant (or icacls "{bad[0]}" /grant:r "{identity}:(OI)(CI)M", as admin)',
        )  # fmt: skip
    return passed(name, title, f"{identity} may modify {', '.join(map(str, log_folders(ctx)))}")


def read_log(path: Path) -> str:
    """A stdout log, and the log iishost.launch said it writes to, if it names one that exists."""
    text = path.read_text(encoding="utf-8", errors="replace")
    launched = diagnose.launch_log(text)
    if launched and Path(launched).is_file() and Path(launched) != path:
        text += "\n" + Path(launched).read_text(encoding="utf-8", errors="replace")
    return text


def newest_log(ctx: Context) -> Check:
    name, title = "stdout-log", "the newest stdout log holds no Python traceback"
    log = newest_stdout_log(ctx.root)
    if log is None:
        return skipped(name, title, f"no stdout log in {ctx.root / 'logs'} yet (no process has started)")
    text = read_log(log)
    found = diagnose.traceback_lines(text)
    if found:
        return failed(
            name, title, f"{log}:\n" + "\n".join(f"      {line}" for line in found),
            f"fix what the traceback names ({found[-1]}); then invoke iis.recycle",
        )  # fmt: skip
    if NO_PYTHON in text:
        line = next(x for x in text.splitlines() if NO_PYTHON in x)
        return failed(
            name, title, f"{log}: {line.strip()}",
            "the venv's base Python is gone: reinstall it for all users, or delete .venv and run "
            "bootstrap.py",
        )  # fmt: skip
    return passed(name, title, f"{log}: no traceback")
