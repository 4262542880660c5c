"""The `system.webServer/httpPlatform` section as each HttpPlatformHandler build's schema defines it.

Facts, written here in our own form (not a copy of either file), from:

- HPH 1.2 (Microsoft, closed source): its `httpplatform_schema.xml` as published in the
  HttpPlatformHandler configuration reference and dotnet/AspNetCore.Docs
  (`aspnet/tutorials/nano-server.rst`); summarised with sources in the template repository's
  shared reference `httpplatform-schema.md`.
- HPH v2 (LeXtudio, MIT): lextudio/httpplatformhandlerv2,
  `src/Servers/IIS/AspNetCoreModuleV2/AspNetCore/httpplatform_schema.xml` (commit c4598d49).

Both installers write the file as %windir%\\System32\\inetsrv\\config\\schema\\httpplatform_schema.xml;
`webconfig.build_of_schema(path)` compares a server's file with these tables.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attribute:
    """One `<attribute>` of an IIS configSchema: type, default, validation."""

    name: str
    kind: str  # string, uint, bool, timeSpan
    default: str | None = None
    required: bool = False
    non_empty: bool = False
    low: int | None = None
    high: int | None = None
    granularity: int = 1  # timeSpanRange's third parameter, in seconds


@dataclass(frozen=True)
class Schema:
    """The `system.webServer/httpPlatform` section of one build's schema."""

    build: str
    attributes: dict[str, Attribute]
    # element -> (addElement name, clearElement name, the added element's attributes)
    collections: dict[str, tuple[str, str, dict[str, Attribute]]]


def _by_name(*attributes: Attribute) -> dict[str, Attribute]:
    return {a.name: a for a in attributes}


def _name_value(add: str) -> tuple[str, str, dict[str, Attribute]]:
    return (
        add,
        "clear",
        _by_name(
            Attribute("name", "string", required=True, non_empty=True),
            Attribute("value", "string", required=True),
        ),
    )


_RECYCLE = ("file", "clear", _by_name(Attribute("path", "string", required=True, non_empty=True)))


def _common(*, time_limit_default: str, request_timeout_high: int, granularity: int, forward: str):
    return [
        Attribute("processPath", "string"),
        Attribute("arguments", "string", default=""),
        Attribute("startupTimeLimit", "uint", default=time_limit_default, low=0, high=3600),
        Attribute("rapidFailsPerMinute", "uint", default="10", low=0, high=100),
        Attribute(
            "requestTimeout",
            "timeSpan",
            default="00:02:00",
            low=0,
            high=request_timeout_high,
            granularity=granularity,
        ),  # fmt: skip
        Attribute("stdoutLogEnabled", "bool", default="false"),
        Attribute("stdoutLogFile", "string", default=".\\httpplatform-stdout"),
        Attribute("processesPerApplication", "uint", default="1", low=1, high=100),
        Attribute("forwardWindowsAuthToken", "bool", default=forward),
    ]


HPH_12 = Schema(
    "1.2",
    _by_name(
        *_common(time_limit_default="120", request_timeout_high=2_592_000, granularity=60, forward="false"),
        Attribute("startupRetryCount", "uint", default="10", low=0, high=100),
    ),
    {"recycleOnFileChange": _RECYCLE, "environmentVariables": _name_value("environmentVariable")},
)

HPH_2 = Schema(
    "2",
    _by_name(
        *_common(time_limit_default="120", request_timeout_high=1_296_000, granularity=1, forward="true")
    ),
    {
        "recycleOnFileChange": _RECYCLE,
        "environmentVariables": _name_value("environmentVariable"),
        "handlerSettings": _name_value("handlerSetting"),
    },
)

SCHEMAS: dict[str, Schema] = {schema.build: schema for schema in (HPH_12, HPH_2)}
