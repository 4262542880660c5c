"""What the checks read, gathered once and lazily: settings, tools, IIS's state, web.config, the
project's Django settings. Reading only: every subprocess it starts writes its logs into a temp
folder (DJANGO_LOG_DIR), never into the project."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from iishost.deploy import tools
from iishost.deploy.config import Settings, SettingsError
from iishost.deploy.iis.plan import wanted_bindings
from iishost.deploy.iis.state import Binding, ServerState, read_state
from iishost.deploy.runner import QueryFailed, query
from iishost.deploy.venv import python_home
from iishost.emulator import webconfig

NOT_WINDOWS = "not a Windows server with IIS"
# Django's own host matching (django.http.request.validate_host), in the project's settings.
DJANGO_FACTS = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.http.request import validate_host
hosts = json.loads(sys.argv[1])
print(json.dumps({
    "ALLOWED_HOSTS": list(settings.ALLOWED_HOSTS),
    "refused": [h for h in hosts if not validate_host(h, settings.ALLOWED_HOSTS)],
    "DATA_UPLOAD_MAX_MEMORY_SIZE": settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    "FILE_UPLOAD_MAX_MEMORY_SIZE": settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
}))
"""


@dataclass
class Context:
    settings: Settings
    python: str = sys.executable  # the venv's interpreter: the task runs from it
    windows: bool = os.name == "nt"
    tools: dict[str, str | None] = field(default_factory=dict)
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="iishost-doctor-")))

    @classmethod
    def open(cls, settings: Settings) -> Context:
        names = {"appcmd": settings.appcmd, "icacls": settings.icacls, "netstat": "", "wevtutil": ""}
        return cls(settings, tools={name: tools.find(name, configured) for name, configured in names.items()})

    @property
    def root(self) -> Path:
        return self.settings.root

    @property
    def appcmd(self) -> str | None:
        return self.tools.get("appcmd")

    @property
    def icacls(self) -> str | None:
        return self.tools.get("icacls")

    @staticmethod
    def query(argv):
        return query(argv)

    def missing(self, tool: str) -> str:
        """Why a check that needs `tool` is skipped here."""
        return f"no {tool}.exe" + (f" ({NOT_WINDOWS})" if not self.windows else "")

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for the project's Python: this one, with logs into the scratch folder."""
        return {**os.environ, **(extra or {}), "DJANGO_LOG_DIR": str(self.scratch)}

    @functools.cached_property
    def state(self) -> ServerState | QueryFailed | None:
        """IIS's sites, pools and the site's sections; the error when appcmd cannot read them; None
        without IIS."""
        if self.appcmd is None:
            return None
        try:
            return read_state(self.appcmd, query, self.settings.site_name)
        except QueryFailed as exc:
            return exc

    @functools.cached_property
    def home(self) -> str | SettingsError:
        try:
            return python_home(self.root)
        except SettingsError as exc:
            return exc

    @property
    def web_config(self) -> Path:
        return self.root / "web.config"

    @functools.cached_property
    def platform(self) -> webconfig.HttpPlatform | webconfig.ConfigError | None:
        """web.config's <httpPlatform> as the first build reads it (both builds' schemas checked)."""
        try:
            return webconfig.load_http_platform(self.web_config)
        except webconfig.ConfigError as exc:
            return exc
        except OSError as exc:
            return webconfig.ConfigError(self.web_config, [f"cannot read: {exc}"])

    def bindings(self) -> tuple[list[Binding], str]:
        """The site's bindings from IIS, else those iis.register would create; and where they came from."""
        state = self.state
        if isinstance(state, ServerState) and self.settings.site_name in state.sites:
            return list(state.sites[self.settings.site_name].bindings), "IIS"
        return wanted_bindings(self.settings), "the settings (the site is not registered here)"

    @functools.cached_property
    def django(self) -> dict | str:
        """ALLOWED_HOSTS, the hosts of the bindings Django refuses, and the upload limits, from the
        project's settings in a subprocess with web.config's environment; the error text if it fails."""
        hosts = {b.information.split(":", 2)[2].lower() for b in self.bindings()[0]}
        # A wildcard binding (*.example.com) takes any subdomain; an empty host any Host header, of
        # which the deploy's own check URL is the one known.
        hosts = {f"www.{h[2:]}" if h.startswith("*.") else h for h in hosts}
        hosts = sorted(
            (hosts - {""}) | {urllib.parse.urlsplit(self.settings.check_url).hostname or ""} - {""}
        )
        extra = (
            self.platform.environment_variables if isinstance(self.platform, webconfig.HttpPlatform) else {}
        )
        try:
            done = subprocess.run(
                [self.python, "-c", DJANGO_FACTS, json.dumps(hosts)], cwd=self.root, env=self.env(extra),
                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"could not run the project's Python: {exc}"
        if done.returncode:
            lines = (done.stderr or done.stdout).strip().splitlines()
            return lines[-1] if lines else f"exit code {done.returncode}"
        facts = json.loads(done.stdout.strip().splitlines()[-1])
        facts["hosts"] = hosts
        return facts
