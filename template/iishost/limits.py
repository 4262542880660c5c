"""The project's request-size limit, read from where IIS enforces it.

`maxAllowedContentLength` in web.config's `<requestFiltering><requestLimits>` is the one place the
limit is set: IIS refuses a larger body with 404.13 before Django sees it, and settings.py reads
the same number (MAX_REQUEST_BYTES) so that Django's own limits never exceed it. `invoke run` has
no IIS in front: there only Django's limits apply.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

IIS_DEFAULT = 30_000_000  # applicationHost.config's default (iis-docs, requestLimits)


def max_request_bytes(web_config: Path | str) -> int:
    """maxAllowedContentLength of the site's web.config, or IIS's default when it sets none."""
    try:
        root = ET.parse(web_config).getroot()  # noqa: S314 (the project's own web.config)
    except (OSError, ET.ParseError):
        return IIS_DEFAULT
    limits = root.find("system.webServer/security/requestFiltering/requestLimits")
    value = limits.get("maxAllowedContentLength") if limits is not None else None
    return int(value) if value and value.isdigit() else IIS_DEFAULT
