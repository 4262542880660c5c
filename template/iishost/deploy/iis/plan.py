"""Plan the appcmd commands that make IIS match the settings, and only those.

Pure: (Settings, ServerState) in, list of Steps out. Anything another site owns (its bindings, its
app pool) is never changed: the planner raises Refusal instead, naming the owner and the fix. A site
is this project's only when its root serves this project's folder: a site of the configured name on
another folder is someone else's (iis.site_name: "Default Web Site" must not take that site over).
"""

from __future__ import annotations

import subprocess

from ..config import Settings
from ..plan import Refusal, Step
from .state import (
    ANONYMOUS_SECTION,
    HANDLERS_SECTION,
    RUNTIME_SECTION,
    WINDOWS_SECTION,
    WORKER_PROCESS_USER,
    Binding,
    ServerState,
    Site,
    SiteAuth,
)

# A Python process lives for hours and keeps state warm; IIS's defaults are tuned for ASP.NET.
POOL_SETTINGS = {
    "managedRuntimeVersion": "",  # "No Managed Code": the pool loads no CLR
    "managedPipelineMode": "Integrated",
    "startMode": "AlwaysRunning",  # the worker starts with IIS, not on the first request
    "autoStart": "true",
    "processModel.identityType": "ApplicationPoolIdentity",  # the virtual account IIS AppPool\<pool>
    "processModel.idleTimeout": "00:00:00",  # default 20 min idle shutdown = a cold start later
    "processModel.loadUserProfile": "true",  # a profile gives the identity its own %TEMP%
    "recycling.periodicRestart.time": "00:00:00",  # default: a restart every 29 h at a random hour
}
_WHY_POOL = {
    "managedRuntimeVersion": "No Managed Code (no .NET runtime in the worker)",
    "managedPipelineMode": "integrated pipeline",
    "startMode": "start with IIS (AlwaysRunning)",
    "autoStart": "start with IIS",
    "processModel.identityType": "run as the pool's own virtual account",
    "processModel.idleTimeout": "no idle shutdown",
    "processModel.loadUserProfile": "own user profile and TEMP",
    "recycling.periodicRestart.time": "no periodic 29-hour recycle",
}


def wanted_bindings(settings: Settings) -> list[Binding]:
    """http on iis.http_port for each host name; https (SNI, sslFlags=1) too when iis.https."""
    bindings = [Binding("http", f"*:{settings.http_port}:{host}") for host in settings.hostnames]
    if settings.https:
        bindings += [Binding("https", f"*:{settings.https_port}:{host}", 1) for host in settings.hostnames]
    return bindings


def _binding_item(binding: Binding) -> str:
    item = f"protocol='{binding.protocol}',bindingInformation='{binding.information}'"
    return item + (f",sslFlags='{binding.ssl_flags}'" if binding.ssl_flags else "")


def _same(current: str | None, wanted: str) -> bool:
    return current is not None and current.strip().lower() == wanted.lower()


def _same_path(a: str, b: str) -> bool:
    """Windows paths compare without case and trailing separators."""
    return a.replace("/", "\\").rstrip("\\").lower() == b.replace("/", "\\").rstrip("\\").lower()


def _same_address(a: Binding, b: Binding) -> bool:
    """Both listen on one address: the same IP, or either on all of them (`*`)."""
    first, second = (x.information.rsplit(":", 2)[0] for x in (a, b))
    return first == second or "*" in (first, second)


def _ours(site: Site, settings: Settings) -> bool:
    return _same_path(site.physical_path, str(settings.root))


def _not_ours(site: Site, settings: Settings) -> str:
    root = str(settings.root)
    move = subprocess.list2cmdline(
        ["appcmd", "set", "vdir", f"/vdir.name:{site.name}/", f"/physicalPath:{root}"]
    )
    return (
        f'site "{site.name}" serves {site.physical_path}, not this project ({root}): it is not this '
        "project's to change or delete. Set iis.site_name to a name of this project's own (invoke.local.yaml "
        f"or INVOKE_IIS_SITE_NAME); if that site really is this project's from a former folder, point it "
        f"here yourself ({move}) and run the same command again"
    )


def pool_command(verb: str, why: str, settings: Settings, appcmd: str) -> Step:
    """`appcmd <verb> apppool /apppool.name:<pool>`: start, recycle, delete."""
    return Step(why, [appcmd, verb, "apppool", f"/apppool.name:{settings.app_pool}"])


def refusals(settings: Settings, state: ServerState) -> list[str]:
    """What another site owns that this one would need: bindings and the app pool."""
    problems = []
    site = state.sites.get(settings.site_name)
    if site is not None and not _ours(site, settings):
        problems.append(_not_ours(site, settings))
    others = [site for name, site in state.sites.items() if name != settings.site_name]
    for other in others:
        if _ours(other, settings):
            problems.append(
                f'site "{other.name}" already serves this folder (app pool "{other.app_pool}"): a second '
                "site here would run without its folder permissions. Keep that name (iis.site_name: "
                f'"{other.name}", iis.app_pool: "{other.app_pool}") or delete it first: '
                + subprocess.list2cmdline(["appcmd", "delete", "site", f"/site.name:{other.name}"])
            )
    for binding in wanted_bindings(settings):
        for site in others:
            if any((b.protocol, b.information.lower()) == (binding.protocol, binding.information.lower())
                   for b in site.bindings):  # fmt: skip
                problems.append(
                    f'binding {binding} is taken by site "{site.name}": remove it there, or change '
                    "iis.hostnames / iis.http_port / iis.https_port for this server (invoke.local.yaml)"
                )
    for binding in wanted_bindings(settings):
        clashes = {
            (site.name, b.protocol)
            for site in others
            for b in site.bindings
            if b.protocol in {"http", "https"} and b.protocol != binding.protocol and b.port == binding.port
            and _same_address(b, binding)
        }  # fmt: skip
        for name, protocol in sorted(clashes):
            problems.append(
                f'port {binding.port} is used by site "{name}" for {protocol}: http and https cannot share '
                f"an address and port (http.sys), so {binding} would stop one of the two sites; change "
                "iis.http_port / iis.https_port for this server (invoke.local.yaml)"
            )
    users = [site.name for site in others if site.app_pool == settings.app_pool]
    if users:
        problems.append(
            f'app pool "{settings.app_pool}" already runs site(s) {", ".join(map(repr, users))}: '
            "its settings "
            "and the file access granted to its identity would be shared; set iis.app_pool to a pool of "
            "this site's own"
        )
    return problems


def plan_pool(settings: Settings, appcmd: str, state: ServerState) -> list[Step]:
    pool = state.pools.get(settings.app_pool)
    steps = []
    if pool is None:
        steps.append(
            Step(
                f'app pool "{settings.app_pool}" does not exist',
                [appcmd, "add", "apppool", f"/name:{settings.app_pool}"],
            )
        )
    current = pool.attributes if pool else {}
    changes = {k: v for k, v in POOL_SETTINGS.items() if pool is None or not _same(current.get(k), v)}
    if changes:
        reasons = "; ".join(
            f"{_WHY_POOL[k]} ({k}: {current.get(k, 'unset')!r} -> {v!r})" if pool else _WHY_POOL[k]
            for k, v in changes.items()
        )
        steps.append(Step(
            f"app pool settings for a long-lived Python process: {reasons}",
            [appcmd, "set", "apppool", f"/apppool.name:{settings.app_pool}",
             *(f"/{k}:{v}" for k, v in changes.items())],
        ))  # fmt: skip
    if pool is not None and pool.state.lower() == "stopped":
        steps.append(pool_command("start", f'app pool "{settings.app_pool}" is stopped', settings, appcmd))
    return steps


def plan_site(settings: Settings, appcmd: str, state: ServerState) -> list[Step]:
    name, root = settings.site_name, str(settings.root)
    site = state.sites.get(name)
    wanted = wanted_bindings(settings)
    steps = []
    if site is None:
        http = ",".join(str(b) for b in wanted if b.protocol == "http")
        leftover = (
            f' (app pool "{settings.app_pool}" exists without it: an interrupted iis.register?)'
            if settings.app_pool in state.pools
            and not any(s.app_pool == settings.app_pool for s in state.sites.values())
            else ""
        )
        steps.append(Step(
            f'site "{name}" does not exist{leftover}: create it on the project folder with its http bindings',
            [appcmd, "add", "site", f"/name:{name}", f"/physicalPath:{root}", f"/bindings:{http}"],
        ))  # fmt: skip
        current_bindings: tuple[Binding, ...] = tuple(b for b in wanted if b.protocol == "http")
    else:
        current_bindings = site.bindings
    if site is None or site.app_pool != settings.app_pool:
        why = (
            "run the new site in its own app pool"
            if site is None
            else (f'site "{name}" runs in app pool "{site.app_pool}", not "{settings.app_pool}"')
        )
        steps.append(
            Step(why, [appcmd, "set", "app", f"/app.name:{name}/", f"/applicationPool:{settings.app_pool}"])
        )
    keys = {(b.protocol, b.information.lower()) for b in current_bindings}
    for binding in wanted:
        if (binding.protocol, binding.information.lower()) not in keys:
            why = f"binding {binding} is missing" + (
                " (SNI; bind the certificate as iishost/docs/server.md, HTTPS, explains)"
                if binding.protocol == "https"
                else ""
            )
            steps.append(
                Step(
                    why,
                    [appcmd, "set", "site", f"/site.name:{name}", f"/+bindings.[{_binding_item(binding)}]"],
                )
            )
    wanted_keys = {(b.protocol, b.information.lower()) for b in wanted}
    for binding in current_bindings:
        if (binding.protocol, binding.information.lower()) not in wanted_keys:
            steps.append(Step(
                f"binding {binding} is not in the settings (iis.hostnames, ports, https)",
                [appcmd, "set", "site", f"/site.name:{name}", f"/-bindings.[{_binding_item(binding)}]"],
            ))  # fmt: skip
    if name not in state.handlers_unlocked:
        steps.append(Step(
            f"web.config maps requests to HttpPlatformHandler in <handlers>, a section IIS locks by "
            f'default (500.19, 0x80070021): unlock it for site "{name}" only',
            [appcmd, "unlock", "config", f"{name}/", f"/section:{HANDLERS_SECTION}", "/commit:apphost"],
        ))  # fmt: skip
    anonymous = state.anonymous_user.get(name) if site is not None else None
    if anonymous != "":
        steps.append(Step(
            f"IIS serves static/ itself, reading files as the anonymous user ({anonymous or 'IUSR'}), whom "
            "the folder grants do not cover (401.3 on a hardened folder): make anonymous requests of "
            f'site "{name}" run as its app-pool identity (userName ""), already granted read',
            [appcmd, "set", "config", f"{name}/", f"/section:{ANONYMOUS_SECTION}", "/userName:",
             "/commit:apphost"],
        ))  # fmt: skip
    steps += plan_authentication(settings, appcmd, state if site is not None else ServerState())
    if site is not None and site.state.lower() == "stopped":
        steps.append(Step(f'site "{name}" is stopped', [appcmd, "start", "site", f"/site.name:{name}"]))
    return steps


def plan_authentication(settings: Settings, appcmd: str, state: ServerState) -> list[Step]:
    """iis.windows_auth: Windows authentication on, then anonymous off (never a moment with neither,
    which answers 401.2 to everyone), for the whole site, static/ included (iishost/docs/intranet.md);
    content files read with the worker process's token (the app-pool identity the folder grants
    cover), not each user's. Without it, anonymous is turned back on if it was off; Windows
    authentication is left as found. All three sections are locked for web.config
    (overrideModeDefault="Deny"): set for the site's location in applicationHost.config."""
    name = settings.site_name
    auth = state.authentication.get(name, SiteAuth())

    def set_config(section: str, value: str) -> list[str]:
        return [appcmd, "set", "config", f"{name}/", f"/section:{section}", value, "/commit:apphost"]

    steps = []
    if settings.windows_auth:
        if not auth.windows:
            steps.append(Step(
                f'iis.windows_auth is true: enable Windows authentication (Negotiate, NTLM) of "{name}"',
                set_config(WINDOWS_SECTION, "/enabled:true"),
            ))  # fmt: skip
        if auth.anonymous:
            steps.append(Step(
                f'iis.windows_auth is true: turn anonymous authentication off for site "{name}", static/ '
                "included, so every request is signed in and HttpPlatformHandler forwards every user's token",
                set_config(ANONYMOUS_SECTION, "/enabled:false"),
            ))  # fmt: skip
        if auth.user_override != WORKER_PROCESS_USER:
            steps.append(Step(
                f"signed-in requests read files with the user's own token ({auth.user_override}), whom the "
                "folder grants do not cover (401.3 on static/): read them as the app-pool identity "
                f"({WORKER_PROCESS_USER})",
                set_config(RUNTIME_SECTION, f"/authenticatedUserOverride:{WORKER_PROCESS_USER}"),
            ))  # fmt: skip
    elif not auth.anonymous:
        steps.append(Step(
            f'iis.windows_auth is false but anonymous authentication is off for site "{name}": turn it on',
            set_config(ANONYMOUS_SECTION, "/enabled:true"),
        ))  # fmt: skip
    return steps


def plan_register(settings: Settings, appcmd: str, state: ServerState) -> list[Step]:
    """App pool first (the site refers to it), then the site, its bindings and the handlers unlock."""
    problems = refusals(settings, state)
    if problems:
        raise Refusal(
            "Refusing to change IIS (nothing was changed):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return plan_pool(settings, appcmd, state) + plan_site(settings, appcmd, state)


def plan_unregister(settings: Settings, appcmd: str, state: ServerState) -> list[Step]:
    """Delete the site, then its pool unless another site still runs in it. Only this project's: a site
    on another folder, or one that also holds other applications, is refused whole."""
    steps = []
    site = state.sites.get(settings.site_name)
    if site is not None:
        if not _ours(site, settings):
            raise Refusal(f"Refusing to unregister (nothing was changed): {_not_ours(site, settings)}")
        if site.others():
            raise Refusal(
                f'Refusing to unregister (nothing was changed): site "{site.name}" also holds '
                f"{', '.join(site.others())}; deleting the site would delete them. Move or remove them first "
                "(IIS Manager, or appcmd delete app / delete vdir)"
            )
        steps.append(
            Step(f'remove site "{site.name}"', [appcmd, "delete", "site", f"/site.name:{site.name}"])
        )
    if settings.app_pool in state.pools:
        users = [s.name for s in state.sites.values() if s.app_pool == settings.app_pool and s is not site]
        if users:
            raise Refusal(
                f'app pool "{settings.app_pool}" also runs {", ".join(map(repr, users))}: not deleting it '
                "(nothing was changed); delete this project's site by hand if that is all you want"
            )
        why = f'remove app pool "{settings.app_pool}"' + (
            "" if site else " (it runs no site: left by an interrupted iis.register?)"
        )
        steps.append(pool_command("delete", why, settings, appcmd))
    return steps


def plan_recycle(settings: Settings, appcmd: str, state: ServerState) -> list[Step]:
    """Overlapped recycle: IIS starts a new worker (and with it a new Python process) and lets the old
    one finish its requests; a stopped pool is started instead."""
    pool = state.pools.get(settings.app_pool)
    if pool is None:
        raise Refusal(f'app pool "{settings.app_pool}" does not exist: run `invoke iis.register` first')
    users = [
        s.name for s in state.sites.values() if s.app_pool == settings.app_pool and not _ours(s, settings)
    ]
    if users:
        raise Refusal(
            f'app pool "{settings.app_pool}" also runs site(s) {", ".join(map(repr, users))}: recycling it '
            "would restart them too (nothing was changed); set iis.app_pool to this project's own pool"
        )
    if pool.state.lower() == "stopped":
        return [
            pool_command("start", f'app pool "{settings.app_pool}" is stopped: start it', settings, appcmd)
        ]
    why = "restart the app (new code, settings): overlapped recycle of its app pool"
    return [pool_command("recycle", why, settings, appcmd)]


def plan_restart(settings: Settings, appcmd: str, state: ServerState) -> list[Step]:
    """The deploy's restart after plan_register: a recycle of a running pool. A new pool starts by
    itself and plan_register already starts a stopped one (a second start is an appcmd error)."""
    pool = state.pools.get(settings.app_pool)
    if pool is None or pool.state.lower() == "stopped":
        return []
    return plan_recycle(settings, appcmd, state)
