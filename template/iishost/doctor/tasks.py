"""`invoke doctor`: every check in order, one line each with its fix; exit code 1 when one fails."""

from __future__ import annotations

import os
import shutil

from invoke import task
from invoke.exceptions import Exit

from iishost import PROJECT_ROOT
from iishost.deploy.config import from_config, load_local_file
from iishost.deploy.session import user_errors

from . import report
from .context import Context
from .result import FAIL
from .run import NAMES, run


@task(
    help={
        "json": 'print the results as JSON: [{"name", "title", "status", "detail", "fix"}]',
        "only": f"comma-separated checks to run, of: {', '.join(NAMES)}",
    }
)
def doctor(c, json=False, only=""):
    """Diagnose 502.3/502.5/500.19: check IIS, web.config, Python, ACLs, logs and the app; changes nothing."""
    with user_errors():
        load_local_file(c.config, PROJECT_ROOT)
        settings = from_config(c.config, PROJECT_ROOT)
    selected = [n.strip() for n in only.split(",") if n.strip()]
    unknown = sorted(set(selected) - set(NAMES))
    if unknown:
        raise Exit(f"unknown check(s) {', '.join(unknown)}: the checks are {', '.join(NAMES)}", code=2)
    ctx = Context.open(settings)
    # Whatever the project's Python writes as logs (django.log, iishost.launch's) goes to the scratch
    # folder: the doctor changes nothing in the project.
    os.environ["DJANGO_LOG_DIR"] = str(ctx.scratch)
    try:
        checks = run(ctx, selected)
    finally:
        shutil.rmtree(ctx.scratch, ignore_errors=True)
    print(report.to_json(checks) if json else report.text(checks), flush=True)
    if any(check.status == FAIL for check in checks):
        raise Exit(code=1)
