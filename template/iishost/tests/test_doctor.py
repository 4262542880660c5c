"""`invoke doctor` as users run it (a subprocess), against the fakes and deliberately broken projects.

Each broken project proves its check fails with the fix shown, and passes once fixed. The fakes
(iishost/tests/fakes/: appcmd, icacls, netstat, wevtutil; formats documented there) stand for a
Windows server with IIS; on Windows these tests are skipped, as in test_deploy_tasks.py.
"""

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from iishost import PROJECT_ROOT
from iishost.tests.fakes.hph_schema import write_schema
from iishost.tests.test_deploy_tasks import (  # noqa: F401 (fake_server is a fixture)
    BIN,
    FAKES,
    SLUG,
    changing,
    fake_server,
    free_port,
    invoke,
    posix_only,
)

pytestmark = posix_only
ORDER = [
    "iis", "handlers", "webconfig", "python", "acl", "logs", "stdout-log", "start", "allowed-hosts",
    "check-deploy", "ports", "limits", "eventlog",
]  # fmt: skip


@pytest.fixture
def server(fake_server):  # noqa: F811 (the imported fixture)
    """fake_server with netstat and wevtutil too, the site registered and its folders granted: a
    healthy server, which each test then breaks in one way."""
    project, state, env = fake_server
    bin_dir = Path(env["PATH"].split(os.pathsep)[0])
    for tool in ("netstat", "wevtutil"):
        source = (FAKES / f"{tool}.py").read_text(encoding="utf-8").split("\n", 1)[1]
        (bin_dir / tool).write_text(f"#!{bin_dir / 'python'}\n{source}", encoding="utf-8")
        (bin_dir / tool).chmod(0o755)
    write_schema(schema_of(env), "1.2")  # what HttpPlatformHandler 1.2's installer leaves
    for folder in ("media", "data", "logs"):
        (project / folder).mkdir(exist_ok=True)
    for task in ("iis.register", "acl.grant"):
        done = invoke(task, cwd=project, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    return project, state, env


def doctor(project, env, *only):
    """(exit code, {check name: result}) of `invoke doctor --json [--only ...]`."""
    args = ["doctor", "--json", *(["--only", ",".join(only)] if only else [])]
    result = invoke(*args, cwd=project, env=env)
    checks = json.loads(result.stdout)
    assert all(set(c) == {"name", "title", "status", "detail", "fix"} for c in checks)
    return result.returncode, {c["name"]: c for c in checks}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def fails(project, env, name, *expected):
    code, checks = doctor(project, env, name)
    check = checks[name]
    assert code == 1 and check["status"] == "fail", check
    for text in expected:
        assert text in check["detail"] + "\nfix: " + check["fix"], (text, check)
    return check


def passes(project, env, name):
    code, checks = doctor(project, env, name)
    assert code == 0 and checks[name]["status"] == "pass", checks[name]
    return checks[name]


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under the folders with its content hash (what "changed nothing" compares)."""
    files = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and ".venv" not in path.parts and path.name != "calls.log":
                files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def test_a_healthy_server_passes_every_check_in_order_and_changes_nothing(server):
    project, state, env = server
    before, calls = snapshot(project, state), len(changing(state))
    code, checks = doctor(project, env)
    assert list(checks) == ORDER
    assert code == 0, checks
    # No process has started yet, so there is no stdout log to read: the only check skipped here.
    assert {n: c["status"] for n, c in checks.items() if c["status"] != "pass"} == {"stdout-log": "skip"}
    assert "HttpPlatformHandler" in checks["iis"]["detail"] and "80 http.sys" in checks["ports"]["detail"]
    assert snapshot(project, state) == before, "the doctor wrote into the project or the fake IIS state"
    assert len(changing(state)) == calls, "the doctor ran a changing appcmd or icacls command"
    assert not list((project / "logs").glob("uvicorn_*.log")), "the trial start logs into a temp folder"
    text = invoke("doctor", cwd=project, env=env)
    assert text.returncode == 0 and " 8. PASS  start:" in text.stdout
    assert "passed, 0 failed, 1 skipped (nothing was changed)" in text.stdout


def test_without_iis_it_runs_what_it_can_and_says_why_it_skips_the_rest(server):
    project, _, env = server
    code, checks = doctor(project, {**env, "PATH": str(BIN)})
    assert code == 0
    for name in ("iis", "handlers", "acl", "eventlog"):
        assert checks[name]["status"] == "skip" and "not a Windows server with IIS" in checks[name]["detail"]
    for name in ("webconfig", "python", "logs", "start", "allowed-hosts", "check-deploy", "limits"):
        assert checks[name]["status"] == "pass", checks[name]


def test_an_unknown_check_name_is_refused_with_the_list(server):
    project, _, env = server
    result = invoke("doctor", "--only", "nope", cwd=project, env=env)
    assert result.returncode == 2 and "the checks are iis, handlers" in result.stderr


def test_locked_handlers_section(server):
    project, state, env = server
    config = state / "applicationHost.config"
    tree = ET.parse(config)
    for location in tree.getroot().findall("location"):
        web = location.find("system.webServer")
        if web is not None and web.find("handlers") is not None:
            web.remove(web.find("handlers"))
    tree.write(config)
    check = fails(project, env, "handlers", "locked above site", "500.19", "unlock config")
    fix = check["fix"].split(" (as admin")[0]
    assert invoke_tool(shlex.split(fix), env) == 0, fix
    passes(project, env, "handlers")


def invoke_tool(argv, env) -> int:
    """Run a fake Windows tool (first on the fixture's PATH) as an admin would."""
    return subprocess.run(argv, env=env, capture_output=True).returncode


def schema_of(env) -> Path:
    return (
        Path(shutil.which("appcmd", path=env["PATH"])).parent
        / "config"
        / "schema"
        / "httpplatform_schema.xml"
    )


def test_a_v2_only_setting_under_1_2(server):
    """<handlerSettings> exists in v2's schema only: 500.19 on every request of a 1.2 server."""
    project, _, env = server
    write_schema(schema_of(env), "1.2")
    web_config = project / "web.config"
    v2_only = '<handlerSettings><handlerSetting name="a" value="b"/></handlerSettings>'
    edit(web_config, "</httpPlatform>", v2_only + "</httpPlatform>")
    fails(project, env, "webconfig", "HttpPlatformHandler 1.2", 'unrecognized element "handlerSettings"',
          "remove the element handlerSettings", "only v2 has <handlerSettings>")  # fmt: skip
    edit(web_config, v2_only, "")
    assert "HttpPlatformHandler 1.2 found" in passes(project, env, "webconfig")["detail"]


def test_a_1_2_only_attribute_under_v2(server):
    project, _, env = server
    write_schema(schema_of(env), "2")
    web_config = project / "web.config"
    edit(web_config, "<httpPlatform ", '<httpPlatform startupRetryCount="3" ')
    fails(project, env, "webconfig", "HttpPlatformHandler 2", 'unrecognized attribute "startupRetryCount"',
          "remove the attribute startupRetryCount", "v2 has no startupRetryCount")  # fmt: skip
    assert "HttpPlatformHandler 2" in doctor(project, env, "iis")[1]["iis"]["detail"]
    edit(web_config, 'startupRetryCount="3" ', "")
    passes(project, env, "webconfig")


def test_bad_process_path(server):
    project, _, env = server
    web_config = project / "web.config"
    edit(web_config, r'processPath=".\.venv\Scripts\python.exe"', r'processPath=".\venv\Scripts\python.exe"')
    fails(project, env, "start", "cannot start processPath", r'processPath=".\.venv\Scripts\python.exe"')
    edit(web_config, r'processPath=".\venv\Scripts\python.exe"', r'processPath=".\.venv\Scripts\python.exe"')
    passes(project, env, "start")


def test_missing_logs_folder(server):
    project, _, env = server
    shutil.rmtree(project / "logs")
    fails(project, env, "logs", "logs missing", "event 1004", "mkdir logs")
    text = invoke("doctor", "--only", "logs", cwd=project, env=env)
    assert (
        text.returncode == 1 and " 1. FAIL  logs:" in text.stdout and "      fix: mkdir logs" in text.stdout
    )
    (project / "logs").mkdir()
    passes(project, env, "logs")


def test_acls_not_granted_and_static_read_as_iusr(server):
    project, state, env = server
    acls = state / "acls.json"
    granted = acls.read_text(encoding="utf-8")
    acls.write_text("{}", encoding="utf-8")
    fails(project, env, "acl", "still to grant", "modify on logs/", "invoke acl.grant")
    acls.write_text(granted, encoding="utf-8")
    passes(project, env, "acl")
    if not (PROJECT_ROOT / "static" / "web.config").is_file():
        return  # the template's static_files: app: Django serves static/, IIS's anonymous user reads nothing
    (project / "static").mkdir()
    shutil.copy(PROJECT_ROOT / "static" / "web.config", project / "static" / "web.config")
    assert (
        invoke_tool(
            [
                "appcmd",
                "set",
                "config",
                f"{SLUG}/",
                "/section:system.webServer/security/authentication/anonymousAuthentication",
                "/userName:IUSR",
                "/commit:apphost",
            ],
            env,
        )
        == 0
    )
    fails(project, env, "acl", "IIS serves static/ as the anonymous user IUSR", "invoke iis.register")
    assert invoke("iis.register", cwd=project, env=env).returncode == 0
    passes(project, env, "acl")


CRASHING = "import not_a_module_doctor_test  # noqa: F401\n"


def test_a_crashing_app_shows_its_traceback(server):
    project, _, env = server
    (project / "crashing.py").write_text(CRASHING, encoding="utf-8")
    web_config = project / "web.config"
    edit(web_config, f"{SLUG}.asgi:application", "crashing:application")
    check = fails(project, env, "start", "crashed (exit code 1)", "ModuleNotFoundError: No module named "
                  "'not_a_module_doctor_test'", 'File "', "fix what the traceback names")  # fmt: skip
    assert "crashing.py" in check["detail"]
    # What IIS would have left. Python failing before iishost.launch runs: HPH's own stdout log
    # (1.2's naming, httpplatform-stdout_<worker pid>_<time>.log) has the traceback.
    hph_log = project / "logs" / "httpplatform-stdout_4242_2026111120000.log"
    hph_log.write_text(
        'Traceback (most recent call last):\n  File "<frozen runpy>", line 142, in _get_module_details\n'
        "ModuleNotFoundError: No module named 'iishost'\n",
        encoding="utf-8",
    )
    fails(project, env, "stdout-log", hph_log.name, "No module named 'iishost'")
    # iishost.launch's own log, which HPH's names and the doctor reads first, has the app's traceback.
    launch_log = project / "logs" / "uvicorn_20260101-120000_4242.log"
    launch_log.write_text(
        'Traceback (most recent call last):\n  File "crashing.py", line 1, in <module>\n'
        "    import not_a_module_doctor_test\n"
        "ModuleNotFoundError: No module named 'not_a_module_doctor_test'\n",
        encoding="utf-8",
    )
    fails(
        project, env, "stdout-log", str(launch_log), "ModuleNotFoundError", "import not_a_module_doctor_test"
    )
    edit(web_config, "crashing:application", f"{SLUG}.asgi:application")
    passes(project, env, "start")
    launch_log.write_text("INFO:     Application startup complete.\n", encoding="utf-8")
    passes(project, env, "stdout-log")


def test_an_app_that_starts_but_fails_every_request(server):
    """Django imports the URLconf at the first request: the process listens, IIS shows 500s."""
    project, _, env = server
    urls = project / SLUG / "urls.py"
    original = urls.read_text(encoding="utf-8")
    urls.write_text(original + "\nimport not_a_module_doctor_urls  # noqa: E402, F401\n", encoding="utf-8")
    fails(project, env, "start", "started, but GET /health/ answered 500",
          "ModuleNotFoundError: No module named 'not_a_module_doctor_urls'", "urls.py")  # fmt: skip
    fails(project, env, "check-deploy", "could not run (ModuleNotFoundError", "manage.py check")
    urls.write_text(original, encoding="utf-8")
    passes(project, env, "start")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="off Windows, listeners are read from /proc")
def test_an_app_that_binds_a_fixed_port(server):
    project, _, env = server
    fixed = free_port()
    web_config = project / "web.config"
    edit(web_config, "--port %HTTP_PLATFORM_PORT%", f"--port {fixed}")
    edit(web_config, 'startupTimeLimit="20"', 'startupTimeLimit="4"')
    fails(project, env, "start", "does not listen on HTTP_PLATFORM_PORT", f"listening on {fixed} instead?",
          "--port %HTTP_PLATFORM_PORT%")  # fmt: skip
    edit(web_config, f"--port {fixed}", "--port %HTTP_PLATFORM_PORT%")
    passes(project, env, "start")


SLOW = "import time\n\ntime.sleep(4)\nfrom {slug}.asgi import application  # noqa: E402, F401\n"


def test_a_start_slower_than_startup_time_limit(server):
    project, _, env = server
    (project / "slow.py").write_text(SLOW.format(slug=SLUG), encoding="utf-8")
    web_config = project / "web.config"
    edit(web_config, f"{SLUG}.asgi:application", "slow:application")
    edit(web_config, 'startupTimeLimit="20"', 'startupTimeLimit="1"')
    fails(project, env, "start", "slower than startupTimeLimit (1 s)", 'raise startupTimeLimit="1"')
    edit(web_config, 'startupTimeLimit="1"', 'startupTimeLimit="20"')
    passes(project, env, "start")


def test_allowed_hosts_missing_a_bindings_host(server):
    project, state, env = server
    config = state / "applicationHost.config"
    other = '<binding protocol="http" bindingInformation="*:80:intranet.example"'
    edit(config, 'bindingInformation="*:80:localhost"', f'bindingInformation="*:80:localhost" />{other}')
    fails(project, env, "allowed-hosts", "intranet.example", "400 Bad Request", "DJANGO_HOSTNAMES=")
    passes(project, {**env, "DJANGO_HOSTNAMES": "localhost,intranet.example"}, "allowed-hosts")


def test_an_upload_limit_above_iis_request_limit(server):
    project, _, env = server
    settings = project / SLUG / "settings.py"
    settings.write_text(settings.read_text(encoding="utf-8") + "\nDATA_UPLOAD_MAX_MEMORY_SIZE = 50_000_000\n")
    fails(project, env, "limits", "DATA_UPLOAD_MAX_MEMORY_SIZE = 50,000,000 bytes", "30,000,000", "404.13",
          "maxAllowedContentLength")  # fmt: skip
    edit(project / "web.config", 'maxAllowedContentLength="30000000"', 'maxAllowedContentLength="60000000"')
    passes(project, env, "limits")


def test_a_port_held_by_another_program(server):
    project, state, env = server
    (state / "netstat.json").write_text(json.dumps([[80, 3333]]))
    fails(project, env, "ports", "80 by PID 3333", 'tasklist /FI "PID eq 3333"')
    (state / "netstat.json").unlink()
    passes(project, env, "ports")


def test_recent_event_log_errors_are_shown_with_their_fix(server):
    project, state, env = server
    when = (datetime.now() - timedelta(hours=1)).isoformat(timespec="milliseconds")
    event = {"log": "System", "source": "Microsoft-Windows-WAS", "id": 5002, "level": 2, "date": when,
             "description": f"Application pool '{SLUG}' is being automatically disabled due to a series of "
                            "failures in the process(es) serving that application pool."}  # fmt: skip
    (state / "events.json").write_text(json.dumps([event]))
    fails(project, env, "eventlog", "event 5002", "automatically disabled", "rapid-fail protection")
    event["date"] = (datetime.now() - timedelta(days=3)).isoformat(timespec="milliseconds")
    (state / "events.json").write_text(json.dumps([event]))
    assert "older ones" in passes(project, env, "eventlog")["detail"]


@pytest.mark.parametrize("unsafe, check", [({"DJANGO_DEBUG": "1"}, "security.W018")])
def test_check_deploy_failures_come_with_their_fix(server, unsafe, check):
    project, _, env = server
    fails(project, {**env, **unsafe}, "check-deploy", check, f"DJANGO_SILENCED_SYSTEM_CHECKS={check}")
    passes(project, env, "check-deploy")


def test_deploy_failure_prints_the_doctor_findings(server):
    """When the site does not answer 200, deploy says what the log and a trial start show."""
    project, _, env = server
    (project / "crashing.py").write_text(CRASHING, encoding="utf-8")
    edit(project / "web.config", f"{SLUG}.asgi:application", "crashing:application")
    env = {**env, "INVOKE_DEPLOY_CHECK_URL": f"http://127.0.0.1:{free_port()}/health/",
           "INVOKE_DEPLOY_CHECK_TIMEOUT": "1"}  # fmt: skip
    result = invoke("deploy", cwd=project, env=env)
    assert result.returncode == 1
    assert "invoke doctor" in result.stderr and "FAIL start: crashed (exit code 1)" in result.stderr
    assert "No module named 'not_a_module_doctor_test'" in result.stderr, result.stderr[-3000:]
