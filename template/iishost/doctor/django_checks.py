"""Checks 9, 10 and 12, read from the project's Django settings: ALLOWED_HOSTS covering the site's
bindings, `manage.py check --deploy`, and Django's upload limits against IIS's request limit."""

from __future__ import annotations

from iishost.deploy.checks import django_checks
from iishost.deploy.odbc import installed_drivers, missing_driver
from iishost.limits import max_request_bytes

from .context import Context
from .result import Check, failed, passed, skipped


def allowed_hosts(ctx: Context) -> Check:
    name, title = "allowed-hosts", "ALLOWED_HOSTS covers the site's bindings"
    facts = ctx.django
    if isinstance(facts, str):
        return failed(name, title, f"the project's settings do not load: {facts}", "fix the error named")
    bindings, source = ctx.bindings()
    if facts["refused"]:
        refused = ", ".join(facts["refused"])
        hostnames = [h for h in facts["ALLOWED_HOSTS"] if h not in ("localhost", "127.0.0.1")][:3]
        return failed(
            name, title,
            f"host(s) {refused} (bindings from {source}: {', '.join(map(str, bindings))}) are not in "
            f"ALLOWED_HOSTS {facts['ALLOWED_HOSTS']}: Django answers 400 Bad Request (DisallowedHost)",
            f"add them to iis.hostnames (invoke.yaml) and to DJANGO_HOSTNAMES in .env (settings.py builds "
            f"ALLOWED_HOSTS from it), e.g. DJANGO_HOSTNAMES={','.join([*hostnames, *facts['refused']])}; "
            "or remove the binding",
        )  # fmt: skip
    return passed(name, title, f"{', '.join(facts['hosts'])} allowed (bindings from {source})")


def check_deploy(ctx: Context) -> Check:
    name, title = (
        "check-deploy",
        "manage.py check --deploy --fail-level WARNING (and SQL Server's ODBC driver)",
    )
    no_driver = missing_driver(ctx.settings.database, installed_drivers())
    if no_driver:
        return failed(name, title, *no_driver)
    problem, note = django_checks(ctx.settings, ctx.python, ctx.query)
    if problem is not None:
        return failed(name, title, problem.what, problem.fix)
    if note:
        # The deploy says "not yet" because bootstrap.py comes next; here the venv is the one in use,
        # so a check that cannot run (an import error in the project, say) is a failure.
        return failed(
            name, title, note.split(";", 1)[0].replace("could not run yet", "could not run"),
            "fix the error named; `python manage.py check` in the site folder shows its whole traceback",
        )  # fmt: skip
    return passed(name, title, "no issues")


def upload_limits(ctx: Context) -> Check:
    name, title = "limits", "Django's upload limits within IIS's request limit"
    iis = max_request_bytes(ctx.web_config)
    facts = ctx.django
    if isinstance(facts, str):
        return skipped(name, title, f"the project's settings do not load: {facts}")
    over = [
        f"{setting} = {facts[setting]:,} bytes"
        for setting in ("DATA_UPLOAD_MAX_MEMORY_SIZE", "FILE_UPLOAD_MAX_MEMORY_SIZE")
        if facts[setting] is not None and facts[setting] > iis
    ]
    if over:
        return failed(
            name, title,
            f"{' and '.join(over)} above web.config's maxAllowedContentLength = {iis:,} bytes: IIS refuses a "
            "larger body with 404.13 before Django sees it, so Django's limit is never reached",
            f"keep Django's limits at or below {iis:,} (settings.py: min(..., MAX_REQUEST_BYTES)), or raise "
            "maxAllowedContentLength in web.config's <requestLimits> (settings.py reads it from there)",
        )  # fmt: skip
    return passed(
        name, title,
        f"DATA_UPLOAD_MAX_MEMORY_SIZE {facts['DATA_UPLOAD_MAX_MEMORY_SIZE']}, FILE_UPLOAD_MAX_MEMORY_SIZE "
        f"{facts['FILE_UPLOAD_MAX_MEMORY_SIZE']} <= maxAllowedContentLength {iis}",
    )  # fmt: skip
