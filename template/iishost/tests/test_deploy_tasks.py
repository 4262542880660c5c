"""The deploy tasks as users run them (`invoke ...` in a subprocess), against fake appcmd and icacls.

The fakes (iishost/tests/fakes/, formats documented there) keep IIS state in an applicationHost.config-shaped
file and ACLs in a JSON file. They are POSIX scripts: on Windows these tests are skipped, and the
shipped workflow .github/workflows/windows-iis.yml runs the same tasks against real IIS.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from iishost import PROJECT_ROOT, farm

ROOT = PROJECT_ROOT
FAKES = Path(__file__).resolve().parent / "fakes"
BIN = Path(sys.executable).parent
INVOKE = BIN / ("invoke.exe" if os.name == "nt" else "invoke")
posix_only = pytest.mark.skipif(
    os.name == "nt", reason="the fake appcmd/icacls are POSIX scripts; Windows has the real ones"
)
SITE = "Site 'Q' (Prod) ü"
# Installed on the fake IIS: a server prepared as iishost/docs/server.md and intranet.md say.
MODULES = ("httpPlatformHandler", "WebSocketModule", "WindowsAuthenticationModule")
POOL = "pool.with dots_ü"
SLUG = os.environ["DJANGO_SETTINGS_MODULE"].rpartition(".")[0]  # pytest-django sets it from pyproject.toml


def invoke(*args, cwd=ROOT, env=None, timeout=300):
    return subprocess.run(
        [str(INVOKE), *args],
        cwd=cwd,
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "DJANGO_", "FAKE_IIS"))}
    return {**env, "PYTHONUTF8": "1", **extra}


# This project's answer: with Windows sign-in, iis.register also sets three authentication sections.
WINDOWS_AUTH = re.search(
    r'^\s*windows_auth:\s*"true"', (ROOT / "invoke.yaml").read_text(encoding="utf-8"), re.M
)
AUTH_STEPS = 3 if WINDOWS_AUTH else 0
# An HTTPS site adds its https bindings to the new site in one more `set site`.
HTTPS = re.search(r'^\s*https:\s*"true"', (ROOT / "invoke.yaml").read_text(encoding="utf-8"), re.M)
HTTPS_STEPS = 1 if HTTPS else 0


def test_dry_run_json_plans_against_an_empty_server_without_iis():
    result = invoke("deploy", "--dry-run", "--json", env=clean_env(PATH=str(BIN)))
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert all(set(step) == {"why", "argv"} and step["why"] and step["argv"] for step in plan)
    commands = [step["argv"][1:3] for step in plan if "appcmd" in step["argv"][0]]
    assert (
        commands
        == [
            ["add", "apppool"],
            ["set", "apppool"],
            ["add", "site"],
            ["set", "app"],
            *[["set", "site"]] * HTTPS_STEPS,
            ["unlock", "config"],
            ["set", "config"],
        ]
        + [["set", "config"]] * AUTH_STEPS
    )
    assert [s["argv"][3] for s in plan if "icacls" in s["argv"][0]][-1].endswith(":(OI)(CI)M")
    assert "planning against an empty server" in result.stderr


def test_dry_run_text_and_real_run_refusal_without_iis():
    env = clean_env(PATH=str(BIN))
    shown = invoke("iis.register", "--dry-run", env=env)
    assert (
        shown.returncode == 0
        and f"IIS (dry run: nothing changed): {6 + AUTH_STEPS + HTTPS_STEPS} step(s)" in shown.stdout
    )
    assert "+ " in shown.stdout and "/name:" in shown.stdout
    refused = invoke("iis.register", env=env)
    assert refused.returncode == 1
    assert "appcmd.exe not found, so this is not a Windows server with IIS" in refused.stderr


def test_invoke_list_shows_the_deploy_tasks():
    listed = invoke("--list").stdout
    for name in ["deploy", "iis.register", "iis.unregister", "iis.status", "iis.recycle", "acl.grant"]:
        assert name in listed


# ---- against the fakes ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_server(tmp_path):
    """A copy of this project (in a folder with spaces, `&` and ü) and fake appcmd, icacls and
    schtasks first on PATH; the fake IIS has MODULES installed, REDIS_URL is set (as
    iishost/docs/intranet.md asks) when the project has WebSocket groups, and DJANGO_MEDIA_ROOT
    (iishost/docs/farm.md) on a farm."""
    bin_dir, state = tmp_path / "bin", tmp_path / "iis"
    bin_dir.mkdir()
    state.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)  # a shebang cannot hold a path with spaces
    for tool in ("appcmd", "icacls", "schtasks"):
        source = (FAKES / f"{tool}.py").read_text(encoding="utf-8").split("\n", 1)[1]
        (bin_dir / tool).write_text(f"#!{bin_dir / 'python'}\n{source}", encoding="utf-8")
        (bin_dir / tool).chmod(0o755)
    installed = "".join(f'<add name="{name}" />' for name in MODULES)
    (state / "applicationHost.config").write_text(
        (FAKES / "appcmd.py").read_text(encoding="utf-8").split('EMPTY = """', 1)[1].split('"""', 1)[0]
        .replace("\\\\", "\\")
        .replace("<modules />", f"<modules>{installed}</modules>"),
        encoding="utf-8",
    )  # fmt: skip
    project = tmp_path / "sites & ü" / "proj"
    # Not copied: this machine's venv, caches, data and its own per-server overrides.
    ignore = shutil.ignore_patterns(
        ".venv", "__pycache__", ".pytest_cache", "db.sqlite3*", "*.log", ".git", "invoke.local.yaml"
    )
    shutil.copytree(ROOT, project, ignore=ignore)
    for folder in ("static",):
        shutil.rmtree(project / folder, ignore_errors=True)
    # The venv running these tests (the project's own, or one shared by the template's test suite).
    (project / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    env = clean_env(
        PATH=f"{bin_dir}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}", FAKE_IIS_DIR=str(state)
    )
    if uses_channel_layer():  # WebSockets across two processes need a shared layer (iishost.W001)
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"  # no check connects to it
    if farm.registered():  # a farm's uploads live outside the project (iishost.W102): a stand-in share
        (tmp_path / "share" / "media").mkdir(parents=True)
        env["DJANGO_MEDIA_ROOT"] = str(tmp_path / "share" / "media")
    return project, state, env


def calls(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "calls.log").read_text(encoding="utf-8").splitlines()]


def changing(state: Path) -> list[list[str]]:
    return [c for c in calls(state) if c[0] == "icacls" and len(c) > 2 or c[0] == "appcmd" and c[1] != "list"]


@pytest.fixture
def app_server(fake_server):
    """The copied project served by uvicorn on 127.0.0.1 (what IIS would front), stopped after the test."""
    project, _, env = fake_server
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{SLUG}.asgi:application",
         "--host", "127.0.0.1", "--port", str(port)],
        # Plain HTTP like the emulator: an HTTPS site would redirect the check (IIS would forward https).
        cwd=project, env={**env, "DJANGO_SECRET_KEY": "x" * 60, "DJANGO_HTTPS": "false"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    yield f"http://127.0.0.1:{port}/health/"
    server.terminate()
    server.wait(timeout=10)


@posix_only
@pytest.mark.slow
def test_register_status_deploy_again_unregister_cycle(fake_server, app_server):
    project, state, env = fake_server
    # Overrides: the site name from the environment, the pool from invoke.local.yaml.
    env = {**env, "INVOKE_IIS_SITE_NAME": SITE, "INVOKE_DEPLOY_CHECK_URL": app_server}
    (project / "invoke.local.yaml").write_text(json.dumps({"iis": {"app_pool": POOL}}), encoding="utf-8")

    status = invoke("iis.status", cwd=project, env=env)
    assert status.returncode == 0, status.stderr
    assert (
        f'site "{SITE}": not registered' in status.stdout
        and f'app pool "{POOL}": not registered' in status.stdout
    )

    first = invoke("deploy", cwd=project, env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert f"{app_server} answered 200: deployed." in first.stdout
    argv = [a for c in calls(state) for a in c]
    assert (
        f"/name:{SITE}" in argv
        and f"/physicalPath:{project}" in argv
        and f"IIS AppPool\\{POOL}:(OI)(CI)RX" in argv
    )

    root = ET.parse(state / "applicationHost.config").getroot()
    site = root.find(f'system.applicationHost/sites/site[@name="{SITE}"]')
    assert site.find("application").get("applicationPool") == POOL
    pool = root.find(f'system.applicationHost/applicationPools/add[@name="{POOL}"]')
    assert (
        pool.get("managedRuntimeVersion") == "" and pool.find("processModel").get("idleTimeout") == "00:00:00"
    )
    assert root.find(f'location[@path="{SITE}"]/system.webServer/handlers') is not None
    acls = json.loads((state / "acls.json").read_text(encoding="utf-8"))
    # The app pool's own entries (a project with scheduled jobs also grants their account, test_jobs_tasks).
    pool_acls = {path: [e for e in entries if e.startswith("IIS APPPOOL")] for path, entries in acls.items()}
    assert pool_acls[str(project / "logs")] == [f"IIS APPPOOL\\{POOL}:(OI)(CI)(M)"]
    assert pool_acls[str(project)] == [f"IIS APPPOOL\\{POOL}:(OI)(CI)(RX)"]
    assert not any("M" in e for path, entries in acls.items() for e in entries if "python" in path.lower()), (
        acls
    )
    assert (project / "static").is_dir() and list((project / project.name).parent.rglob("__pycache__"))

    for task in ("iis.register", "acl.grant"):
        again = invoke(task, "--json", cwd=project, env=env)
        assert again.returncode == 0 and json.loads(again.stdout) == [], again.stdout + again.stderr
    before = len(changing(state))
    second = invoke("deploy", cwd=project, env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "IIS: no change(s); ACL: no change(s)" in second.stdout
    assert [c[1:3] for c in changing(state)[before:]] == [["recycle", "apppool"]]
    assert (state / "recycled.log").read_text(encoding="utf-8") == f"{POOL}\n"

    status = invoke("iis.status", cwd=project, env=env).stdout
    assert f'site "{SITE}": Started, app pool "{POOL}"' in status and "handlers section: unlocked" in status
    assert "iis.register would change: nothing to change." in status

    gone = invoke("iis.unregister", cwd=project, env=env)
    assert gone.returncode == 0, gone.stderr
    status = invoke("iis.status", cwd=project, env=env).stdout
    assert f'site "{SITE}": not registered' in status and f'app pool "{POOL}": not registered' in status


@posix_only
def test_binding_owned_by_another_site_is_refused_and_nothing_changes(fake_server):
    project, state, env = fake_server
    config = state / "applicationHost.config"
    config.write_text(
        config.read_text().replace('bindingInformation="*:80:"', 'bindingInformation="*:80:localhost"')
    )
    result = invoke("iis.register", cwd=project, env=env)
    assert result.returncode == 1
    assert 'binding http/*:80:localhost is taken by site "Default Web Site"' in result.stderr
    assert changing(state) == []


@posix_only
def test_a_failing_grant_stops_and_says_what_was_applied(fake_server):
    project, state, env = fake_server
    assert invoke("iis.register", cwd=project, env=env).returncode == 0
    named = "DJANGO_MEDIA_ROOT" if "DJANGO_MEDIA_ROOT" in env else "media/"  # a farm's share (fake_server)
    shutil.rmtree(env.get("DJANGO_MEDIA_ROOT") or project / "media", ignore_errors=True)
    result = invoke("acl.grant", cwd=project, env=env)
    assert result.returncode == 1
    assert f"FAILED (exit code 2): modify on {named}" in result.stderr
    assert "The system cannot find the file specified." in result.stderr
    assert "Applied before the failure (4)" in result.stderr and "not done:" in result.stderr


@posix_only
def test_prerequisites_refuse_a_real_deploy_with_fixes(fake_server):
    project, state, env = fake_server
    config = state / "applicationHost.config"
    config.write_text(config.read_text().replace('<add name="httpPlatformHandler" />', ""))
    config.write_text(config.read_text().replace('<add name="WebSocketModule" />', ""))
    (project / "invoke.local.yaml").write_text("iis:\n  websockets: true\n", encoding="utf-8")
    result = invoke("deploy", cwd=project, env=env)
    assert result.returncode == 1
    assert "HttpPlatformHandler module is not installed" in result.stderr
    assert "Install-WindowsFeature Web-WebSockets" in result.stderr
    assert changing(state) == []


def uses_channel_layer() -> bool:
    """Whether this project has WebSocket groups (the template's websockets option)."""
    from django.conf import settings

    return hasattr(settings, "CHANNEL_LAYERS")


@posix_only
def test_an_in_memory_channel_layer_with_two_processes_is_refused(fake_server):
    """Behind IIS's two processes, an in-memory layer would lose group messages between them."""
    if not uses_channel_layer():
        pytest.skip("this project has no channel layer (the template's websockets option is off)")
    project, state, env = fake_server
    env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    result = invoke("deploy", cwd=project, env=env)
    assert result.returncode == 1
    assert "(iishost.W001) The channel layer is in memory" in result.stderr
    assert "REDIS_URL=redis://host:6379/0 in the server's .env" in result.stderr
    assert changing(state) == []
    dry = invoke("deploy", "--dry-run", cwd=project, env=env)
    assert "iishost.W001" in dry.stdout + dry.stderr, "the dry run says the deploy would stop"
    redis = invoke("deploy", "--dry-run", cwd=project, env={**env, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert "iishost.W001" not in redis.stdout + redis.stderr, "a Redis layer reaches every process"


@posix_only
@pytest.mark.slow
def test_deploy_fails_loudly_when_the_site_does_not_answer(fake_server):
    project, state, env = fake_server
    env = {
        **env,
        "INVOKE_DEPLOY_CHECK_URL": f"http://127.0.0.1:{free_port()}/health/",
        "INVOKE_DEPLOY_CHECK_TIMEOUT": "2",
    }
    (project / "logs" / "httpplatform-stdout_42_2025112591500.log").write_text("Traceback ...\n")
    result = invoke("deploy", cwd=project, env=env)
    assert result.returncode == 1
    assert "did not answer 200" in result.stderr
    assert "httpplatform-stdout_42_2025112591500.log" in result.stderr
    # iishost.launch's own per-process log holds the traceback: named first once there is one.
    (project / "logs" / "uvicorn_20251125-091500_4242.log").write_text("Traceback ...\n")
    result = invoke("deploy", cwd=project, env=env)
    assert result.returncode == 1
    assert "uvicorn_20251125-091500_4242.log" in result.stderr


@posix_only
def test_dry_run_before_bootstrap_plans_with_the_python_that_will_make_the_venv(fake_server):
    project, state, env = fake_server
    (project / ".venv").unlink()
    result = invoke("deploy", "--dry-run", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert "no venv yet: planning with the Python bootstrap.py would use" in result.stdout
    assert "pyvenv.cfg is missing" in result.stdout  # still listed as a prerequisite to fix
    assert changing(state) == []
    real = invoke("deploy", cwd=project, env=env)
    assert real.returncode == 1 and "Prerequisites missing (nothing was changed)" in real.stderr


@posix_only
def test_a_site_of_another_folder_is_neither_taken_over_nor_deleted(fake_server):
    """INVOKE_IIS_SITE_NAME="Default Web Site" once repointed that site to this project, moved it to our
    pool and deleted its bindings (exit 0); unregister deleted it."""
    project, state, env = fake_server
    env = {**env, "INVOKE_IIS_SITE_NAME": "Default Web Site"}
    for task in ("iis.register", "iis.unregister", "deploy"):
        result = invoke(task, cwd=project, env=env)
        assert result.returncode == 1, task + result.stdout + result.stderr
        assert (
            'site "Default Web Site" serves %SystemDrive%\\inetpub\\wwwroot, not this project'
            in result.stderr
        )
        assert "nothing was changed" in result.stderr.lower() and "Traceback" not in result.stderr
    assert changing(state) == []


@posix_only
def test_tasks_without_appcmd_refuse_instead_of_finding_nothing_to_change(fake_server):
    project, state, env = fake_server
    env = {**env, "PATH": str(BIN)}
    for task in ("iis.unregister", "iis.recycle", "iis.register"):
        result = invoke(task, cwd=project, env=env)
        assert result.returncode == 1, task
        assert "appcmd.exe not found" in result.stderr and "nothing to change" not in result.stdout, task


@posix_only
def test_a_step_over_the_time_limit_ends_in_the_report_not_a_traceback(fake_server):
    """Steps stream and have no time limit unless deploy.step_timeout sets one; a step that outlives it
    is stopped and reported with what was done and what was not."""
    project, state, env = fake_server
    env = {**env, "FAKE_APPCMD_SECONDS": "3", "INVOKE_DEPLOY_STEP_TIMEOUT": "1"}
    result = invoke("iis.register", cwd=project, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "TIMED OUT after 1 s (deploy.step_timeout): app pool" in result.stderr
    assert "Applied before the failure (0)" in result.stderr and "may be partly applied" in result.stderr
    assert "invoke iis.unregister" in result.stderr


@posix_only
@pytest.mark.parametrize(
    "unsafe, check",
    [({"DJANGO_DEBUG": "1"}, "security.W018"), ({"DJANGO_SECRET_KEY": "change-me"}, "security.W009")],
)
def test_unsafe_production_settings_stop_the_deploy_before_any_change(fake_server, unsafe, check):
    """DEBUG on or a placeholder key were only warnings of `check --deploy`: the deploy went on."""
    project, state, env = fake_server
    env = {**env, **unsafe}
    dry = invoke("deploy", "--dry-run", cwd=project, env=env)
    assert dry.returncode == 0, dry.stderr
    assert check in dry.stdout and "A real deploy would stop here, before any change" in dry.stdout
    real = invoke("deploy", cwd=project, env=env)
    assert real.returncode == 1 and "Prerequisites missing (nothing was changed)" in real.stderr
    assert check in real.stderr and f"DJANGO_SILENCED_SYSTEM_CHECKS={check}" in real.stderr
    assert changing(state) == [] and not (project / "static").exists()

    silenced = invoke("deploy", "--dry-run", cwd=project, env={**env, "DJANGO_SILENCED_SYSTEM_CHECKS": check})
    assert silenced.returncode == 0 and check not in silenced.stdout, silenced.stdout
    assert "would stop" not in silenced.stdout


@posix_only
def test_static_files_are_readable_by_the_account_iis_serves_them_as_on_a_hardened_folder(fake_server):
    """IIS serves /static/ itself as the anonymous user, IUSR by default, whom the app-pool grants do not
    cover: 401.3 once the project folder no longer inherits Users' read. The site's anonymous user is the
    app-pool identity instead (userName ""), which acl.grant already gives read on the project."""
    from iishost.tests.fakes import static_file

    project, state, env = fake_server
    env = {**env, "INVOKE_IIS_SITE_NAME": SITE, "INVOKE_IIS_APP_POOL": POOL}
    css = project / "static" / "app.css"
    css.parent.mkdir()
    for folder in ("media", "data"):  # acl.grant refuses a missing folder (see the failing-grant test);
        (project / folder).mkdir(exist_ok=True)  # a project updated from a template without them has none
    css.write_text("body{}", encoding="utf-8")
    for args in (["/inheritance:r"], ["/grant:r", "BUILTIN\\Administrators:(OI)(CI)F"]):
        assert subprocess.run(["icacls", str(project), *args], env=env, capture_output=True).returncode == 0
    for task in ("iis.register", "acl.grant"):
        result = invoke(task, cwd=project, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert static_file.get(state, SITE, css, env) == (200, f"IIS APPPOOL\\{POOL}")
    assert invoke("iis.register", "--json", cwd=project, env=env).stdout.strip() == "[]"


@posix_only
def test_a_broken_file_a_misspelt_setting_or_an_unreadable_iis_are_named_not_tracebacks(fake_server):
    project, state, env = fake_server
    local = project / "invoke.local.yaml"
    for text, message in [
        ("iis: [unclosed\n", "invoke.local.yaml is not valid YAML"),
        ("iis:\n  hostname: www.example.com\n", "unknown setting iis.hostname"),
    ]:
        local.write_text(text, encoding="utf-8")
        result = invoke("iis.status", cwd=project, env=env)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    local.unlink()
    for task in (["iis.status"], ["deploy", "--dry-run"], ["iis.register", "--dry-run"]):
        result = invoke(*task, cwd=project, env={**env, "FAKE_APPCMD_NOT_ELEVATED": "1"})
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert "insufficient permissions" in result.stderr and "Run as administrator" in result.stderr


@posix_only
def test_a_deploy_starts_a_stopped_pool_once(fake_server):
    """register's plan starts a stopped pool and the restart started it again: appcmd refuses a second
    start ("already been started"), so the deploy failed after every other step."""
    project, state, env = fake_server
    assert invoke("iis.register", cwd=project, env=env).returncode == 0
    stop = subprocess.run(
        ["appcmd", "stop", "apppool", f"/apppool.name:{SLUG}"], env=env, capture_output=True
    )
    assert stop.returncode == 0, stop.stdout
    plan = json.loads(invoke("deploy", "--json", cwd=project, env=env).stdout)
    starts = [s["argv"][1:] for s in plan if s["argv"][1:3] == ["start", "apppool"]]
    assert len(starts) == 1 and not [s for s in plan if s["argv"][1:3] == ["recycle", "apppool"]]


@posix_only
@pytest.mark.slow
def test_deploy_names_the_hph_build_and_refuses_a_web_config_it_would_not_load(fake_server):
    """v2 has no startupRetryCount: a web.config naming it is 500.19 on every request of a v2 server,
    so the deploy names the build it found and stops before any change; 1.2 accepts it."""
    from iishost.tests.fakes.hph_schema import write_schema

    project, state, env = fake_server
    appcmd = Path(shutil.which("appcmd", path=env["PATH"]))
    schema = write_schema(appcmd.parent / "config" / "schema" / "httpplatform_schema.xml", "2")
    result = invoke("deploy", "--dry-run", cwd=project, env=env)
    assert "HttpPlatformHandler 2 found" in result.stdout + result.stderr
    assert "web.config would not load" not in result.stdout + result.stderr

    web_config = project / "web.config"
    web_config.write_text(
        web_config.read_text(encoding="utf-8").replace(
            "<httpPlatform ", '<httpPlatform startupRetryCount="3" '
        ),
        encoding="utf-8",
    )
    result = invoke("deploy", cwd=project, env=env)
    assert result.returncode == 1
    assert "web.config would not load under HttpPlatformHandler 2" in result.stderr
    assert 'unrecognized attribute "startupRetryCount"' in result.stderr
    assert "nothing was changed" in result.stderr
    assert changing(state) == []

    write_schema(schema, "1.2")
    result = invoke("deploy", "--dry-run", cwd=project, env=env)
    assert "HttpPlatformHandler 1.2 found" in result.stdout + result.stderr
    assert "startupRetryCount" not in result.stdout + result.stderr


@posix_only
def test_windows_auth_is_checked_registered_and_static_files_stay_readable(fake_server):
    """iis.windows_auth: a deploy refuses while the Windows Authentication role service is missing;
    iis.register then turns Windows authentication on and anonymous off for the site (at apphost:
    the fake appcmd, like IIS, refuses these sections otherwise), signed-in users get static files
    read as the app-pool identity, and a second register has nothing left to do."""
    from iishost.tests.fakes import static_file

    project, state, env = fake_server
    env = {
        **env,
        "INVOKE_IIS_SITE_NAME": SITE,
        "INVOKE_IIS_APP_POOL": POOL,
        "INVOKE_IIS_WINDOWS_AUTH": "true",
    }
    config = state / "applicationHost.config"
    installed = config.read_text()
    config.write_text(installed.replace('<add name="WindowsAuthenticationModule" />', ""))
    result = invoke("deploy", cwd=project, env=env)
    assert result.returncode == 1
    assert "Install-WindowsFeature Web-Windows-Auth" in result.stderr
    assert changing(state) == []
    config.write_text(installed)
    css = project / "static" / "app.css"
    css.parent.mkdir()
    css.write_text("body{}", encoding="utf-8")
    for folder in ("media", "data"):
        (project / folder).mkdir(exist_ok=True)
    for args in (["/inheritance:r"], ["/grant:r", "BUILTIN\\Administrators:(OI)(CI)F"]):
        assert subprocess.run(["icacls", str(project), *args], env=env, capture_output=True).returncode == 0
    for task in ("iis.register", "acl.grant"):
        result = invoke(task, cwd=project, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    sections = [c[4] for c in changing(state) if c[1:3] == ["set", "config"]]
    assert sections[-3:] == [
        "/section:system.webServer/security/authentication/windowsAuthentication",
        "/section:system.webServer/security/authentication/anonymousAuthentication",
        "/section:system.webServer/serverRuntime",
    ]
    assert static_file.get(state, SITE, css, env) == (200, f"IIS APPPOOL\\{POOL}")
    assert invoke("iis.register", "--json", cwd=project, env=env).stdout.strip() == "[]"
    status = invoke("iis.status", cwd=project, env=env).stdout
    assert "iis.windows_auth: true" in status
    assert (
        "Windows authentication: on, anonymous: off, signed-in requests read files as: UseWorkerProcessUser"
        in status
    )
    # Option off again: anonymous comes back; Windows authentication is left as it is.
    result = invoke("iis.register", cwd=project, env={**env, "INVOKE_IIS_WINDOWS_AUTH": "false"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert changing(state)[-1][-2:] == ["/enabled:true", "/commit:apphost"]
    assert static_file.get(state, SITE, css, env)[0] == 200
