"""Checks 1-3: IIS and the HttpPlatformHandler build installed, the handlers section unlocked for
the site, web.config valid against the installed build's schema."""

from __future__ import annotations

import subprocess

from iishost.deploy.checks import NO_HPH, NO_IIS, installed_hph, module_installed, schema_path
from iishost.deploy.iis.plan import plan_register
from iishost.deploy.iis.state import HANDLERS_SECTION, ServerState
from iishost.emulator.webconfig import ConfigError, build_of_schema

from . import diagnose
from .context import Context
from .result import Check, failed, passed, skipped


def iis_installed(ctx: Context) -> Check:
    name, title = "iis", "IIS and HttpPlatformHandler installed"
    if ctx.appcmd is None:
        if not ctx.windows:
            return skipped(name, title, ctx.missing("appcmd"))
        return failed(name, title, NO_IIS.what, NO_IIS.fix)
    if not module_installed(ctx.appcmd, "httpPlatformHandler", ctx.query):
        return failed(name, title, NO_HPH.what, NO_HPH.fix)
    schema = schema_path(ctx.appcmd)
    build = build_of_schema(schema)
    if build is None:
        found = "a schema neither 1.2's nor v2's" if schema.is_file() else "no schema file"
        return passed(
            name, title, f"module installed; {found} at {schema}: web.config is checked against both"
        )
    return passed(name, title, f"HttpPlatformHandler {build} (module installed, schema {schema})")


def handlers_unlocked(ctx: Context) -> Check:
    name, title = "handlers", f"the {HANDLERS_SECTION} section unlocked for the site"
    state, site = ctx.state, ctx.settings.site_name
    if state is None:
        return skipped(name, title, ctx.missing("appcmd"))
    if not isinstance(state, ServerState):
        return failed(name, title, str(state).splitlines()[0], "run `invoke doctor` from an elevated prompt")
    if site not in state.sites:
        return failed(
            name, title, f'site "{site}" is not registered in IIS', "invoke deploy (or invoke iis.register)"
        )
    if site in state.handlers_unlocked:
        return passed(name, title, f'unlocked for site "{site}"')
    unlock = next(s for s in plan_register(ctx.settings, ctx.appcmd, state) if "unlock" in s.argv)
    return failed(
        name,
        title,
        f'locked above site "{site}": IIS answers 500.19 (0x80070021, "locked at a parent level") on '
        "every request, as web.config maps requests to HttpPlatformHandler in <handlers>",
        f"{subprocess.list2cmdline(unlock.argv)} (as admin; `invoke iis.register` does it)",
    )


def web_config_valid(ctx: Context) -> Check:
    name, title = "webconfig", "web.config valid for the installed HttpPlatformHandler build"
    if ctx.appcmd is not None:
        note, problem = installed_hph(ctx.settings, ctx.appcmd)
        if problem is None:
            return passed(name, title, note)
        return failed(name, title, problem.what, problem.fix)
    platform = ctx.platform
    if isinstance(platform, ConfigError):
        detail = "web.config would not load under HttpPlatformHandler 1.2 or v2: " + "; ".join(
            platform.reasons
        )
        return failed(name, title, detail, diagnose.config_fix(platform.reasons, None))
    if platform is None:
        return failed(
            name, title, "web.config has no <httpPlatform> section", "take the template's web.config"
        )
    return passed(name, title, "loads under both HttpPlatformHandler 1.2 and v2 (no IIS here to say which)")
