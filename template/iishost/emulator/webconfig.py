"""Read `<httpPlatform>` from a web.config and check it the way IIS does.

IIS validates a section against its schema when it loads the configuration and answers every
request with HTTP 500.19 if a value is of the wrong type or out of range. The types, ranges and
defaults below are HttpPlatformHandler v1.2's published schema (httpplatform_schema.xml,
installed into %windir%\\System32\\inetsrv\\config\\schema; summarised with sources in the
project docs, iishost/docs/iis-facts.md). Used by the IIS emulator (`invoke serve`) and by the tests.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

SECTION = "system.webServer/httpPlatform"

# attribute -> (kind, minimum, maximum, default). uint ranges and defaults from the schema;
# startupTimeLimit's default is 10 in the configuration reference (one schema copy says 120).
ATTRIBUTES: dict[str, tuple[str, int | None, int | None, object]] = {
    "processPath": ("string", None, None, ""),
    "arguments": ("string", None, None, ""),
    "startupTimeLimit": ("uint", 0, 3600, 10),
    "startupRetryCount": ("uint", 0, 100, 10),
    "rapidFailsPerMinute": ("uint", 0, 100, 10),
    "requestTimeout": ("timeSpan", 0, 30 * 24 * 3600, 120),
    "stdoutLogEnabled": ("bool", None, None, False),
    "stdoutLogFile": ("string", None, None, r".\httpplatform-stdout"),
    "processesPerApplication": ("uint", 1, 100, 1),
    "forwardWindowsAuthToken": ("bool", None, None, False),
}
CHILDREN = {"environmentVariables": "environmentVariable", "recycleOnFileChange": "file"}
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


class ConfigError(ValueError):
    """A configuration IIS refuses to load (HTTP 500.19); the message lists every reason."""

    def __init__(self, path: Path | str, reasons: list[str]):
        self.path, self.reasons = Path(path), reasons
        super().__init__(f"{path}: HTTP 500.19, invalid configuration: " + "; ".join(reasons))


@dataclass(frozen=True)
class HttpPlatform:
    """The `<httpPlatform>` section with every value typed and defaulted."""

    process_path: str
    arguments: str = ""
    startup_time_limit: int = 10
    startup_retry_count: int = 10
    rapid_fails_per_minute: int = 10
    request_timeout: int = 120  # seconds
    stdout_log_enabled: bool = False
    stdout_log_file: str = r".\httpplatform-stdout"
    processes_per_application: int = 1
    forward_windows_auth_token: bool = False
    environment_variables: dict[str, str] = field(default_factory=dict)
    recycle_on_file_change: tuple[str, ...] = ()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _convert(name: str, raw: str, reasons: list[str]) -> object:
    kind, low, high, default = ATTRIBUTES[name]
    if kind == "string":
        return raw
    if kind == "bool":
        value = _bool(name, raw, reasons)
        return default if value is None else value
    if kind == "uint":
        if not raw.isdigit():
            reasons.append(f'{name}="{raw}" is not an unsigned integer')
            return default
        value = int(raw)
    else:  # timeSpan, [d.]hh:mm:ss, whole minutes only
        value = _timespan(name, raw, reasons)
        if value is None:
            return default
        if value % 60:
            reasons.append(f'{name}="{raw}" must be whole minutes (the schema granularity is 60 seconds)')
    if value < low or value > high:
        reasons.append(f'{name}="{raw}" is out of range ({low} to {high})')
    return value


def parse_http_platform(element: ET.Element, source: Path | str = "web.config") -> HttpPlatform:
    """Type and range-check one `<httpPlatform>` element; raise ConfigError with every problem."""
    reasons: list[str] = []
    values: dict[str, object] = {}
    for name, raw in element.attrib.items():
        if name not in ATTRIBUTES:
            reasons.append(f'unrecognized attribute "{name}"')
            continue
        values[_snake(name)] = _convert(name, raw, reasons)
    if not values.get("process_path"):
        reasons.append("processPath is required and must not be empty")
    env: dict[str, str] = {}
    files: list[str] = []
    for child in element:
        if child.tag not in CHILDREN:
            reasons.append(f'unrecognized element "{child.tag}"')
            continue
        for item in child:
            if item.tag != CHILDREN[child.tag] and item.tag not in {"clear", "remove"}:
                reasons.append(f'unrecognized element "{item.tag}" in <{child.tag}>')
            elif item.tag == "environmentVariable":
                name, value = item.get("name"), item.get("value")
                if not name:
                    reasons.append("an environmentVariable needs a non-empty name")
                elif value is None:
                    reasons.append(f'environmentVariable "{name}" needs a value attribute')
                else:
                    env[name] = value
            elif item.tag == "file":
                if not item.get("path"):
                    reasons.append("a recycleOnFileChange file needs a non-empty path")
                else:
                    files.append(item.get("path"))
    if reasons:
        raise ConfigError(source, reasons)
    return HttpPlatform(**values, environment_variables=env, recycle_on_file_change=tuple(files))


def read(path: Path | str) -> ET.Element:
    """Parse a web.config; malformed XML is a 500.19 too."""
    try:
        return ET.parse(path).getroot()  # noqa: S314 (the project's own web.config, not untrusted input)
    except ET.ParseError as exc:
        raise ConfigError(path, [f"malformed XML: {exc}"]) from exc


def load_http_platform(path: Path | str) -> HttpPlatform | None:
    """The checked `<httpPlatform>` of one web.config, or None if it has none."""
    element = read(path).find("system.webServer/httpPlatform")
    return None if element is None else parse_http_platform(element, path)


# --- The other sections IIS applies to a request, merged folder by folder -------------------------
# IIS merges configuration down the URL path: applicationHost.config, then the site's web.config,
# then the web.config of each sub-folder on the way to the file. Collections take <add>, <remove>
# and <clear/>. The defaults below are those of applicationHost.config on a server with the
# StaticFile role and no ASP.NET (IIS 10 `%windir%\System32\inetsrv\config\applicationHost.config`,
# section requestFiltering; iis-docs "Request Filtering <requestFiltering>").

DEFAULT_HIDDEN_SEGMENTS = (
    "web.config", "bin", "App_code", "App_GlobalResources", "App_LocalResources",
    "App_WebReferences", "App_Data", "App_Browsers",
)  # fmt: skip
DEFAULT_DENIED_EXTENSIONS = (
    ".asa", ".asax", ".ascx", ".master", ".skin", ".browser", ".sitemap", ".config", ".cs",
    ".csproj", ".vb", ".vbproj", ".webinfo", ".licx", ".resx", ".resources", ".mdb", ".vjsproj",
    ".java", ".jsl", ".ldb", ".dsdgm", ".ssdgm", ".lsad", ".ssmap", ".cd", ".dsprototype",
    ".lsaprototype", ".sdm", ".sdmDocument", ".mdf", ".ldf", ".ad", ".dd", ".ldd", ".sd",
    ".adprototype", ".lddprototype", ".exclude", ".refresh", ".compiled", ".msgx", ".vsdisco",
    ".rules",
)  # fmt: skip
CACHE_MODES = {"NoControl", "DisableCache", "UseMaxAge", "UseExpires"}


@dataclass(frozen=True)
class Handler:
    name: str
    path: str  # a file-name pattern: "*", "*.php"
    verb: str  # "*" or a comma-separated list
    modules: str  # "httpPlatformHandler", "StaticFileModule", ...


@dataclass(frozen=True)
class FolderConfig:
    """What IIS applies to requests under one folder once every level above it is merged."""

    handlers: tuple[Handler, ...] = (Handler("StaticFile", "*", "*", "StaticFileModule"),)
    hidden_segments: frozenset[str] = frozenset(s.lower() for s in DEFAULT_HIDDEN_SEGMENTS)
    # fileExtensions: extension -> allowed; allow_unlisted decides the others
    file_extensions: tuple[tuple[str, bool], ...] = tuple(
        (e.lower(), False) for e in DEFAULT_DENIED_EXTENSIONS
    )
    allow_unlisted: bool = True
    cache_control_mode: str = "NoControl"
    cache_control_max_age: int = 24 * 3600  # schema default 1.00:00:00
    cache_control_custom: str = ""
    http_expires: str = ""
    mime_map: tuple[tuple[str, str | None], ...] = ()  # extension -> type; None removes it

    def handler_for(self, file_name: str, method: str) -> Handler | None:
        """IIS picks the first handler in the ordered list whose path and verb match."""
        from fnmatch import fnmatch

        for handler in self.handlers:
            verbs = {v.strip().upper() for v in handler.verb.split(",")}
            if fnmatch(file_name.lower(), handler.path.lower()) and ("*" in verbs or method in verbs):
                return handler
        return None

    def extension_allowed(self, extension: str) -> bool:
        rules = dict(self.file_extensions)
        return rules.get(extension.lower(), self.allow_unlisted)


def _merge_collection(
    element: ET.Element | None, items: dict[str, object], key: str, value, reasons: list[str]
) -> dict[str, object]:
    """Apply <clear/>, <remove key=".."/> and <add key=".." .../> in document order."""
    if element is None:
        return items
    items = dict(items)
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments
        name = child.get(key, "")
        if child.tag == "clear":
            items.clear()
        elif child.tag == "remove":
            items.pop(name.lower(), None)
        elif child.tag == "add" or (child.tag == "mimeMap" and key == "fileExtension"):
            if not name:
                reasons.append(f'<{child.tag}> in <{element.tag}> needs a non-empty "{key}"')
                continue
            items[name.lower()] = value(child)
    return items


def merge_folder(parent: FolderConfig, root: ET.Element, source: Path | str) -> FolderConfig:
    """`parent` with one web.config applied on top; ConfigError (500.19) lists invalid values."""
    reasons: list[str] = []
    web = root.find("system.webServer")
    if web is None:
        return parent
    changes: dict[str, object] = {}

    handlers = web.find("handlers")
    if handlers is not None:
        inherited = {h.name.lower(): h for h in parent.handlers}
        merged = _merge_collection(
            handlers,
            inherited,
            "name",
            lambda e: Handler(e.get("name"), e.get("path", "*"), e.get("verb", "*"), e.get("modules", "")),
            reasons,
        )
        # A folder's own handlers come first in the ordered list, then the inherited ones it kept
        # (IIS Manager, Handler Mappings, "View Ordered List").
        own = [h for k, h in merged.items() if k not in inherited or inherited[k] is not h]
        changes["handlers"] = tuple(own + [h for k, h in merged.items() if inherited.get(k) is h])

    filtering = web.find("security/requestFiltering")
    if filtering is not None:
        segments = _merge_collection(
            filtering.find("hiddenSegments"),
            {s: True for s in parent.hidden_segments},
            "segment",
            lambda e: True,
            reasons,
        )
        changes["hidden_segments"] = frozenset(segments)
        extensions_element = filtering.find("fileExtensions")
        extensions = _merge_collection(
            extensions_element,
            dict(parent.file_extensions),
            "fileExtension",
            lambda e: _convert_bool(e, "allowed", True, reasons),
            reasons,
        )
        changes["file_extensions"] = tuple(extensions.items())
        if extensions_element is not None and "allowUnlisted" in extensions_element.attrib:
            changes["allow_unlisted"] = _convert_bool(extensions_element, "allowUnlisted", True, reasons)

    static = web.find("staticContent")
    if static is not None:
        cache = static.find("clientCache")
        if cache is not None:
            mode = cache.get("cacheControlMode", parent.cache_control_mode)
            if mode not in CACHE_MODES:
                reasons.append(f'cacheControlMode="{mode}" is not one of {", ".join(sorted(CACHE_MODES))}')
            changes["cache_control_mode"] = mode
            if "cacheControlMaxAge" in cache.attrib:
                max_age = _timespan("cacheControlMaxAge", cache.get("cacheControlMaxAge"), reasons)
                changes["cache_control_max_age"] = (
                    parent.cache_control_max_age if max_age is None else max_age
                )
            for attribute, field_name in (
                ("cacheControlCustom", "cache_control_custom"),
                ("httpExpires", "http_expires"),
            ):
                if attribute in cache.attrib:
                    changes[field_name] = cache.get(attribute)
        mime = {}
        for child in static:
            if child.tag == "clear":
                mime = {"*": None}
            elif child.tag in {"remove", "mimeMap"}:
                extension = child.get("fileExtension", "")
                if not extension:
                    reasons.append(f"<{child.tag}> in <staticContent> needs a fileExtension")
                mime[extension.lower()] = child.get("mimeType") if child.tag == "mimeMap" else None
        changes["mime_map"] = parent.mime_map + tuple(mime.items())

    if reasons:
        raise ConfigError(source, reasons)
    return replace(parent, **changes)


def _bool(name: str, raw: str, reasons: list[str]) -> bool | None:
    if raw.lower() not in {"true", "false"}:
        reasons.append(f'{name}="{raw}" is not a boolean (true or false)')
        return None
    return raw.lower() == "true"


def _convert_bool(element: ET.Element, name: str, default: bool, reasons: list[str]) -> bool:
    raw = element.get(name)
    value = None if raw is None else _bool(name, raw, reasons)
    return default if value is None else value


def _timespan(name: str, raw: str, reasons: list[str]) -> int | None:
    """Seconds in an IIS timeSpan `[d.]hh:mm:ss`, or None (with the reason) if it is not one."""
    match = _TIMESPAN.match(raw)
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups()) if match else (0, 99, 0, 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        reasons.append(f'{name}="{raw}" is not a time span (hh:mm:ss)')
        return None
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
