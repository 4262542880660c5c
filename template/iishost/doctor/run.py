"""The checks in the order a 502/500.19 is best explained: IIS, configuration, files, the app."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from . import backend_start, django_checks, eventlog, iis, logs, network, python_acl
from .context import Context
from .result import Check

CHECKS: list[tuple[str, Callable[[Context], Check]]] = [
    ("iis", iis.iis_installed),
    ("handlers", iis.handlers_unlocked),
    ("webconfig", iis.web_config_valid),
    ("python", python_acl.base_python),
    ("acl", python_acl.acls),
    ("logs", logs.logs_writable),
    ("stdout-log", logs.newest_log),
    ("start", backend_start.trial_start),
    ("allowed-hosts", django_checks.allowed_hosts),
    ("check-deploy", django_checks.check_deploy),
    ("ports", network.site_ports),
    ("limits", django_checks.upload_limits),
    ("eventlog", eventlog.event_log),
]
NAMES = [name for name, _ in CHECKS]


def run(ctx: Context, only: list[str] | None = None) -> list[Check]:
    return [check(ctx) for name, check in CHECKS if not only or name in only]


def after_failed_deploy(settings) -> list[str]:
    """What `invoke deploy` prints when the site does not answer 200: the newest stdout log's
    traceback and the trial start's verdict, each with its fix (the doctor's own checks)."""
    ctx = Context.open(settings)
    try:
        checks = [logs.newest_log(ctx), backend_start.trial_start(ctx)]
    finally:
        shutil.rmtree(ctx.scratch, ignore_errors=True)
    lines = []
    for check in checks:
        lines.append(f"  {check.status.upper()} {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"    fix: {check.fix}")
    return lines
