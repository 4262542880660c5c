"""The IIS and ACL planners from hand-written server states: fresh, registered, partial, hostile."""

from pathlib import Path

import pytest

from iishost.deploy.acl.plan import plan_grants, targets
from iishost.deploy.acl.state import AclState, parse_icacls
from iishost.deploy.config import SettingsError, from_config
from iishost.deploy.iis.plan import (
    POOL_SETTINGS,
    plan_recycle,
    plan_register,
    plan_restart,
    plan_unregister,
    wanted_bindings,
)
from iishost.deploy.iis.state import (
    AppPool,
    Binding,
    ServerState,
    Site,
    SiteAuth,
    parse_anonymous_user,
    parse_pools,
    parse_sites,
    section_attribute,
)
from iishost.deploy.plan import Refusal, Step, describe
from iishost.deploy.venv import package_set, python_home

APPCMD = r"C:\Windows\System32\inetsrv\appcmd.exe"
ROOT = Path(r"C:\sites\my site")


def settings(**iis):
    config = {
        "project": {"slug": "my_site", "database": iis.pop("database", "sqlite")},
        "iis": {
            "site_name": "my_site",
            "app_pool": "my_site",
            "hostnames": ["localhost"],
            "https": False,
            **iis,
        },
    }
    return from_config(config, ROOT)


def registered(s) -> ServerState:
    """A server where `iis.register` has already run for settings `s`."""
    return ServerState(
        sites={s.site_name: Site(s.site_name, tuple(wanted_bindings(s)), s.app_pool, str(s.root), "Started")},
        pools={s.app_pool: AppPool(s.app_pool, dict(POOL_SETTINGS), "Started")},
        handlers_unlocked={s.site_name},
        anonymous_user={s.site_name: ""},
    )


def verbs(steps: list[Step]) -> list[tuple[str, str]]:
    return [(step.argv[1], step.argv[2]) for step in steps]


def test_fresh_server_gets_pool_site_and_unlock_in_order():
    s = settings()
    steps = plan_register(s, APPCMD, ServerState())
    assert verbs(steps) == [
        ("add", "apppool"),
        ("set", "apppool"),
        ("add", "site"),
        ("set", "app"),
        ("unlock", "config"),
        ("set", "config"),
    ]
    assert steps[0].argv == (APPCMD, "add", "apppool", "/name:my_site")
    assert (
        "/managedRuntimeVersion:" in steps[1].argv and "/processModel.idleTimeout:00:00:00" in steps[1].argv
    )
    assert steps[2].argv[3:] == (
        "/name:my_site",
        r"/physicalPath:C:\sites\my site",
        "/bindings:http/*:80:localhost",
    )
    assert steps[4].argv[3:] == ("my_site/", "/section:system.webServer/handlers", "/commit:apphost")
    assert all(step.why for step in steps)


def test_registered_server_plans_nothing():
    s = settings(https=True, hostnames=["a.example", "b.example"])
    assert plan_register(s, APPCMD, registered(s)) == []
    assert "nothing to change" in describe([], "IIS")


def test_https_bindings_use_sni_and_are_added_to_a_new_site():
    s = settings(https=True, hostnames=["www.example.com"])
    steps = plan_register(s, APPCMD, ServerState())
    add_site = next(st for st in steps if st.argv[1:3] == ("add", "site"))
    assert add_site.argv[-1] == "/bindings:http/*:80:www.example.com"
    assert "/+bindings.[protocol='https',bindingInformation='*:443:www.example.com',sslFlags='1']" in [
        a for st in steps for a in st.argv
    ]


def test_pool_exists_site_missing_only_differences_are_set():
    s = settings()
    pool = AppPool(
        "my_site", {**POOL_SETTINGS, "processModel.idleTimeout": "00:20:00", "startMode": "OnDemand"}
    )
    steps = plan_register(s, APPCMD, ServerState(pools={"my_site": pool}))
    assert verbs(steps)[0] == ("set", "apppool")
    assert steps[0].argv[4:] == ("/startMode:AlwaysRunning", "/processModel.idleTimeout:00:00:00")
    assert "'00:20:00' -> '00:00:00'" in steps[0].why
    assert ("add", "site") in verbs(steps)


def test_site_bound_to_another_pool_is_moved_to_its_own():
    s = settings()
    state = registered(s)
    state.sites["my_site"] = Site(
        "my_site", tuple(wanted_bindings(s)), "DefaultAppPool", str(ROOT), "Started"
    )
    steps = plan_register(s, APPCMD, state)
    assert [st.argv[3:] for st in steps] == [("/app.name:my_site/", "/applicationPool:my_site")]
    assert "DefaultAppPool" in steps[0].why


def test_binding_taken_by_another_site_is_refused_with_the_owner():
    s = settings(hostnames=["www.example.com"])
    other = Site("Legacy", (Binding("http", "*:80:WWW.example.com"),), "Legacy", r"C:\legacy", "Started")
    with pytest.raises(Refusal, match='binding http/\\*:80:www.example.com is taken by site "Legacy"'):
        plan_register(s, APPCMD, ServerState(sites={"Legacy": other}))


def test_catch_all_binding_of_default_web_site_is_no_conflict():
    s = settings()
    default = Site("Default Web Site", (Binding("http", "*:80:"),), "DefaultAppPool", r"C:\inetpub\wwwroot")
    assert ("add", "site") in verbs(
        plan_register(s, APPCMD, ServerState(sites={"Default Web Site": default}))
    )


def test_pool_used_by_another_site_is_refused():
    s = settings()
    other = Site("Other", (Binding("http", "*:8080:"),), "my_site", r"C:\other")
    with pytest.raises(Refusal, match="already runs site"):
        plan_register(
            s, APPCMD, ServerState(sites={"Other": other}, pools={"my_site": AppPool("my_site", {})})
        )


def test_wrong_bindings_locked_handlers_and_stopped_state():
    s = settings(hostnames=["new.example"])
    state = registered(s)
    state.sites["my_site"] = Site(
        "my_site", (Binding("http", "*:80:old.example"),), "my_site", str(ROOT), "Stopped"
    )
    state.pools["my_site"] = AppPool("my_site", dict(POOL_SETTINGS), "Stopped")
    state.handlers_unlocked.clear()
    argv = [st.argv[1:] for st in plan_register(s, APPCMD, state)]
    assert argv == [
        ("start", "apppool", "/apppool.name:my_site"),
        (
            "set",
            "site",
            "/site.name:my_site",
            "/+bindings.[protocol='http',bindingInformation='*:80:new.example']",
        ),
        (
            "set",
            "site",
            "/site.name:my_site",
            "/-bindings.[protocol='http',bindingInformation='*:80:old.example']",
        ),
        ("unlock", "config", "my_site/", "/section:system.webServer/handlers", "/commit:apphost"),
        ("start", "site", "/site.name:my_site"),
    ]


DEFAULT_SITE = Site(
    "Default Web Site",
    (Binding("http", "*:80:"),),
    "DefaultAppPool",
    r"%SystemDrive%\inetpub\wwwroot",
    "Started",
)


@pytest.mark.parametrize("planner", [plan_register, plan_unregister])
def test_a_site_on_another_folder_is_never_taken_over_or_deleted(planner):
    """INVOKE_IIS_SITE_NAME="Default Web Site" once repointed that site, moved it to our pool and
    deleted its bindings; unregister deleted it. A site is this project's only if it serves this folder."""
    s = settings(site_name="Default Web Site")
    state = ServerState(sites={"Default Web Site": DEFAULT_SITE})
    with pytest.raises(Refusal) as refusal:
        planner(s, APPCMD, state)
    message = str(refusal.value)
    assert 'site "Default Web Site" serves %SystemDrive%\\inetpub\\wwwroot, not this project' in message
    assert "iis.site_name" in message and "nothing was changed" in message.lower()


def test_a_moved_project_is_refused_with_the_command_that_moves_its_site():
    s = settings()
    state = registered(s)
    state.sites["my_site"] = Site("my_site", tuple(wanted_bindings(s)), "my_site", r"D:\old", "Started")
    with pytest.raises(
        Refusal, match=r"appcmd set vdir /vdir.name:my_site/ \"/physicalPath:C:\\sites\\my site\""
    ):
        plan_register(s, APPCMD, state)


def test_another_site_on_this_folder_is_refused():
    """A renamed iis.site_name would add a second site on the same folder, in another pool."""
    s = settings(site_name="new_name", app_pool="new_pool")
    old = Site("old_name", (Binding("http", "*:8080:"),), "old_pool", str(ROOT) + "\\", "Started")
    with pytest.raises(Refusal, match='site "old_name" already serves this folder'):
        plan_register(s, APPCMD, ServerState(sites={"old_name": old}))


def test_unregister_refuses_a_site_holding_other_applications():
    s = settings()
    state = registered(s)
    site = state.sites["my_site"]
    state.sites["my_site"] = Site(
        site.name, site.bindings, site.app_pool, site.physical_path, site.state,
        applications=(("/", site.physical_path), ("/reports", r"C:\reports")),
    )  # fmt: skip
    with pytest.raises(Refusal, match=r"/reports \(C:\\reports\)"):
        plan_unregister(s, APPCMD, state)


def test_unregister_removes_a_pool_left_by_an_interrupted_register():
    s = settings()
    state = registered(s)
    del state.sites["my_site"]
    steps = plan_unregister(s, APPCMD, state)
    assert [st.argv[1:3] for st in steps] == [("delete", "apppool")]
    assert "runs no site" in steps[0].why


def test_register_after_an_interrupted_run_says_what_exists():
    s = settings()
    state = registered(s)
    del state.sites["my_site"]
    steps = plan_register(s, APPCMD, state)
    assert "interrupted" in steps[0].why and verbs(steps)[0] == ("add", "site")


@pytest.mark.parametrize("name", ["Site 'Q' (Prod) ü", "pool.with dots_ü", "x%PATH%^!"])
def test_hostile_names_and_paths_stay_single_arguments(name):
    s = from_config({"iis": {"site_name": name, "app_pool": name}}, Path(r"C:\sites\a & b 'ü' \"q\""))
    steps = plan_register(s, APPCMD, ServerState())
    assert f"/name:{name}" in steps[0].argv
    assert r"/physicalPath:C:\sites\a & b 'ü' \"q\"" in steps[2].argv
    assert s.identity == f"IIS AppPool\\{name}"


REFUSED_NAMES = ["a & b", 'say "hi"', "a/b", " padded", "", "p" * 65, "tab\there", "nul\x00"]


@pytest.mark.parametrize("name", REFUSED_NAMES)
def test_names_iis_refuses_are_refused_before_planning(name):
    with pytest.raises(SettingsError, match="not a valid IIS name"):
        settings(site_name=name)


def test_unregister_and_recycle():
    s = settings()
    assert [st.argv[1:3] for st in plan_unregister(s, APPCMD, registered(s))] == [
        ("delete", "site"),
        ("delete", "apppool"),
    ]
    assert plan_unregister(s, APPCMD, ServerState()) == []
    assert plan_recycle(s, APPCMD, registered(s))[0].argv[1:] == (
        "recycle",
        "apppool",
        "/apppool.name:my_site",
    )
    with pytest.raises(Refusal, match="iis.register"):
        plan_recycle(s, APPCMD, ServerState())


@pytest.mark.parametrize(
    "iis, message",
    [
        ({"site_name": "a/b"}, "iis.site_name"),
        ({"http_port": 70000}, "iis.http_port"),
        ({"hostnames": []}, "iis.hostnames"),
        ({"hostnames": ["bad host"]}, "not a host name"),
        ({"https": "maybe"}, "iis.https"),
        ({"https": True, "https_port": 80}, "both 80"),
        ({"check_url": "localhost/health/"}, "deploy.check_url must be an http"),
    ],
)
def test_bad_settings_are_named(iis, message):
    with pytest.raises(SettingsError, match=message):
        if "check_url" in iis:  # a deploy setting: an invalid URL failed only after every step had run
            from_config({"iis": {"site_name": "s", "app_pool": "p"}, "deploy": iis}, ROOT)
        else:
            settings(**iis)


def test_appcmd_xml_is_parsed_with_defaults_and_nested_config():
    sites = parse_sites(
        """<?xml version="1.0" encoding="UTF-8"?><appcmd>
        <SITE SITE.NAME="S &amp; ü" SITE.ID="2" bindings="http/*:80:a,https/*:443:a" state="Stopped">
          <site name="S &amp; ü" id="2">
            <bindings><binding protocol="http" bindingInformation="*:80:a" sslFlags="0" />
              <binding protocol="https" bindingInformation="*:443:a" sslFlags="1" /></bindings>
            <application path="/" applicationPool="P">
              <virtualDirectory path="/" physicalPath="C:\\x y" /></application>
          </site></SITE></appcmd>"""
    )
    site = sites["S & ü"]
    assert site.bindings == (Binding("http", "*:80:a"), Binding("https", "*:443:a", 1))
    assert (site.app_pool, site.physical_path, site.state) == ("P", "C:\\x y", "Stopped")
    pools = parse_pools(
        '<appcmd><APPPOOL APPPOOL.NAME="P" state="Started"><add name="P" managedRuntimeVersion="">'
        '<processModel identityType="ApplicationPoolIdentity" idleTimeout="00:00:00" />'
        '<recycling><periodicRestart time="00:00:00" /></recycling></add></APPPOOL></appcmd>'
    )
    assert pools["P"].attributes == {
        "managedRuntimeVersion": "",
        "processModel.identityType": "ApplicationPoolIdentity",
        "processModel.idleTimeout": "00:00:00",
        "recycling.periodicRestart.time": "00:00:00",
    }


ICACLS = r"""C:\sites\my site IIS APPPOOL\Site (Prod):(OI)(CI)(RX)
                 IIS APPPOOL\Site (Prod):(I)(OI)(CI)(M)
                 BUILTIN\Administrators:(I)(OI)(CI)(F)
                 Everyone:(DENY)(W,D)

Successfully processed 1 files; Failed processing 0 files
"""


def test_icacls_output_is_parsed():
    aces = parse_icacls(r"C:\sites\my site", ICACLS)
    assert [(a.principal, sorted(a.flags), a.rights) for a in aces] == [
        ("IIS APPPOOL\\Site (Prod)", ["CI", "OI"], ("RX",)),
        ("IIS APPPOOL\\Site (Prod)", ["CI", "I", "OI"], ("M",)),
        ("BUILTIN\\Administrators", ["CI", "I", "OI"], ("F",)),
        ("Everyone", ["DENY"], ("W", "D")),
    ]


def acl(*entries):
    return parse_icacls("p", "p " + "\n  ".join(entries))


def test_acl_plan_fresh_grants_least_privilege_only_where_needed():
    s = settings()
    steps = plan_grants(s, "icacls", r"C:\Program Files\Python312", AclState())
    grants = {st.argv[1]: st.argv[3] for st in steps}
    assert all(st.argv[2] == "/grant:r" for st in steps)
    assert grants == {
        str(ROOT): "IIS AppPool\\my_site:(OI)(CI)RX",
        str(ROOT / ".venv"): "IIS AppPool\\my_site:(OI)(CI)RX",
        r"C:\Program Files\Python312": "IIS AppPool\\my_site:(OI)(CI)RX",
        str(ROOT / "logs"): "IIS AppPool\\my_site:(OI)(CI)M",
        str(ROOT / "media"): "IIS AppPool\\my_site:(OI)(CI)M",
        str(ROOT / "data"): "IIS AppPool\\my_site:(OI)(CI)M",
    }
    no_sqlite = settings(database="postgresql")
    assert str(ROOT / "data") not in {t.path for t in targets(no_sqlite, "py")}


def test_acl_plan_is_empty_when_granted_and_replaces_write_on_python():
    s = settings()
    home = r"C:\Program Files\Python312"
    aces = {
        t.path: acl(f"IIS APPPOOL\\my_site:(OI)(CI)({t.rights})", "BUILTIN\\Users:(I)(OI)(CI)(RX)")
        for t in targets(s, home)
    }
    assert plan_grants(s, "icacls", home, AclState(aces)) == []
    aces[home] = acl("IIS APPPOOL\\my_site:(OI)(CI)(M)")
    steps = plan_grants(s, "icacls", home, AclState(aces))
    assert [st.argv[1] for st in steps] == [home]
    assert steps[0].argv[3].endswith("RX") and "replacing" in steps[0].why
    aces[home] = acl("IIS APPPOOL\\my_site:(I)(OI)(CI)(RX)")  # inherited only: still grant explicitly
    assert len(plan_grants(s, "icacls", home, AclState(aces))) == 1


def test_python_home_comes_from_pyvenv_cfg(tmp_path):
    (tmp_path / ".venv").mkdir()
    with pytest.raises(SettingsError, match="bootstrap"):
        python_home(tmp_path / "missing")
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = C:\\Program Files\\Python312\nversion = 3.12.7\n")
    assert python_home(tmp_path) == "C:\\Program Files\\Python312"


def test_package_set_is_what_bootstrap_recorded(tmp_path):
    assert package_set(tmp_path) is None
    (tmp_path / ".venv").mkdir()
    stamp = tmp_path / ".venv" / ".requirements.sha256"
    for content, expected in [("server abc\n", "server"), ("dev abc\n", "dev"), ("abc\n", "dev"), ("", None)]:
        stamp.write_text(content, encoding="utf-8")
        assert package_set(tmp_path) == expected, content


ANONYMOUS = "system.webServer/security/authentication/anonymousAuthentication"


def test_static_files_are_read_as_the_app_pool_identity_not_iusr():
    """IIS's static file handler opens /static/ files as the anonymous user, IUSR unless the site's
    anonymousAuthentication userName is empty, which means the app-pool identity (Microsoft, "Application
    Pool Identity as Anonymous User"): the identity the ACL grants already cover. IUSR: 401.3."""
    s = settings()
    state = registered(s)
    state.anonymous_user["my_site"] = "IUSR"
    steps = plan_register(s, APPCMD, state)
    assert [st.argv[1:] for st in steps] == [
        ("set", "config", "my_site/", f"/section:{ANONYMOUS}", "/userName:", "/commit:apphost")
    ]
    assert "IUSR" in steps[0].why and "401.3" in steps[0].why
    state.anonymous_user["my_site"] = ""
    assert plan_register(s, APPCMD, state) == []
    fresh = plan_register(s, APPCMD, ServerState())
    assert fresh[-1].argv[1:] == steps[0].argv[1:]


def test_anonymous_user_is_read_from_appcmd_list_config():
    out = """<system.webServer>
  <security>
    <authentication>
      <anonymousAuthentication enabled="true" userName="IUSR" password="" logonMethod="ClearText" />
    </authentication>
  </security>
</system.webServer>
"""
    assert parse_anonymous_user(out) == "IUSR"
    assert parse_anonymous_user(out.replace('userName="IUSR"', 'userName=""')) == ""
    assert parse_anonymous_user(out.replace(' userName="IUSR"', "")) == "IUSR"  # the schema's default


def test_deploy_restarts_a_stopped_pool_once():
    """register starts a stopped pool; the deploy's restart must not start it a second time (appcmd
    answers "The service has already been started" and the deploy failed after every other step)."""
    s = settings()
    state = registered(s)
    state.pools["my_site"] = AppPool("my_site", dict(POOL_SETTINGS), "Stopped")
    steps = plan_register(s, APPCMD, state) + plan_restart(s, APPCMD, state)
    assert [st.argv[1:3] for st in steps].count(("start", "apppool")) == 1
    assert plan_restart(s, APPCMD, ServerState()) == []  # a new pool starts by itself
    assert plan_restart(s, APPCMD, registered(s))[0].argv[1] == "recycle"


def test_recycle_refuses_a_pool_that_runs_other_sites():
    s = settings()
    state = registered(s)
    state.sites["Other"] = Site("Other", (Binding("http", "*:8080:"),), "my_site", r"C:\other")
    with pytest.raises(Refusal, match=r"also runs site\(s\) 'Other'"):
        plan_recycle(s, APPCMD, state)


@pytest.mark.parametrize(
    "section, key", [("iis", "hostname"), ("deploy", "check_timout"), ("tools", "appcmd_exe")]
)
def test_a_misspelt_setting_in_a_file_is_named(section, key):
    config = {"iis": {"site_name": "s", "app_pool": "p"}}
    config.setdefault(section, {})[key] = "x"
    with pytest.raises(SettingsError, match=f"unknown setting {section}.{key}"):
        from_config(config, ROOT)


def test_a_port_another_site_uses_for_the_other_protocol_is_refused():
    """http.sys cannot listen with http and https on one address and port: our http binding on a port
    another site serves https on (or the reverse) leaves one of the two sites unable to start."""
    s = settings(http_port=8443)
    other = Site("Secure", (Binding("https", "*:8443:shop.example", 1),), "Secure", r"C:\shop")
    with pytest.raises(Refusal, match='port 8443 is used by site "Secure" for https'):
        plan_register(s, APPCMD, ServerState(sites={"Secure": other}))
    elsewhere = Site("Secure", (Binding("https", "10.0.0.5:8443:", 1),), "Secure", r"C:\shop")
    with pytest.raises(Refusal, match="port 8443"):  # * covers every address, 10.0.0.5 included
        plan_register(s, APPCMD, ServerState(sites={"Secure": elsewhere}))


AUTH = "system.webServer/security/authentication/"


def test_windows_auth_turns_windows_on_then_anonymous_off_and_reads_files_as_the_pool():
    """iis.windows_auth: every section set for the site's location in applicationHost.config (they
    are locked for web.config); Windows on before anonymous off, so no request meets neither."""
    s = settings(windows_auth="true")
    steps = plan_register(s, APPCMD, registered(s))
    assert [st.argv[1:] for st in steps] == [
        ("set", "config", "my_site/", f"/section:{AUTH}windowsAuthentication", "/enabled:true",
         "/commit:apphost"),
        ("set", "config", "my_site/", f"/section:{AUTH}anonymousAuthentication", "/enabled:false",
         "/commit:apphost"),
        ("set", "config", "my_site/", "/section:system.webServer/serverRuntime",
         "/authenticatedUserOverride:UseWorkerProcessUser", "/commit:apphost"),
    ]  # fmt: skip
    assert "static/ included" in steps[1].why and "401.3" in steps[2].why
    fresh = plan_register(s, APPCMD, ServerState())
    assert [st.argv for st in fresh[-3:]] == [st.argv for st in steps]


def test_windows_auth_plans_nothing_once_applied_and_only_the_difference():
    s = settings(windows_auth="true")
    state = registered(s)
    state.authentication["my_site"] = SiteAuth(
        anonymous=False, windows=True, user_override="UseWorkerProcessUser"
    )
    assert plan_register(s, APPCMD, state) == []
    state.authentication["my_site"] = SiteAuth(
        anonymous=True, windows=True, user_override="UseWorkerProcessUser"
    )
    assert [st.argv[-2] for st in plan_register(s, APPCMD, state)] == ["/enabled:false"]


def test_without_windows_auth_anonymous_is_turned_back_on_and_windows_left_alone():
    s = settings()
    state = registered(s)
    assert plan_register(s, APPCMD, state) == []
    state.authentication["my_site"] = SiteAuth(
        anonymous=False, windows=True, user_override="UseWorkerProcessUser"
    )
    steps = plan_register(s, APPCMD, state)
    assert [st.argv[1:] for st in steps] == [
        (
            "set",
            "config",
            "my_site/",
            f"/section:{AUTH}anonymousAuthentication",
            "/enabled:true",
            "/commit:apphost",
        )
    ]


def test_windows_auth_setting_is_read_as_true_or_false():
    assert settings(windows_auth="true").windows_auth is True
    assert settings().windows_auth is False
    with pytest.raises(SettingsError, match="iis.windows_auth must be true or false"):
        settings(windows_auth="kerberos")


def test_authentication_sections_are_read_from_appcmd_list_config():
    windows = '<system.webServer><security><authentication><windowsAuthentication enabled="true" />'
    windows += "</authentication></security></system.webServer>"
    runtime = '<system.webServer><serverRuntime authenticatedUserOverride="UseWorkerProcessUser" />'
    runtime += "</system.webServer>"
    assert section_attribute(windows, "windowsAuthentication", "enabled", "false") == "true"
    assert (
        section_attribute(runtime, "serverRuntime", "authenticatedUserOverride", "") == "UseWorkerProcessUser"
    )
    assert section_attribute("<system.webServer />", "serverRuntime", "authenticatedUserOverride", "D") == "D"


def test_deploy_migrate_false_plans_the_app_steps_without_migrate():
    """A farm's rollout migrates on its first node only: the others deploy with deploy.migrate false."""
    from iishost.deploy.app_plan import plan_app

    base = {"iis": {"site_name": "s", "app_pool": "p"}}
    default = [s.argv[2:3] for s in plan_app(from_config(base, ROOT), "python")]
    assert ("migrate",) in default
    for value in ("false", False, "0"):
        off = from_config({**base, "deploy": {"migrate": value}}, ROOT)
        assert off.migrate is False
        assert [s.argv[2:3] for s in plan_app(off, "python")] == [a for a in default if a != ("migrate",)]
    with pytest.raises(SettingsError, match="deploy.migrate must be true or false"):
        from_config({**base, "deploy": {"migrate": "sometimes"}}, ROOT)
