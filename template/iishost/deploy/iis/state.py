"""The IIS server as it is now, read from `appcmd list ... /config:* /xml`.

Formats (Microsoft, "Getting Started with AppCmd.exe"; output of IIS 10 appcmd): /xml wraps one
element per object in `<appcmd>`, e.g. `<SITE SITE.NAME="S" SITE.ID="1" bindings="http/*:80:"
state="Started">`; /config:* nests the object's configuration element, with defaults filled in:
`<site name=.. id=..><bindings><binding protocol=.. bindingInformation=.. sslFlags=../></bindings>
<application path="/" applicationPool=..><virtualDirectory path="/" physicalPath=../></application>
</site>` and `<add name=.. managedRuntimeVersion=.. ><processModel .../><recycling>
<periodicRestart time=../></recycling></add>` for an app pool.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ..runner import QueryFailed

HANDLERS_SECTION = "system.webServer/handlers"
ANONYMOUS_SECTION = "system.webServer/security/authentication/anonymousAuthentication"
WINDOWS_SECTION = "system.webServer/security/authentication/windowsAuthentication"
# serverRuntime's authenticatedUserOverride: whose token IIS reads content files with once a request
# is authenticated (Microsoft, IIS configuration reference, `<serverRuntime>`; iishost/docs/iis-facts.md).
RUNTIME_SECTION = "system.webServer/serverRuntime"
WORKER_PROCESS_USER = "UseWorkerProcessUser"
# anonymousAuthentication's userName when none is set (IIS_schema.xml; applicationHost.config as
# IIS 10 ships it says userName="IUSR" too).
DEFAULT_ANONYMOUS_USER = "IUSR"
# appcmd's message when a web.config sets a section locked above it (IIS error 0x80070021).
LOCKED_MARKER = "locked at a parent level"


@dataclass(frozen=True)
class Binding:
    protocol: str
    information: str  # ip:port:host, e.g. "*:80:www.example.com"
    ssl_flags: int = 0

    @property
    def port(self) -> int:
        return int(self.information.split(":")[-2])

    def __str__(self) -> str:
        return f"{self.protocol}/{self.information}"


@dataclass(frozen=True)
class Site:
    name: str
    bindings: tuple[Binding, ...]
    app_pool: str
    physical_path: str
    state: str = "Unknown"
    # Every application and virtual directory of the site as (URL path, folder), the root's included.
    applications: tuple[tuple[str, str], ...] = ()

    def others(self) -> list[str]:
        """What the site holds besides its root: `/reports (C:\\reports)` for each."""
        return [f"{path} ({folder})" for path, folder in self.applications if path != "/"]


@dataclass(frozen=True)
class AppPool:
    name: str
    attributes: dict[str, str]  # dotted appcmd names -> value, e.g. "processModel.idleTimeout"
    state: str = "Unknown"


@dataclass(frozen=True)
class SiteAuth:
    """A site's effective authentication, as IIS ships it unless changed (applicationHost.config:
    anonymous on, Windows off; serverRuntime's schema default UseAuthenticatedUser)."""

    anonymous: bool = True
    windows: bool = False
    user_override: str = "UseAuthenticatedUser"


@dataclass
class ServerState:
    """Everything the IIS planner needs (empty when this machine has no IIS)."""

    sites: dict[str, Site] = field(default_factory=dict)
    pools: dict[str, AppPool] = field(default_factory=dict)
    handlers_unlocked: set[str] = field(default_factory=set)  # site names whose web.config may set handlers
    # Per site: the account anonymous requests run as ("" = the app pool's identity).
    anonymous_user: dict[str, str] = field(default_factory=dict)
    # Per site: anonymous and Windows authentication on or off, whose token reads content files.
    authentication: dict[str, SiteAuth] = field(default_factory=dict)


def _parse(xml: bytes | str) -> ET.Element:
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    return ET.fromstring(data)  # noqa: S314 (output of the local appcmd.exe)


def _flatten(element: ET.Element, prefix: str = "") -> dict[str, str]:
    """<add a="1"><processModel b="2"/></add> -> {"a": "1", "processModel.b": "2"} (appcmd's names)."""
    values = {prefix + k: v for k, v in element.attrib.items()}
    for child in element:
        if len(child) or child.attrib:
            values.update(_flatten(child, f"{prefix}{child.tag}."))
    return values


def parse_pools(xml: bytes | str) -> dict[str, AppPool]:
    pools = {}
    for item in _parse(xml).iter("APPPOOL"):
        name = item.get("APPPOOL.NAME", "")
        config = item.find("add")
        attributes = _flatten(config) if config is not None else {}
        attributes.pop("name", None)
        pools[name] = AppPool(name, attributes, item.get("state", "Unknown"))
    return pools


def _site_from_config(item: ET.Element) -> Site:
    config = item.find("site")
    name = item.get("SITE.NAME", "")
    bindings: list[Binding] = []
    pool, path = "", ""
    applications = []
    if config is not None:
        for app in config.iterfind("application"):
            base = app.get("path", "/").rstrip("/")
            for vdir in app.iterfind("virtualDirectory"):
                full = (base + "/" + vdir.get("path", "/").strip("/")).rstrip("/") or "/"
                applications.append((full, vdir.get("physicalPath", "")))
        for b in config.iterfind("bindings/binding"):
            bindings.append(
                Binding(b.get("protocol", ""), b.get("bindingInformation", ""), int(b.get("sslFlags", 0)))
            )
        root_app = next((a for a in config.iterfind("application") if a.get("path") == "/"), None)
        if root_app is None:
            root_app = config.find("applicationDefaults")
        if root_app is not None:
            pool = root_app.get("applicationPool", "")
            vdir = next((v for v in root_app.iterfind("virtualDirectory") if v.get("path") == "/"), None)
            path = vdir.get("physicalPath", "") if vdir is not None else ""
    else:  # plain /xml: only the bindings summary
        for text in filter(None, item.get("bindings", "").split(",")):
            protocol, _, information = text.partition("/")
            bindings.append(Binding(protocol, information))
    return Site(name, tuple(bindings), pool, path, item.get("state", "Unknown"), tuple(applications))


def parse_sites(xml: bytes | str) -> dict[str, Site]:
    return {site.name: site for site in map(_site_from_config, _parse(xml).iter("SITE"))}


def handlers_locked(list_config_output: str) -> bool:
    """From `appcmd list config "S/" /section:system.webServer/handlers`: True when IIS refuses the
    site's web.config because the section is locked above it (what a request would get as 500.19)."""
    return LOCKED_MARKER in list_config_output


def parse_anonymous_user(list_config_output: str) -> str:
    """From `appcmd list config "S/" /section:...anonymousAuthentication /config:*`: the userName
    (an empty one means the app-pool identity, Microsoft "Application Pool Identity as Anonymous User")."""
    element = _parse(list_config_output).find(".//anonymousAuthentication")
    return DEFAULT_ANONYMOUS_USER if element is None else element.get("userName", DEFAULT_ANONYMOUS_USER)


def section_attribute(list_config_output: str, tag: str, name: str, default: str) -> str:
    """One attribute of the section element `tag` in `appcmd list config ... /config:*` output."""
    root = _parse(list_config_output)
    element = root if root.tag == tag else root.find(f".//{tag}")
    return default if element is None else element.get(name, default)


def unreadable(what: str, result) -> QueryFailed:
    """appcmd could not read IIS's configuration: most often a prompt that is not elevated."""
    return QueryFailed(
        f"{what} failed (exit code {result.returncode}): {' '.join(result.text.split())}\n"
        "IIS's configuration is readable by administrators only: open PowerShell with 'Run as "
        "administrator' and run the same command (nothing was changed)."
    )


def read_state(appcmd: str | None, query, site_name: str) -> ServerState:
    """Ask appcmd (through `query(argv) -> Result`) for all sites and pools (another site may hold a
    binding we want) and whether `site_name`'s web.config may set the handlers section."""
    if appcmd is None:
        return ServerState()
    results = {}
    for kind in ("site", "apppool"):
        result = query([appcmd, "list", kind, "/config:*", "/xml"])
        if result.returncode:
            raise unreadable(f"appcmd list {kind}", result)
        results[kind] = result.stdout
    state = ServerState(sites=parse_sites(results["site"]), pools=parse_pools(results["apppool"]))
    if site_name in state.sites:
        result = query([appcmd, "list", "config", f"{site_name}/", f"/section:{HANDLERS_SECTION}"])
        if result.returncode == 0 and not handlers_locked(result.text):
            state.handlers_unlocked.add(site_name)
        result = query(
            [appcmd, "list", "config", f"{site_name}/", f"/section:{ANONYMOUS_SECTION}", "/config:*"]
        )
        if result.returncode:
            raise unreadable("appcmd list config (anonymousAuthentication)", result)
        state.anonymous_user[site_name] = parse_anonymous_user(result.stdout)
        anonymous = section_attribute(result.stdout, "anonymousAuthentication", "enabled", "false")
        outputs = {}
        for section in (WINDOWS_SECTION, RUNTIME_SECTION):
            result = query([appcmd, "list", "config", f"{site_name}/", f"/section:{section}", "/config:*"])
            if result.returncode:
                raise unreadable(f"appcmd list config ({section.rsplit('/', 1)[1]})", result)
            outputs[section] = result.stdout
        state.authentication[site_name] = SiteAuth(
            anonymous=anonymous.lower() == "true",
            windows=section_attribute(outputs[WINDOWS_SECTION], "windowsAuthentication", "enabled", "false")
            .lower() == "true",
            user_override=section_attribute(
                outputs[RUNTIME_SECTION], "serverRuntime", "authenticatedUserOverride", "UseAuthenticatedUser"
            ),
        )  # fmt: skip
    return state
