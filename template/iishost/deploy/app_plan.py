"""The project's own deploy steps, before IIS: dependencies, bytecode, database, static files, checks."""

from __future__ import annotations

import re

from .config import Settings
from .plan import Step

# Folders compileall skips: data, uploads, logs, collected static files, git.
SKIPPED = (".git", "logs", "media", "data", "static", "node_modules")


def plan_app(settings: Settings, python: str) -> list[Step]:
    root = str(settings.root)
    # -x is searched in each full path: anchor it on the project folder so a project living under
    # e.g. C:\data\ is still compiled.
    skip = re.escape(root) + r"[\\/](" + "|".join(map(re.escape, SKIPPED)) + r")([\\/]|$)"
    manage = str(settings.root / "manage.py")
    return [
        Step("venv and the pinned dependencies (bootstrap.py does only what is missing)",
             [python, str(settings.root / "bootstrap.py")]),
        Step("precompile bytecode: the app-pool identity may not write __pycache__ (PYTHONDONTWRITEBYTECODE)",
             [python, "-m", "compileall", "-q", "-j", "0", "-x", skip, root]),
        Step("apply database migrations", [python, manage, "migrate", "--noinput"]),
        Step("collect static files into static/", [python, manage, "collectstatic", "--noinput"]),
        Step("Django's deployment checks (errors stop the deploy; docs/settings.md lists expected warnings)",
             [python, manage, "check", "--deploy"]),
    ]  # fmt: skip
