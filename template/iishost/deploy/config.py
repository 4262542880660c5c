"""Typed deployment settings, read from Invoke's merged configuration.

Invoke merges, lowest first: invoke.yaml (the template's answers), INVOKE_* environment variables
(e.g. INVOKE_IIS_SITE_NAME), then a runtime file: `invoke -f FILE`, or invoke.local.yaml in the
project folder when no -f is given (load_local_file). That file is git-ignored: it is one server's
own overrides. Each value is checked here, so a typo fails before anything runs.

invoke.yaml holds strings only: Invoke casts an INVOKE_* variable to the type of the value it
replaces, which fails for a list (UncastableEnvVar) and makes any boolean true but "0" and "". The
parsers below accept the strings and the YAML lists and booleans a local file may use.
"""

from __future__ import annotations

import io
import json
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .jobs.config import JobsConfig, JobsError, parse_jobs

LOCAL_FILE = "invoke.local.yaml"
# The naming rules copier.yml's validators apply too (one source): IIS Manager and
# Microsoft.Web.Administration refuse these characters in site and app-pool names.
_RULES = json.loads(Path(__file__).with_name("names.json").read_text(encoding="utf-8"))
INVALID_NAME_CHARACTERS = set(_RULES["iis_name_forbidden"])
_HOSTNAME = re.compile(_RULES["hostname_pattern"])
_CONTROL = re.compile(_RULES["control_characters"])


# Every deploy setting: its Invoke key and the Settings field it fills. iishost/docs/server.md's table
# lists the same keys, and a test overrides each one both ways (environment and file).
FIELDS = {
    "iis.site_name": "site_name",
    "iis.app_pool": "app_pool",
    "iis.hostnames": "hostnames",
    "iis.https": "https",
    "iis.http_port": "http_port",
    "iis.https_port": "https_port",
    "iis.websockets": "websockets",
    "iis.windows_auth": "windows_auth",
    "deploy.check_url": "check_url",
    "deploy.check_timeout": "check_timeout",
    "deploy.step_timeout": "step_timeout",
    "deploy.migrate": "migrate",
    "tools.appcmd": "appcmd",
    "tools.icacls": "icacls",
    "tools.schtasks": "schtasks",
}


class SettingsError(ValueError):
    """A setting that cannot work; the message names it and says how to fix it."""


def load_local_file(config, root: Path) -> Path | None:
    """Use invoke.local.yaml as the runtime config file unless `invoke -f` named one already."""
    local = root / LOCAL_FILE
    if getattr(config, "_runtime_path", None) or not local.is_file():
        return None
    config.set_runtime_path(str(local))
    try:
        config.load_runtime()
    except Exception as exc:  # yaml's errors, or Invoke's for a file that is not a mapping
        raise SettingsError(
            f"{local.name} is not valid YAML ({' '.join(str(exc).split())}): fix it, or delete it to use "
            "invoke.yaml alone"
        ) from None
    return local


@dataclass(frozen=True)
class Settings:
    root: Path
    database: str
    site_name: str
    app_pool: str
    hostnames: tuple[str, ...]
    https: bool
    http_port: int
    https_port: int
    websockets: bool
    check_url: str
    check_timeout: float
    step_timeout: float | None
    appcmd: str
    icacls: str
    schtasks: str = ""
    # The `jobs:` section (scheduled management commands), None when the project declares none.
    jobs: JobsConfig | None = None
    windows_auth: bool = False  # Windows sign-in: iis.register enables it and turns anonymous off
    # Whether deploy applies migrations: a farm's rollout runs them on its first node only
    # (iishost/docs/rollout.md), so the other nodes deploy with INVOKE_DEPLOY_MIGRATE=false.
    migrate: bool = True
    # A farm (project.farm): the database cache table, and the media folder settings.py uses:
    # DJANGO_MEDIA_ROOT ("": media/ in the project) unless DJANGO_MEDIA_STORAGE names object storage.
    farm: bool = False
    media_root: str = ""
    media_storage: str = ""

    def effective(self) -> dict[str, str]:
        """Each setting as the tasks use it, for `invoke iis.status` (what a server really gets)."""

        def show(value) -> str:
            if isinstance(value, bool):
                return str(value).lower()
            if isinstance(value, tuple):
                return ",".join(value)
            if isinstance(value, float):
                return f"{value:g}"
            return "0" if value is None else str(value)  # step_timeout: none

        return {key: show(getattr(self, name)) for key, name in FIELDS.items()}

    @property
    def identity(self) -> str:
        """The app pool's virtual account (iis-docs, "Application Pool Identities")."""
        return f"IIS AppPool\\{self.app_pool}"


def _name(value, label: str) -> str:
    value = str(value)
    bad = sorted(INVALID_NAME_CHARACTERS & set(value))
    limit = _RULES["iis_name_max_length"]
    if not value.strip() or bad or value != value.strip() or len(value) > limit or _CONTROL.search(value):
        raise SettingsError(
            f"{label} {value!r} is not a valid IIS name: it must be non-empty, at most {limit} characters, "
            "without leading or trailing spaces, control characters or any of "
            + " ".join(_RULES["iis_name_forbidden"])
            + (f" (found {' '.join(bad)})" if bad else "")
        )
    return value


def _port(value, label: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise SettingsError(f"{label} must be a port number from 1 to 65535, not {value!r}")
    return port


def _bool(value, label: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{label} must be true or false, not {value!r}")


def _url(value) -> str:
    parts = urllib.parse.urlsplit(str(value).strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(
            f"deploy.check_url must be an http:// or https:// URL with a host, e.g. "
            f"http://localhost/health/, not {value!r}"
        )
    return str(value).strip()


def _seconds(value, label: str) -> float:
    try:
        seconds = float(str(value).strip() or 0)
    except ValueError:
        seconds = -1
    if not 0 <= seconds < float("inf"):
        raise SettingsError(f"{label} must be a number of seconds (0 or more), not {value!r}")
    return seconds


def _hostnames(value) -> tuple[str, ...]:
    names = value.replace(",", " ").split() if isinstance(value, str) else list(value or [])
    names = [str(n).strip().lower() for n in names]
    if not names:
        raise SettingsError("iis.hostnames is empty: list at least one host name, e.g. [www.example.com]")
    for name in names:
        if not _HOSTNAME.match(name):
            raise SettingsError(
                f"iis.hostnames: {name!r} is not a host name (letters, digits, hyphens, dots)"
            )
    return tuple(dict.fromkeys(names))


def from_config(config, root: Path) -> Settings:
    """Settings from an Invoke config (anything with nested dict-like .get)."""
    project, iis, deploy = (config.get(k) or {} for k in ("project", "iis", "deploy"))
    tools = config.get("tools") or {}
    known = set(FIELDS)
    for section, values in (("iis", iis), ("deploy", deploy), ("tools", tools)):
        for key in values:
            if f"{section}.{key}" not in known:
                raise SettingsError(
                    f"unknown setting {section}.{key} (invoke.yaml, invoke.local.yaml or invoke -f FILE): "
                    f"a misspelling? The {section} settings are "
                    + ", ".join(k for k in FIELDS if k.startswith(section + "."))
                )
    hostnames = _hostnames(iis.get("hostnames", ["localhost"]))
    https = _bool(iis.get("https", False), "iis.https")
    http_port = _port(iis.get("http_port", 80), "iis.http_port")
    https_port = _port(iis.get("https_port", 443), "iis.https_port")
    if https and http_port == https_port:
        raise SettingsError(f"iis.http_port and iis.https_port are both {http_port}: give https its own port")
    host = hostnames[0].removeprefix("*.")
    scheme, port = ("https", https_port) if https else ("http", http_port)
    default_url = (
        f"{scheme}://{host}{'' if port == {'http': 80, 'https': 443}[scheme] else f':{port}'}/health/"
    )
    timeout = _seconds(deploy.get("check_timeout", 60), "deploy.check_timeout")
    farm = _bool(project.get("farm", False), "project.farm")
    return Settings(
        root=Path(root),
        database=str(project.get("database", "sqlite")),
        site_name=_name(iis.get("site_name", ""), "iis.site_name"),
        app_pool=_name(iis.get("app_pool", ""), "iis.app_pool"),
        hostnames=hostnames,
        https=https,
        http_port=http_port,
        https_port=https_port,
        websockets=_bool(iis.get("websockets", False), "iis.websockets"),
        check_url=_url(deploy.get("check_url") or default_url),
        check_timeout=timeout,
        step_timeout=_seconds(deploy.get("step_timeout", 0), "deploy.step_timeout") or None,
        appcmd=str(tools.get("appcmd") or ""),
        icacls=str(tools.get("icacls") or ""),
        schtasks=str(tools.get("schtasks") or ""),
        jobs=_jobs(config.get("jobs"), str(project.get("slug") or "django")),
        windows_auth=_bool(iis.get("windows_auth", False), "iis.windows_auth"),
        migrate=_bool(deploy.get("migrate", True), "deploy.migrate"),
        farm=farm,
        media_root=project_env(Path(root), "DJANGO_MEDIA_ROOT") if farm else "",
        media_storage=project_env(Path(root), "DJANGO_MEDIA_STORAGE") if farm else "",
    )


def project_env(root: Path, name: str) -> str:
    """A variable as settings.py sees it: the environment, else the project's .env (the environment
    wins, as there), so a planner agrees with the running site (the media folder's grant)."""
    value = os.environ.get(name, "").strip()
    path = root / ".env"
    if value or not path.is_file():
        return value
    from dotenv import dotenv_values

    from ..envfile import decode
    from ..envvars import SettingError

    try:
        values = dotenv_values(stream=io.StringIO(decode(path.read_bytes(), path)))
    except (OSError, SettingError) as exc:
        raise SettingsError(str(exc)) from None
    return (values.get(name) or "").strip()


def _jobs(section, default_folder: str) -> JobsConfig | None:
    try:
        return parse_jobs(section, default_folder)
    except JobsError as exc:
        raise SettingsError(str(exc)) from None
