"""Prerequisites of a deploy, each with the fix an admin can type.

Checked before anything changes; a real run refuses while any fails, a dry run lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iishost.doctor.diagnose import config_fix
from iishost.emulator.webconfig import ConfigError, build_of_schema, load_http_platform

from .app_plan import deploy_check
from .config import Settings, SettingsError
from .odbc import installed_drivers, missing_driver
from .venv import python_home


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}\n    fix: {self.fix}"


NO_IIS = Problem(
    "IIS is not installed here (appcmd.exe not found: tools.appcmd setting, PATH, "
    r"%windir%\System32\inetsrv)",
    "Install-WindowsFeature Web-Server, Web-WebSockets -IncludeManagementTools (PowerShell, as admin)",
)
NO_HPH = Problem(
    "the HttpPlatformHandler module is not installed in IIS",
    "install HttpPlatformHandler v1.2 (x64) from https://www.iis.net/downloads/microsoft/httpplatformhandler",
)


def module_installed(appcmd: str, name: str, query) -> bool:
    """`appcmd list module NAME` exits 0 only when the module is enabled on the server."""
    return query([appcmd, "list", "module", name]).returncode == 0


def check_all(settings: Settings, appcmd: str | None, query, odbc_drivers=installed_drivers) -> list[Problem]:
    problems = []
    no_driver = missing_driver(settings.database, odbc_drivers())
    if no_driver:
        problems.append(Problem(*no_driver))
    if appcmd is None:
        problems.append(NO_IIS)
    else:
        if not module_installed(appcmd, "httpPlatformHandler", query):
            problems.append(NO_HPH)
        if settings.websockets and not module_installed(appcmd, "WebSocketModule", query):
            problems.append(Problem(
                "iis.websockets is true but IIS's WebSocket Protocol feature is not installed",
                "Install-WindowsFeature Web-WebSockets (or set iis.websockets: false)",
            ))  # fmt: skip
        if settings.windows_auth and not module_installed(appcmd, "WindowsAuthenticationModule", query):
            problems.append(Problem(
                "iis.windows_auth is true but IIS's Windows Authentication role service is not installed",
                "Install-WindowsFeature Web-Windows-Auth (or set iis.windows_auth: false)",
            ))  # fmt: skip
    try:
        home = Path(python_home(settings.root))
    except SettingsError as exc:
        problems.append(Problem(str(exc), "py bootstrap.py"))
    else:
        if not any((home / exe).is_file() for exe in ("python.exe", "python", "python3")):
            problems.append(Problem(
                f"the venv's Python is gone: no interpreter in {home} (pyvenv.cfg home)",
                "reinstall that Python for all users, or delete .venv and run bootstrap.py"
                " with the installed one",
            ))  # fmt: skip
    if not (settings.root / "logs").is_dir():
        problems.append(Problem(
            "logs/ is missing: HttpPlatformHandler cannot write its stdout log (event 1004, 0x80070003)",
            "mkdir logs (bootstrap.py creates it)",
        ))  # fmt: skip
    return problems


def schema_path(appcmd: str) -> Path:
    """Where an HttpPlatformHandler installer (1.2 or v2) writes its schema: beside appcmd.exe, in
    %windir%\\System32\\inetsrv\\config\\schema (iishost/docs/iis-facts.md)."""
    return Path(appcmd).parent / "config" / "schema" / "httpplatform_schema.xml"


def installed_hph(settings: Settings, appcmd: str | None) -> tuple[str, Problem | None]:
    """(note naming the HttpPlatformHandler build found, problem if web.config would not load under
    it). IIS answers 500.19 on every request when web.config names an attribute the installed
    build's schema lacks, so this is checked before any change."""
    if appcmd is None:
        return "", None
    schema = schema_path(appcmd)
    build = build_of_schema(schema)
    if build is None:
        found = (
            "an HttpPlatformHandler schema neither 1.2's nor v2's" if schema.is_file() else "no schema file"
        )
        note = f"HttpPlatformHandler: {found} at {schema}; web.config checked against both builds"
        builds = ("1.2", "2")
    else:
        note = f"HttpPlatformHandler {build} found ({schema})"
        builds = (build,)
    try:
        load_http_platform(settings.root / "web.config", builds=builds)
    except ConfigError as error:
        return note, Problem(
            f"web.config would not load under HttpPlatformHandler {build or '1.2 or v2'} (IIS: 500.19 on "
            "every request): " + "; ".join(error.reasons),
            config_fix(error.reasons, build),
        )
    return note, None


# What manage.py prints when checks at the fail level are found (django.core.management.base).
CHECK_FAILED = "SystemCheckError"
KNOWN_FIXES = {
    "security.W018": "DJANGO_DEBUG=0 in the server's .env (security.W018)",
    "security.W009": "a long random DJANGO_SECRET_KEY in .env or the environment, which wins (security.W009;"
    ' py -c "import secrets; print(secrets.token_urlsafe(50))" makes one)',
    # iishost/channel_layers.py: WebSocket groups would stay inside each process.
    "iishost.W001": "REDIS_URL=redis://host:6379/0 in the server's .env, a Redis server every process reaches"
    ' (iishost.W001; iishost/docs/intranet.md, "WebSockets"), or processesPerApplication="1" in web.config',
    # iishost/farm.py: on a farm, what one server writes the others must read (iishost/docs/farm.md).
    "iishost.W101": "REDIS_URL=redis://host:6379/0 in the server's .env (a Redis server every server"
    " reaches), or settings.py's farm CACHES without it: the database cache (iishost.W101;"
    ' iishost/docs/farm.md, "Cache")',
    "iishost.W102": "DJANGO_MEDIA_ROOT=\\\\files\\site\\media (a share every server reaches) or"
    ' DJANGO_MEDIA_STORAGE in the server\'s .env (iishost.W102; iishost/docs/farm.md, "Media")',
    "iishost.W103": "SESSION_ENGINE cached_db (settings.py's farm default) or db, with a shared cache:"
    ' REDIS_URL in the server\'s .env (iishost.W103; iishost/docs/farm.md, "Sessions")',
}


def django_checks(settings: Settings, python: str, query) -> tuple[Problem | None, str]:
    """Run the deploy's own `check --deploy --fail-level WARNING` before anything changes, so a real
    run refuses and a dry run says it would stop. (problem, "") when the checks fail; (None, note)
    when they cannot run yet (no venv, a dependency bootstrap.py will install): the deploy runs
    them again after bootstrap.py, as a step."""
    result = query(deploy_check(settings, python))
    if result.returncode == 0:
        return None, ""
    text = result.text.strip()
    if CHECK_FAILED not in text:
        last = text.splitlines()[-1] if text else f"exit code {result.returncode}"
        return (
            None,
            f"Django's deployment checks could not run yet ({last}); the deploy runs them after bootstrap.py",
        )
    issues = [line.strip() for line in text.splitlines() if ": (" in line and ") " in line]
    ids = sorted({line.split("(", 1)[1].split(")", 1)[0] for line in issues})
    fixes = [KNOWN_FIXES[i] for i in ids if i in KNOWN_FIXES]
    if set(ids) - set(KNOWN_FIXES):
        fixes.append("for the others, what Django says above")
    return Problem(
        "Django's deployment checks fail (manage.py check --deploy --fail-level WARNING):\n"
        + "\n".join(f"      {line}" for line in issues or text.splitlines()[-5:]),
        "; ".join(fixes)
        + "; or, to accept one on purpose, DJANGO_SILENCED_SYSTEM_CHECKS="
        + ",".join(ids or ["<id>"])
        + ' in .env (iishost/docs/settings.md, "Security checks")',
    ), ""
