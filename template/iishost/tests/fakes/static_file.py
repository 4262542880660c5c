"""What IIS answers for a file its static file handler serves, from the fakes' state (tests only).

IIS's StaticFile handler opens the file with the request's token. For an anonymous request that is
the account anonymousAuthentication's userName names (IUSR unless set), or, when userName is empty,
the app pool's identity `IIS AppPool\\<pool>` (Microsoft, "Application Pool Identity as Anonymous
User"; IIS configuration reference, `<anonymousAuthentication>`). A file that token may not read
is answered 401.3, "Unauthorized due to ACL on resource" (Microsoft, "HTTP status code overview").
Who may read comes from `icacls <folder>` of the fake icacls, as IIS would get it from the folder's
ACL: an entry for the account itself or for a group it is in. Group membership is simplified: both
accounts count as members of Users and Everyone (so IUSR reads a folder that still inherits
`BUILTIN\\Users:(RX)` from the drive, as IIS's own wwwroot does), app-pool identities also of
IIS_IUSRS (Microsoft, "Understanding Built-In User and Group Accounts in IIS").

With anonymous authentication off and Windows authentication on, the request's token is the
signed-in user's, unless serverRuntime's authenticatedUserOverride is UseWorkerProcessUser: then
content is read as the worker process's identity (Microsoft, IIS configuration reference,
`<serverRuntime>`; "What does the authenticatedUserOverride do?", blogs.iis.net/jaroslad). With
neither authentication on, IIS answers 401.2 before any file is opened.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from iishost.deploy.acl.state import parse_icacls

READ = {"F", "M", "RX", "R"}
GROUPS = {"builtin\\users", "everyone"}


def anonymous_account(state: Path, site: str) -> str:
    """The account IIS reads static files of `site` as, from the fake applicationHost.config."""
    root = ET.parse(state / "applicationHost.config").getroot()
    section = "system.webServer/security/authentication/anonymousAuthentication"
    user = "IUSR"
    server = root.find(section)
    if server is not None:
        user = server.get("userName", user)
    for location in root.findall("location"):
        element = location.find(section)
        if location.get("path") == site and element is not None:
            user = element.get("userName", user)
    if user:
        return "NT AUTHORITY\\IUSR" if user.upper() == "IUSR" else user
    pool = root.find(f'system.applicationHost/sites/site[@name="{site}"]/application').get(
        "applicationPool", "DefaultAppPool"
    )
    return f"IIS APPPOOL\\{pool}"


def _effective(root: ET.Element, site: str, section: str, name: str, default: str) -> str:
    value = default
    server = root.find(section)
    if server is not None:
        value = server.get(name, value)
    for location in root.findall("location"):
        element = location.find(section)
        if location.get("path") == site and element is not None:
            value = element.get(name, value)
    return value


def reading_account(state: Path, site: str, user: str) -> str | None:
    """The account a GET by Windows user `user` (who signs in when asked) reads files as; None: 401.2."""
    root = ET.parse(state / "applicationHost.config").getroot()
    auth = "system.webServer/security/authentication/"
    if _effective(root, site, auth + "anonymousAuthentication", "enabled", "false") == "true":
        return anonymous_account(state, site)
    if _effective(root, site, auth + "windowsAuthentication", "enabled", "false") != "true":
        return None
    override = _effective(root, site, "system.webServer/serverRuntime", "authenticatedUserOverride", "")
    if override != "UseWorkerProcessUser":
        return user
    pool = root.find(f'system.applicationHost/sites/site[@name="{site}"]/application').get(
        "applicationPool", "DefaultAppPool"
    )
    return f"IIS APPPOOL\\{pool}"


def get(state: Path, site: str, file: Path, env: dict, user: str = "CONTOSO\\alice") -> tuple[int, str]:
    """(200 or 401, the account) for a GET of `file` served by IIS's static file handler, by a browser
    signed in to Windows as `user` (used only when the site asks for Windows sign-in)."""
    account = reading_account(state, site, user)
    if account is None:
        return 401, ""
    listing = subprocess.run(
        ["icacls", str(file.parent)], env=env, capture_output=True, text=True, check=False
    )  # fmt: skip
    members = {account.lower(), *GROUPS} | (
        {"builtin\\iis_iusrs"} if account.lower().startswith("iis apppool\\") else set()
    )
    aces = parse_icacls(str(file.parent), listing.stdout) if listing.returncode == 0 else []
    allowed = any(
        a.principal.lower() in members and "DENY" not in a.flags and READ & set(a.rights) for a in aces
    )
    return (200 if allowed and os.path.isfile(file) else 401), account
