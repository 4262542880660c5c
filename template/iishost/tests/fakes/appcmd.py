#!/usr/bin/env python3
"""A fake appcmd.exe for tests on Linux/macOS: the subset of syntax the deploy tasks use.

State lives in $FAKE_IIS_DIR/applicationHost.config, shaped like IIS's own file
(system.applicationHost/sites, system.applicationHost/applicationPools, system.webServer/modules,
`<location path="S" overrideMode="Allow">` for an unlocked section). Every call is appended to
$FAKE_IIS_DIR/calls.log as one JSON argv, so tests can see each argument arrived whole.

Output formats, messages and exit codes follow IIS 10's appcmd as documented by Microsoft
("Getting Started with AppCmd.exe", learn.microsoft.com/iis/get-started/getting-started-with-iis/
getting-started-with-appcmdexe) and seen in its output:
  - success: `APPPOOL object "P" added|changed|deleted`, `SITE object "S" added` followed by
    `APP object "S/" added` and `VDIR object "S/" added`; `"P" successfully recycled`.
  - /xml: `<?xml ...?><appcmd><SITE SITE.NAME=.. SITE.ID=.. bindings="http/*:80:h" state=..>`,
    /config:* nests the configuration element with its defaults filled in.
  - already exists: `ERROR ( hresult:800700b7, message:Failed to add duplicate collection element
    "P". )`, exit code 183 (0xb7, ERROR_ALREADY_EXISTS, the low word of the hresult).
  - not found: `ERROR ( message:Cannot find APPPOOL object with identifier "P". )`, exit code 1168
    (ERROR_NOT_FOUND; seen in one public test suite, not in Microsoft's docs).
  - not elevated ($FAKE_APPCMD_NOT_ELEVATED, a test knob): appcmd cannot read the configuration and
    says `ERROR ( message:Configuration error\nFilename: redirection.config\nLine Number: 0\n
    Description: Cannot read configuration file due to insufficient permissions\n. )` (the message
    IIS gives a non-administrator; exit code 5, ERROR_ACCESS_DENIED, assumed).
  - start of a started pool or site, stop of a stopped one: `ERROR ( hresult:80070420, ...The
    service has already been started. )` (Windows error 1056, ERROR_SERVICE_ALREADY_RUNNING) and
    `... hresult:80070426 ... The service has not been started. )` (1062); appcmd's wrapping as
    for its other errors, the exit code the hresult's low word (assumed, as above).
  - $FAKE_APPCMD_SECONDS (a test knob, not appcmd's): each changing command first waits that long,
    as a busy server's configuration commit can.
  - anonymousAuthentication (IIS configuration reference, `<anonymousAuthentication>`; Microsoft,
    "Application Pool Identity as Anonymous User"): applicationHost.config ships
    `enabled="true" userName="IUSR"`; `list config "S/" /section:...anonymousAuthentication` prints
    the effective section nested in its groups (`/config:*` adds the schema defaults); the section is
    locked for web.config files (overrideModeDefault="Deny"), so `set config "S/" ... /userName:`
    needs `/commit:apphost`, which writes `<location path="S">`; without it appcmd reports the
    locked-section error below. An empty userName means "the app pool's identity".
    fakes/static_file.py answers what IIS's static file handler would, from this state.
  - windowsAuthentication and serverRuntime (IIS configuration reference, `<windowsAuthentication>`
    and `<serverRuntime>`, learn.microsoft.com/iis/configuration/system.webserver/security/
    authentication/windowsauthentication/ and .../system.webserver/serverruntime): the same as
    anonymousAuthentication (listed with /config:*, set only with /commit:apphost, which writes the
    site's `<location>`). Schema defaults: windowsAuthentication enabled="false", useKernelMode="true";
    serverRuntime authenticatedUserOverride="UseAuthenticatedUser". applicationHost.config of a
    server with the Windows Authentication role service has `<windowsAuthentication enabled="false">`.
  - webFarms (Application Request Routing's server farms, a top-level section of applicationHost.config:
    `<webFarms><webFarm name="F" enabled="true"><server address="A" enabled="true"><applicationRequestRouting
    httpPort="80" />`; the shape xWebAdministration's xWebfarm tests use). Microsoft's ARR walkthroughs
    ("Define and Configure an Application Request Routing Server Farm", iis-docs) create them with
    `set config -section:webFarms /+"[name='F']" /commit:apphost` and `/+"[name='F'].[address='A']"`;
    the rollout (iishost/rollout/rollout.yml) takes a server out and back with
    `set config -section:webFarms /[name='F'].[address='A'].enabled:false|true /commit:apphost`
    (appcmd's collection-indexer path, as for `/[path='/'].applicationPool:` on sites). Each answers
    `Applied configuration changes to section "webFarms" for "MACHINE/WEBROOT/APPHOST" at configuration
    commit path "MACHINE/WEBROOT/APPHOST"` (the message of appcmd's other `set config`; the rollout
    passes /commit:apphost as Microsoft's pages do, and the fake does not check it). A farm or server
    that is not there: `Cannot find requested collection element.` (hresult 80070490), exit code 1168.
    `list config -section:webFarms` prints `<webFarms>` with its farms and servers. Options take `/`
    or `-` (`-section:` is how Microsoft's ARR pages write it). The runtime state ARR keeps besides the
    configuration (Available/Drain/Unavailable, set by the SetState method) is not in the file and
    not faked: iishost/docs/iis-facts.md, "ARR".
  - a web.config setting a locked section: IIS error 0x80070021's description ("This configuration
    section cannot be used at this path. This happens when the section is locked at a parent
    level..."), exit code 13 (assumed).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

STATE = Path(os.environ["FAKE_IIS_DIR"])
CONFIG = STATE / "applicationHost.config"
EMPTY = """<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>
      <add name="DefaultAppPool" />
      <applicationPoolDefaults managedRuntimeVersion="v4.0">
        <processModel identityType="ApplicationPoolIdentity" loadUserProfile="true" />
      </applicationPoolDefaults>
    </applicationPools>
    <sites>
      <site name="Default Web Site" id="1">
        <application path="/">
          <virtualDirectory path="/" physicalPath="%SystemDrive%\\inetpub\\wwwroot" />
        </application>
        <bindings><binding protocol="http" bindingInformation="*:80:" /></bindings>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <modules />
    <security>
      <authentication>
        <anonymousAuthentication enabled="true" userName="IUSR" />
        <windowsAuthentication enabled="false" />
      </authentication>
    </security>
  </system.webServer>
</configuration>
"""
# Schema defaults shown by /config:* (IIS_schema.xml; applicationPoolDefaults as IIS 10 ships them).
POOL_DEFAULTS = {
    "managedRuntimeVersion": "v4.0",
    "managedPipelineMode": "Integrated",
    "startMode": "OnDemand",
    "autoStart": "true",
    "processModel.identityType": "ApplicationPoolIdentity",
    "processModel.idleTimeout": "00:20:00",
    "processModel.loadUserProfile": "true",
    "recycling.periodicRestart.time": "1.05:00:00",
}
LOCKED = (
    "ERROR ( message:Configuration error\nFilename: \\\\?\\{path}\\web.config\nLine Number: 10\n"
    "Description: This configuration section cannot be used at this path. This happens when the section "
    'is locked at a parent level. Locking is either by default (overrideModeDefault="Deny"), or set '
    'explicitly by a location tag with overrideMode="Deny" or the legacy allowOverride="false".\n. )'
)


class Fail(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def not_found(kind: str, name: str) -> Fail:
    return Fail(f'ERROR ( message:Cannot find {kind} object with identifier "{name}". )', 1168)


def duplicate(name: str) -> Fail:
    return Fail(
        f'ERROR ( hresult:800700b7, message:Failed to add duplicate collection element "{name}". )', 183
    )


def load() -> ET.ElementTree:
    if not CONFIG.exists():
        CONFIG.write_text(EMPTY, encoding="utf-8")
    return ET.parse(CONFIG)


def parse_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """`/name:value` options (split at the first colon, as appcmd does) and bare identifiers;
    collection edits like `/+bindings.[...]` are read by the verbs that take them."""
    positional, options = [], {}
    for arg in args:
        if arg.startswith(("/+", "/-", "/[")):
            continue
        if arg.startswith("/") or arg.startswith("-") and ":" in arg:
            key, _, value = arg[1:].partition(":")
            options[key] = value
        else:
            positional.append(arg)
    return positional, options


def pools(root: ET.Element) -> ET.Element:
    return root.find("system.applicationHost/applicationPools")


def sites(root: ET.Element) -> ET.Element:
    return root.find("system.applicationHost/sites")


def find(parent: ET.Element, tag: str, name: str) -> ET.Element | None:
    return next((e for e in parent.findall(tag) if e.get("name") == name), None)


def identifier(kind: str, positional: list[str], options: dict[str, str]) -> str:
    name = options.pop(f"{kind}.name", None)
    if name is None and positional:
        name = positional.pop(0)
    if not name:
        raise Fail(f"ERROR ( message:Must specify the {kind.upper()} object identifier. )", 87)
    return name


def existing(kind: str, root: ET.Element, positional: list[str], options: dict[str, str]):
    """(name, element) of the app pool or site the command names; not found is an error."""
    name = identifier(kind, positional, options)
    parent, tag = (pools(root), "add") if kind == "apppool" else (sites(root), "site")
    element = find(parent, tag, name)
    if element is None:
        raise not_found(kind.upper(), name)
    return name, element


def set_dotted(element: ET.Element, dotted: str, value: str) -> None:
    *path, attribute = dotted.split(".")
    for tag in path:
        child = element.find(tag)
        if child is None:
            child = ET.SubElement(element, tag)
        element = child
    element.set(attribute, value)


def flatten(element: ET.Element, prefix: str = "") -> dict[str, str]:
    values = {prefix + k: v for k, v in element.attrib.items()}
    for child in element:
        values.update(flatten(child, f"{prefix}{child.tag}."))
    return values


def pool_xml(pool: ET.Element, full: bool) -> ET.Element:
    values = {**POOL_DEFAULTS, **flatten(pool)}
    out = ET.Element("APPPOOL", {
        "APPPOOL.NAME": pool.get("name"), "PipelineMode": values["managedPipelineMode"],
        "RuntimeVersion": values["managedRuntimeVersion"], "state": pool.get("_state", "Started"),
    })  # fmt: skip
    if full:
        add = ET.SubElement(out, "add")
        for key, value in values.items():
            if not key.startswith("_"):
                set_dotted(add, key, value)
    return out


def site_xml(site: ET.Element, full: bool) -> ET.Element:
    bindings = [
        f"{b.get('protocol')}/{b.get('bindingInformation')}" for b in site.iterfind("bindings/binding")
    ]
    out = ET.Element("SITE", {
        "SITE.NAME": site.get("name"), "SITE.ID": site.get("id"), "bindings": ",".join(bindings),
        "state": site.get("_state", "Started"),
    })  # fmt: skip
    if full:
        copy = ET.fromstring(ET.tostring(site))
        copy.attrib.pop("_state", None)
        for binding in copy.iterfind("bindings/binding"):
            binding.set("sslFlags", binding.get("sslFlags", "0"))
        for app in copy.iterfind("application"):
            app.set("applicationPool", app.get("applicationPool", "DefaultAppPool"))
        out.append(copy)
    return out


def print_xml(elements: list[ET.Element]) -> None:
    root = ET.Element("appcmd")
    root.extend(elements)
    ET.indent(root)
    sys.stdout.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )


def binding_item(text: str) -> dict[str, str]:
    """[protocol='http',bindingInformation='*:80:h',sslFlags='1'] -> dict."""
    match = re.fullmatch(r"\.?\[(.*)\]", text)
    if not match:
        raise Fail(f'ERROR ( message:Malformed collection indexer "{text}". )', 87)
    return dict(re.findall(r"(\w+)='([^']*)'", match[1]))


ANONYMOUS = "system.webServer/security/authentication/anonymousAuthentication"
WINDOWS = "system.webServer/security/authentication/windowsAuthentication"
RUNTIME = "system.webServer/serverRuntime"
# The sections' schema defaults (IIS_schema.xml), shown by /config:*; without it, the subset shown.
SECTIONS = {
    ANONYMOUS: {"enabled": "false", "userName": "IUSR", "password": "", "logonMethod": "ClearText"},
    WINDOWS: {"enabled": "false", "authPersistSingleRequest": "false", "useKernelMode": "true"},
    RUNTIME: {"enabled": "true", "authenticatedUserOverride": "UseAuthenticatedUser"},
}
SHOWN = {ANONYMOUS: {"enabled", "userName"}, WINDOWS: {"enabled"}, RUNTIME: set()}


def section_settings(root: ET.Element, site: str, section: str = ANONYMOUS) -> dict[str, str]:
    """The effective section for a site: schema defaults, then the server level, then <location path=site>."""
    values = dict(SECTIONS[section])
    server = root.find(section)
    if server is not None:
        values.update(server.attrib)
    for location in root.findall("location"):
        element = location.find(section)
        if site and location.get("path") == site and element is not None:
            values.update(element.attrib)
    return values


FARMS = "webFarms"
FARM_ITEM = re.compile(r"\[name='([^']*)'\](?:\.\[address='([^']*)'\])?")
NOT_IN_COLLECTION = "ERROR ( hresult:80070490, message:Cannot find requested collection element. )"


def web_farms(root: ET.Element, rest: list[str]) -> str:
    """`set config -section:webFarms` adding a farm or a server (/+"[...]"), or setting a server's
    enabled (/[name='F'].[address='A'].enabled:false)."""
    farms = root.find(FARMS)
    if farms is None:
        farms = ET.SubElement(root, FARMS)
    for arg in rest:
        adding = arg.startswith("/+")
        text = arg[2:] if adding else arg[1:]
        match = FARM_ITEM.match(text)
        if not (adding or arg.startswith("/[")) or not match:
            continue
        name, address = match.groups()
        farm = find(farms, "webFarm", name)
        if adding and address is None:
            if farm is not None:
                raise duplicate(name)
            ET.SubElement(farms, "webFarm", {"name": name, "enabled": "true"})
            continue
        server = (
            None
            if farm is None
            else next((s for s in farm.findall("server") if s.get("address") == address), None)
        )
        if adding:
            if farm is None:
                raise Fail(NOT_IN_COLLECTION, 1168)
            if server is not None:
                raise duplicate(address)
            ET.SubElement(farm, "server", {"address": address, "enabled": "true"})
            continue
        attribute, _, value = text[match.end() :].lstrip(".").partition(":")
        if server is None or address is None:
            raise Fail(NOT_IN_COLLECTION, 1168)
        if attribute != "enabled" or value not in {"true", "false"}:
            raise Fail(f'ERROR ( message:Unknown attribute "{attribute}".  Replace with -? for help. )', 87)
        server.set("enabled", value)
    return (
        f'Applied configuration changes to section "{FARMS}" for "MACHINE/WEBROOT/APPHOST" at '
        'configuration commit path "MACHINE/WEBROOT/APPHOST"'
    )


def unlocked(root: ET.Element, site: str) -> bool:
    return any(
        loc.get("path") == site
        and loc.get("overrideMode") == "Allow"
        and loc.find("system.webServer/handlers") is not None
        for loc in root.findall("location")
    )


def main(argv: list[str]) -> int:
    with (STATE / "calls.log").open("a", encoding="utf-8") as log:
        log.write(json.dumps(["appcmd", *argv]) + "\n")
    if len(argv) < 2:
        raise Fail("ERROR ( message:Unknown command or object. )", 87)
    verb, kind, rest = argv[0].lower(), argv[1].lower(), argv[2:]
    if os.environ.get("FAKE_APPCMD_NOT_ELEVATED"):
        raise Fail(
            "ERROR ( message:Configuration error\nFilename: redirection.config\nLine Number: 0\n"
            "Description: Cannot read configuration file due to insufficient permissions\n. )",
            5,
        )
    if verb != "list" and os.environ.get("FAKE_APPCMD_SECONDS"):
        time.sleep(float(os.environ["FAKE_APPCMD_SECONDS"]))
    positional, options = parse_args(rest)
    full = "config" in options
    tree = load()
    root = tree.getroot()
    changed = False
    out: list[str] = []

    if verb == "list" and kind in {"apppool", "site"}:
        parent, tag, label, to_xml = (
            (pools(root), "add", "APPPOOL", pool_xml)
            if kind == "apppool"
            else (sites(root), "site", "SITE", site_xml)
        )
        wanted = [e for e in parent.findall(tag) if not positional or e.get("name") == positional[0]]
        if positional and not wanted:
            raise not_found(label, positional[0])
        if "xml" in options:
            print_xml([to_xml(e, full) for e in wanted])
        else:  # the text form: LABEL "name" (attribute:value,...)
            for element in wanted:
                summary = to_xml(element, False).attrib
                details = ",".join(f"{k}:{v}" for k, v in summary.items() if not k.endswith(".NAME"))
                out.append(f'{label} "{element.get("name")}" ({details})')
    elif (verb, kind) == ("list", "module"):
        name = positional[0] if positional else options.get("name", "")
        if find(root.find("system.webServer/modules"), "add", name) is None:
            raise not_found("MODULE", name)
        out.append(f'MODULE "{name}" ( native:true )')
    elif (verb, kind) == ("list", "config") and options.get("section") == FARMS:
        farms = root.find(FARMS)
        element = ET.Element(FARMS) if farms is None else ET.fromstring(ET.tostring(farms))
        ET.indent(element)
        out.append(ET.tostring(element, encoding="unicode"))
    elif (verb, kind) == ("set", "config") and options.get("section") == FARMS:
        out.append(web_farms(root, rest))
        changed = True
    elif (verb, kind) == ("list", "config") and options.get("section") in SECTIONS:
        section = options["section"]
        path = positional[0].rstrip("/") if positional else ""
        if path and find(sites(root), "site", path) is None:
            raise not_found("SITE", path)
        values = section_settings(root, path, section)
        if not full:
            values = {k: v for k, v in values.items() if k in SHOWN[section]}
        *groups, tag = section.split("/")
        wrapper = parent = ET.Element(groups[0])
        for group in groups[1:]:
            parent = ET.SubElement(parent, group)
        parent.append(ET.Element(tag, values))
        ET.indent(wrapper)
        out.append(ET.tostring(wrapper, encoding="unicode"))
    elif (verb, kind) == ("set", "config") and options.get("section") in SECTIONS:
        section = options["section"]
        path = positional[0].rstrip("/") if positional else ""
        site = find(sites(root), "site", path)
        if site is None:
            raise not_found("SITE", path)
        if options.get("commit", "").lower() != "apphost":
            physical = site.find("application/virtualDirectory").get("physicalPath")
            raise Fail(LOCKED.format(path=physical), 13)
        location = next((loc for loc in root.findall("location") if loc.get("path") == path), None)
        if location is None:
            location = ET.SubElement(root, "location", {"path": path})
        parent = location
        for tag in section.split("/"):
            parent = parent.find(tag) if parent.find(tag) is not None else ET.SubElement(parent, tag)
        for key in SECTIONS[section]:
            if key in options:
                parent.set(key, options[key])
        out.append(
            f'Applied configuration changes to section "{section}" for '
            f'"MACHINE/WEBROOT/APPHOST/{path}" at configuration commit path "MACHINE/WEBROOT/APPHOST"'
        )
        changed = True
    elif (verb, kind) == ("list", "config"):
        path = positional[0].rstrip("/") if positional else ""
        site = find(sites(root), "site", path)
        if site is None:
            raise Fail(f'ERROR ( message:Cannot find SITE object with identifier "{path}". )', 1168)
        physical = site.find("application/virtualDirectory").get("physicalPath")
        web_config = Path(physical) / "web.config"
        sets_handlers = (
            web_config.is_file() and ET.parse(web_config).find("system.webServer/handlers") is not None
        )
        if sets_handlers and not unlocked(root, path):
            raise Fail(LOCKED.format(path=physical), 13)
        out.append('<system.webServer>\n  <handlers accessPolicy="Read, Script" />\n</system.webServer>')
    elif (verb, kind) == ("add", "apppool"):
        name = options.pop("name", "")
        if find(pools(root), "add", name) is not None:
            raise duplicate(name)
        pool = ET.SubElement(pools(root), "add", {"name": name})
        for key, value in options.items():
            set_dotted(pool, key, value)
        out.append(f'APPPOOL object "{name}" added')
        changed = True
    elif (verb, kind) == ("set", "apppool"):
        name, pool = existing("apppool", root, positional, options)
        for key, value in options.items():
            if key.split(".")[0] not in {
                "managedRuntimeVersion",
                "managedPipelineMode",
                "startMode",
                "autoStart",
                "processModel",
                "recycling",
            }:
                raise Fail(f'ERROR ( message:Unknown attribute "{key}".  Replace with -? for help. )', 87)
            set_dotted(pool, key, value)
        out.append(f'APPPOOL object "{name}" changed')
        changed = True
    elif (verb, kind) == ("add", "site"):
        name = options.get("name", "")
        if find(sites(root), "site", name) is not None:
            raise duplicate(name)
        number = 1 + max((int(s.get("id")) for s in sites(root).findall("site")), default=0)
        site = ET.SubElement(sites(root), "site", {"name": name, "id": str(number)})
        app = ET.SubElement(site, "application", {"path": "/"})
        ET.SubElement(app, "virtualDirectory", {"path": "/", "physicalPath": options.get("physicalPath", "")})
        bindings = ET.SubElement(site, "bindings")
        for text in filter(None, options.get("bindings", "").split(",")):
            protocol, _, information = text.partition("/")
            ET.SubElement(bindings, "binding", {"protocol": protocol, "bindingInformation": information})
        out += [f'SITE object "{name}" added', f'APP object "{name}/" added', f'VDIR object "{name}/" added']
        changed = True
    elif (verb, kind) in {("set", "app"), ("set", "vdir")}:
        name = identifier(kind, positional, options)
        site = find(sites(root), "site", name.rstrip("/").split("/")[0])
        if site is None or not name.endswith("/"):
            raise not_found(kind.upper(), name)
        app = site.find("application")
        if kind == "app":
            app.set("applicationPool", options["applicationPool"])
        else:
            app.find("virtualDirectory").set("physicalPath", options["physicalPath"])
        out.append(f'{kind.upper()} object "{name}" changed')
        changed = True
    elif (verb, kind) == ("set", "site"):
        name, site = existing("site", root, positional, options)
        bindings = site.find("bindings")
        for arg in rest:
            if arg.startswith(("/+bindings", "/-bindings")):
                item = binding_item(arg[len("/+bindings") :])
                key = (item.get("protocol"), item.get("bindingInformation"))
                match = next(
                    (b for b in bindings if (b.get("protocol"), b.get("bindingInformation")) == key), None
                )
                if arg[1] == "+":
                    if match is not None:
                        raise duplicate(f"{item.get('protocol')}/{item.get('bindingInformation')}")
                    ET.SubElement(bindings, "binding", item)
                else:
                    if match is None:
                        raise Fail(
                            "ERROR ( hresult:80070490, message:Cannot find requested collection element. )",
                            1168,
                        )
                    bindings.remove(match)
        out.append(f'SITE object "{name}" changed')
        changed = True
    elif (verb, kind) == ("unlock", "config"):
        path = positional[0].rstrip("/")
        section = options["section"]
        location = next((loc for loc in root.findall("location") if loc.get("path") == path), None)
        if location is None:
            location = ET.SubElement(root, "location", {"path": path, "overrideMode": "Allow"})
        parent = location
        for tag in section.split("/"):
            parent = parent.find(tag) if parent.find(tag) is not None else ET.SubElement(parent, tag)
        out.append(f'Unlocked section "{section}" at configuration path "MACHINE/WEBROOT/APPHOST/{path}".')
        changed = True
    elif verb in {"delete", "start", "stop", "recycle"} and kind in {"site", "apppool"}:
        name, element = existing(kind, root, positional, options)
        parent, label = (sites(root), "SITE") if kind == "site" else (pools(root), "APPPOOL")
        if verb == "delete":
            parent.remove(element)
            out.append(f'{label} object "{name}" deleted')
        elif verb == "recycle":
            if kind != "apppool":
                raise Fail("ERROR ( message:Unknown command or object. )", 87)
            if element.get("_state") == "Stopped":
                raise Fail(
                    "ERROR ( hresult:80070426, message:Command execution failed.\n"
                    "The service has not been started.\n )",
                    1062,
                )
            out.append(f'"{name}" successfully recycled')
            (STATE / "recycled.log").open("a", encoding="utf-8").write(name + "\n")
        else:
            if (element.get("_state", "Started") == "Started") == (verb == "start"):
                raise Fail(
                    "ERROR ( hresult:80070420, message:Command execution failed.\n"
                    "The service has already been started.\n )"
                    if verb == "start"
                    else "ERROR ( hresult:80070426, message:Command execution failed.\n"
                    "The service has not been started.\n )",
                    1056 if verb == "start" else 1062,
                )
            element.set("_state", "Started" if verb == "start" else "Stopped")
            out.append(f'"{name}" successfully {"started" if verb == "start" else "stopped"}.')
        changed = True
    else:
        raise Fail(f'ERROR ( message:The fake appcmd does not implement "{verb} {kind}". )', 87)
    if changed:
        tree.write(CONFIG, encoding="utf-8", xml_declaration=True)
    if out:
        print("\n".join(out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Fail as exc:
        print(exc)
        sys.exit(exc.code)
