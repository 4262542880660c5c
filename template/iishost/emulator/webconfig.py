"""Read `<httpPlatform>` from a web.config and check it the way IIS does.

IIS validates a section against its schema when it loads the configuration and answers every
request with HTTP 500.19 if an attribute is unknown or a value is of the wrong type or out of
range. Two HttpPlatformHandler builds are in the field with different schemas (Microsoft's 1.2 and
LeXtudio's v2); the emulator checks against both by default, so a web.config that passes here
loads on either server. hph_schemas.py has both builds' tables with their sources; `load_schema`
reads a server's own inetsrv\\config\\schema\\httpplatform_schema.xml. Used by the IIS emulator
(`invoke serve`) and by the tests.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

from iishost.emulator.hph_schemas import SCHEMAS, Attribute, Schema

SECTION = "system.webServer/httpPlatform"
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


def _attribute(element: ET.Element) -> Attribute:
    kind, validation = element.get("type", "string"), element.get("validationType", "")
    low = high = None
    granularity = 1
    parameters = [p.strip() for p in element.get("validationParameter", "").split(",") if p.strip()]
    if validation in ("integerRange", "timeSpanRange") and len(parameters) >= 2:
        low, high = int(parameters[0]), int(parameters[1])
        if validation == "timeSpanRange" and len(parameters) > 2:
            granularity = int(parameters[2])
    return Attribute(
        name=element.get("name"),
        kind=kind,
        default=element.get("defaultValue"),
        required=element.get("required") == "true",
        non_empty=validation == "nonEmptyString",
        low=low,
        high=high,
        granularity=granularity,
    )


def load_schema(path: Path | str, build: str = "") -> Schema:
    """The httpPlatform section of an IIS schema file (the format of inetsrv\\config\\schema)."""
    root = ET.parse(path).getroot()  # noqa: S314 (a schema file shipped with the project or IIS's own)
    section = next(s for s in root.iter("sectionSchema") if s.get("name") == SECTION)
    attributes = {a.get("name"): _attribute(a) for a in section.findall("attribute")}
    collections = {}
    for element in section.findall("element"):
        collection = element.find("collection")
        if collection is not None:
            collections[element.get("name")] = (
                collection.get("addElement", "add"),
                collection.get("clearElement", "clear"),
                {a.get("name"): _attribute(a) for a in collection.findall("attribute")},
            )
    return Schema(build or Path(path).stem, attributes, collections)


# The builds, by the name `--hph` and Emulator(hph_builds=...) take (hph_schemas.py: sources).
BUILDS = tuple(SCHEMAS)
# v2 has no startupRetryCount: it tries a start twice (serverprocess.cpp, dwRetryCount = 2).
V2_START_ATTEMPTS = 2


def build_of_schema(path: Path | str) -> str | None:
    """Which HttpPlatformHandler build installed this httpplatform_schema.xml: "1.2", "2", or
    None when its httpPlatform section matches neither (a build this project has not seen)."""
    try:
        found = load_schema(path)
    except (OSError, ET.ParseError, StopIteration):
        return None
    for build, schema in SCHEMAS.items():
        if (found.attributes, found.collections) == (schema.attributes, schema.collections):
            return build
    return None


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
    startup_time_limit: int = 120
    startup_retry_count: int = 10
    rapid_fails_per_minute: int = 10
    request_timeout: int = 120  # seconds
    stdout_log_enabled: bool = False
    stdout_log_file: str = r".\httpplatform-stdout"
    processes_per_application: int = 1
    forward_windows_auth_token: bool = False
    environment_variables: dict[str, str] = field(default_factory=dict)
    recycle_on_file_change: tuple[str, ...] = ()
    build: str = "1.2"  # whose defaults and behaviour apply when several builds are checked


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _convert(attribute: Attribute, raw: str, reasons: list[str]) -> object:
    """The typed value of one attribute; a problem is added to `reasons` (value then None)."""
    name, kind = attribute.name, attribute.kind
    if attribute.non_empty and not raw:
        reasons.append(f"{name} must not be empty")
    if kind == "string":
        return raw
    if kind == "bool":
        return _bool(name, raw, reasons)
    if kind == "uint":
        if not raw.isdigit():
            reasons.append(f'{name}="{raw}" is not an unsigned integer')
            return None
        value = int(raw)
        unit = ""
    elif kind == "timeSpan":
        value = _timespan(name, raw, reasons)
        if value is None:
            return None
        if value % attribute.granularity:
            reasons.append(
                f'{name}="{raw}" must be a multiple of {attribute.granularity} seconds '
                "(the schema granularity)"
            )
        unit = " seconds"
    else:
        return raw
    if attribute.low is not None and not attribute.low <= value <= attribute.high:
        reasons.append(f'{name}="{raw}" is out of range ({attribute.low} to {attribute.high}{unit})')
    return value


def _check(
    element: ET.Element, schema: Schema
) -> tuple[dict[str, object], dict[str, str], list[str], list[str]]:
    """(values, environment, recycle files, reasons) of `element` under one build's schema."""
    reasons: list[str] = []
    values: dict[str, object] = {}
    for name, attribute in schema.attributes.items():
        raw = element.get(name, attribute.default)
        if raw is None:
            continue
        value = _convert(attribute, raw, reasons)
        if value is not None:
            values[_snake(name)] = value
    for name in element.attrib:
        if name not in schema.attributes:
            reasons.append(f'unrecognized attribute "{name}"')
    if not values.get("process_path"):
        reasons.append("processPath is required and must not be empty")
    env: dict[str, str] = {}
    files: list[str] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments
        if child.tag not in schema.collections:
            reasons.append(f'unrecognized element "{child.tag}"')
            continue
        add, clear, item_schema = schema.collections[child.tag]
        for item in child:
            if not isinstance(item.tag, str):
                continue
            if item.tag == clear:
                (env if child.tag == "environmentVariables" else files).clear()
                continue
            if item.tag != add:
                reasons.append(f'unrecognized element "{item.tag}" in <{child.tag}>')
                continue
            item_values = {}
            for name, attribute in item_schema.items():
                raw = item.get(name)
                if raw is None:
                    if attribute.required:
                        reasons.append(f'<{add}> in <{child.tag}> needs the required attribute "{name}"')
                    continue
                item_values[name] = _convert(attribute, raw, reasons)
            for name in item.attrib:
                if name not in item_schema:
                    reasons.append(f'unrecognized attribute "{name}" on <{add}> in <{child.tag}>')
            if child.tag == "environmentVariables" and item_values.get("name") and "value" in item_values:
                env[item_values["name"]] = item_values["value"]
            elif child.tag == "recycleOnFileChange" and item_values.get("path"):
                files.append(item_values["path"])
    return values, env, files, reasons


def parse_http_platform(
    element: ET.Element, source: Path | str = "web.config", builds: tuple[str, ...] = BUILDS
) -> HttpPlatform:
    """Type and range-check one `<httpPlatform>` element against each build's schema; raise
    ConfigError (500.19) with every problem, naming the build when only some builds refuse it.
    Defaults and build-specific behaviour come from the first build."""
    results = {build: _check(element, SCHEMAS[build]) for build in builds}
    reasons: list[str] = []
    for build, (*_, build_reasons) in results.items():
        for reason in build_reasons:
            everywhere = all(reason in r[-1] for r in results.values())
            text = reason if everywhere or len(builds) == 1 else f"HttpPlatformHandler {build}: {reason}"
            if text not in reasons:
                reasons.append(text)
    if reasons:
        raise ConfigError(source, reasons)
    values, env, files, _ = results[builds[0]]
    if builds[0] == "2":
        values["startup_retry_count"] = V2_START_ATTEMPTS
    return HttpPlatform(
        **values, environment_variables=env, recycle_on_file_change=tuple(files), build=builds[0]
    )


def read(path: Path | str) -> ET.Element:
    """Parse a web.config; malformed XML is a 500.19 too."""
    try:
        return ET.parse(path).getroot()  # noqa: S314 (the project's own web.config, not untrusted input)
    except ET.ParseError as exc:
        raise ConfigError(path, [f"malformed XML: {exc}"]) from exc


def read_string(text: str, source: str = "web.config") -> ET.Element:
    """Like read(), from text (tests and tools that build a configuration in memory)."""
    try:
        return ET.fromstring(text)  # noqa: S314 (the caller's own text)
    except ET.ParseError as exc:
        raise ConfigError(source, [f"malformed XML: {exc}"]) from exc


def load_http_platform(path: Path | str, builds: tuple[str, ...] = BUILDS) -> HttpPlatform | None:
    """The checked `<httpPlatform>` of one web.config, or None if it has none."""
    element = read(path).find(SECTION)
    return None if element is None else parse_http_platform(element, path, builds)


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
    # requestFiltering's attributes and requestLimits, applicationHost.config's defaults (iis-docs
    # "Request Limits <requestLimits>" and "Request Filtering <requestFiltering>").
    allow_double_escaping: bool = False
    allow_high_bit_characters: bool = True
    max_allowed_content_length: int = 30_000_000
    max_url: int = 4096
    max_query_string: int = 2048
    # httpProtocol/customHeaders: added to every response; applicationHost.config adds
    # X-Powered-By: ASP.NET (iis-docs "Custom Headers <customHeaders>").
    custom_headers: tuple[tuple[str, str], ...] = (("X-Powered-By", "ASP.NET"),)

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
        for attribute in ("allowDoubleEscaping", "allowHighBitCharacters"):
            if attribute in filtering.attrib:
                changes[_snake(attribute)] = _convert_bool(filtering, attribute, True, reasons)
        limits = filtering.find("requestLimits")
        for attribute in ("maxAllowedContentLength", "maxUrl", "maxQueryString"):
            raw = limits.get(attribute) if limits is not None else None
            if raw is not None:
                value = _convert(Attribute(attribute, "uint", low=0, high=2**32 - 1), raw, reasons)
                if value is not None:
                    changes[_snake(attribute)] = value

    custom = web.find("httpProtocol/customHeaders")
    if custom is not None:
        headers = _merge_collection(
            custom, {k.lower(): (k, v) for k, v in parent.custom_headers}, "name", _header, reasons
        )
        changes["custom_headers"] = tuple(headers.values())

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


def _header(element: ET.Element) -> tuple[str, str]:
    return element.get("name", ""), element.get("value", "")


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
