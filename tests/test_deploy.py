"""The generated project's deploy tasks as a user first meets them: listed with help, planned on Linux."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from conftest import VENV_BIN

pytestmark = pytest.mark.slow  # needs the bootstrapped default project


def invoke(project, *args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    environment["PATH"] = str(project / ".venv" / VENV_BIN)  # no appcmd/icacls: a machine without IIS
    return subprocess.run(
        [project / ".venv" / VENV_BIN / "invoke", *args],
        cwd=project, env={**environment, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_invoke_list_shows_the_deploy_tasks_with_help(default_project):
    listed = invoke(default_project, "--list")
    assert listed.returncode == 0, listed.stderr
    lines = {
        line.split()[0]: line for line in listed.stdout.splitlines() if line.startswith("  ") and line.split()
    }
    for name in ["deploy", "iis.register", "iis.unregister", "iis.status", "iis.recycle", "acl.grant"]:
        assert len(lines[name].split()) > 3, f"{name} has no help text: {lines[name]!r}"
    detail = invoke(default_project, "--help", "deploy").stdout
    assert "--dry-run" in detail and "--json" in detail


def test_deploy_dry_run_json_is_a_valid_plan_on_linux(default_project):
    result = invoke(default_project, "deploy", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan and all(set(step) == {"why", "argv"} for step in plan)
    assert all(isinstance(a, str) for step in plan for a in step["argv"])
    assert any(step["argv"][1:3] == ["add", "site"] for step in plan)
    assert "planning against an empty server" in result.stderr


def test_overrides_env_then_local_file(default_project):
    local = default_project / "invoke.local.yaml"
    try:
        by_env = invoke(default_project, "iis.register", "--json", INVOKE_IIS_SITE_NAME="From Env")
        assert "/name:From Env" in json.loads(by_env.stdout)[2]["argv"]
        local.write_text(
            yaml.safe_dump({"iis": {"site_name": "From File", "http_port": 8080}}), encoding="utf-8"
        )
        by_file = json.loads(
            invoke(default_project, "iis.register", "--json", INVOKE_IIS_SITE_NAME="From Env").stdout
        )
        assert (
            "/name:From File" in by_file[2]["argv"]
            and "/bindings:http/*:8080:localhost" in by_file[2]["argv"]
        )
    finally:
        local.unlink(missing_ok=True)


# A value for each documented setting, other than its default: (as typed, as iis.status shows it).
OVERRIDES = {
    "iis.site_name": ("Other Site", "Other Site"),
    "iis.app_pool": ("Other Pool", "Other Pool"),
    "iis.hostnames": ("www.example.com,Example.com", "www.example.com,example.com"),
    "iis.https": ("true", "true"),
    "iis.http_port": ("8080", "8080"),
    "iis.https_port": ("8443", "8443"),
    "iis.websockets": ("true", "true"),
    "iis.windows_auth": ("true", "true"),
    "deploy.check_url": ("http://127.0.0.1:8123/health/", "http://127.0.0.1:8123/health/"),
    "deploy.check_timeout": ("2.5", "2.5"),
    "deploy.step_timeout": ("3600", "3600"),
    "deploy.migrate": ("false", "false"),
    "tools.appcmd": (r"D:\iis\appcmd.exe", r"D:\iis\appcmd.exe"),
    "tools.icacls": (r"D:\tools\icacls.exe", r"D:\tools\icacls.exe"),
    "tools.schtasks": (r"D:\tools\schtasks.exe", r"D:\tools\schtasks.exe"),
}


def documented_settings(project) -> dict[str, str]:
    """{setting: environment variable} from the table in iishost/docs/server.md."""
    rows = {}
    for line in (project / "iishost" / "docs" / "server.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4 and cells[1].startswith("INVOKE_"):
            rows[cells[0]] = cells[1]
    return rows


def effective(result) -> dict[str, str]:
    """The settings block `invoke iis.status` prints: `  key: value` lines under its header."""
    assert result.returncode == 0, result.stdout + result.stderr
    block = result.stdout.split("settings (invoke.yaml < INVOKE_* variables < invoke.local.yaml):\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if not line.startswith("  "):
            break
        key, _, value = line.strip().partition(":")
        lines.append((key, value.strip()))
    return dict(lines)


def test_every_documented_setting_is_overridable_by_environment_and_file(default_project):
    """INVOKE_IIS_HOSTNAMES=www.example.com raised Invoke's UncastableEnvVar (a list in invoke.yaml) and
    INVOKE_IIS_HTTPS=false read as true: every setting the docs list must arrive as typed."""
    documented = documented_settings(default_project)
    assert set(documented) == set(OVERRIDES), "a documented setting without a test value, or the reverse"
    for key, variable in documented.items():
        assert variable == "INVOKE_" + key.upper().replace(".", "_"), (key, variable)
    shown = effective(invoke(default_project, "iis.status"))
    assert set(shown) == set(documented), "iis.status must show exactly the documented settings"

    by_env = effective(invoke(default_project, "iis.status", **{
        documented[key]: typed for key, (typed, _) in OVERRIDES.items()
    }))  # fmt: skip
    assert by_env == {key: expected for key, (_, expected) in OVERRIDES.items()}
    falsy = effective(
        invoke(default_project, "iis.status", INVOKE_IIS_HTTPS="false", INVOKE_IIS_WEBSOCKETS="no")
    )
    assert (falsy["iis.https"], falsy["iis.websockets"]) == ("false", "false")

    nested = {}
    for key, (typed, _) in OVERRIDES.items():
        section, name = key.split(".")
        nested.setdefault(section, {})[name] = typed
    nested["iis"]["hostnames"] = ["www.example.com", "Example.com"]  # YAML lists work in files
    nested["iis"]["https"] = True
    for name in ("invoke.local.yaml", "invoke.yaml"):
        path = default_project / name
        original = path.read_text(encoding="utf-8") if path.exists() else None
        try:
            data = yaml.safe_load(original) if original else {}
            for section, values in nested.items():
                data.setdefault(section, {}).update(values)
            path.write_text(yaml.safe_dump(data), encoding="utf-8")
            by_file = effective(invoke(default_project, "iis.status"))
            assert by_file == {key: expected for key, (_, expected) in OVERRIDES.items()}, name
        finally:
            if original is None:
                path.unlink()
            else:
                path.write_text(original, encoding="utf-8")


def test_a_bad_setting_is_named_with_its_fix(default_project):
    for variable, value, message in [
        ("INVOKE_IIS_HTTP_PORT", "eighty", "iis.http_port must be a port number"),
        ("INVOKE_DEPLOY_CHECK_TIMEOUT", "soon", "deploy.check_timeout must be a number of seconds"),
        ("INVOKE_IIS_HOSTNAMES", "bad host!", "not a host name"),
    ]:
        result = invoke(default_project, "iis.status", **{variable: value})
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_windows_workflow_is_shipped_verbatim(default_project):
    # The workflow's steps are in its composite action (tests/test_windows_workflow.py checks them).
    action = default_project / ".github" / "actions" / "windows-iis" / "action.yml"
    text = action.read_text(encoding="utf-8")
    assert "${{ " in text, "GitHub expressions survive rendering"
    steps = [step.get("run", "") for step in yaml.safe_load(text)["runs"]["steps"]]
    assert sum("invoke deploy" in run for run in steps) >= 2
