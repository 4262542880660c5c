"""Read `<httpPlatform>` from a web.config and check it the way IIS does.

IIS validates a section against its schema when it loads the configuration and answers every
request with HTTP 500.19 if a value is of the wrong type or out of range. The types, ranges and
defaults below are HttpPlatformHandler v1.2's published schema (httpplatform_schema.xml,
installed into %windir%\\System32\\inetsrv\\config\\schema; summarised with sources in the
project docs, docs/iis-facts.md). Used by the IIS emulator (`invoke serve`) and by the tests.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
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
        if raw.lower() not in {"true", "false"}:
            reasons.append(f'{name}="{raw}" is not a boolean (true or false)')
            return default
        return raw.lower() == "true"
    if kind == "uint":
        if not raw.isdigit():
            reasons.append(f'{name}="{raw}" is not an unsigned integer')
            return default
        value = int(raw)
    else:  # timeSpan, [d.]hh:mm:ss, whole minutes only
        match = _TIMESPAN.match(raw)
        if not match:
            reasons.append(f'{name}="{raw}" is not a time span (hh:mm:ss)')
            return default
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        if hours > 23 or minutes > 59 or seconds > 59:
            reasons.append(f'{name}="{raw}" is not a time span (hh:mm:ss)')
            return default
        value = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
        if seconds:
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
