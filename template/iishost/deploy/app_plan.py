"""The project's own deploy steps, before IIS: dependencies, bytecode, database, static files, checks."""

from __future__ import annotations

import re

from .config import Settings
from .plan import Step

# Folders compileall skips: data, uploads, logs, collected static files, git.
SKIPPED = (".git", "logs", "media", "data", "static", "node_modules")


def deploy_check(settings: Settings, python: str) -> list[str]:
    """`manage.py check --deploy` failing on warnings too: DEBUG on or a weak or placeholder
    DJANGO_SECRET_KEY are warnings (security.W018, W009), and a production deploy must stop on them."""
    return [python, str(settings.root / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"]


def plan_app(settings: Settings, python: str) -> list[Step]:
    root = str(settings.root)
    # -x is searched in each full path: anchor it on the project folder so a project living under
    # e.g. C:\data\ is still compiled.
    skip = re.escape(root) + r"[\\/](" + "|".join(map(re.escape, SKIPPED)) + r")([\\/]|$)"
    manage = str(settings.root / "manage.py")
    check = deploy_check(settings, python)
    # deploy.migrate false: another node of the farm applies them (once per rollout, first).
    migrate = [Step("apply database migrations", [python, manage, "migrate", "--noinput"])]
    if settings.farm:  # a farm without REDIS_URL caches in the database; with Redis this does nothing
        migrate.append(Step("the database cache table, if missing", [python, manage, "createcachetable"]))
    return [
        Step("venv and the pinned dependencies (bootstrap.py does only what is missing)",
             [python, str(settings.root / "bootstrap.py")]),
        # Before anything touches the database or IIS: any warning stops the deploy (settings.md).
        Step("Django's deployment checks: any warning stops the deploy (DJANGO_SILENCED_SYSTEM_CHECKS "
             "silences one you accept; iishost/docs/settings.md)", check),
        Step("precompile bytecode: the app-pool identity may not write __pycache__ (PYTHONDONTWRITEBYTECODE)",
             [python, "-m", "compileall", "-q", "-j", "0", "-x", skip, root]),
        *(migrate if settings.migrate else []),
        Step("collect static files into static/", [python, manage, "collectstatic", "--noinput"]),
    ]  # fmt: skip
