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


def test_windows_workflow_is_shipped_verbatim(default_project):
    # The workflow's steps are in its composite action (tests/test_windows_workflow.py checks them).
    action = default_project / ".github" / "actions" / "windows-iis" / "action.yml"
    text = action.read_text(encoding="utf-8")
    assert "${{ " in text, "GitHub expressions survive rendering"
    steps = [step.get("run", "") for step in yaml.safe_load(text)["runs"]["steps"]]
    assert sum("invoke deploy" in run for run in steps) >= 2
