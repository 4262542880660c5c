"""The real-IIS workflow, checked where it cannot run: its YAML parsed and its wiring asserted.

Generated projects ship .github/workflows/windows-iis.yml, a thin job around the composite action
.github/actions/windows-iis/action.yml; the template repository's .github/workflows/windows-iis.yml
renders a project and uses that same action. What the steps do on Windows is unverified here
(iishost/docs/deploying.md, "The real-IIS workflow", says what); the Python check they run,
iishost/ci/smoke.py, is tested in test_smoke_check.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, render

ACTION = Path(".github/actions/windows-iis/action.yml")
WORKFLOW = Path(".github/workflows/windows-iis.yml")


@pytest.fixture(scope="module")
def project(template_repo, tmp_path_factory) -> Path:
    return render(template_repo, tmp_path_factory.mktemp("workflow") / "project")


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def steps(project) -> list[dict]:
    return load(project / ACTION)["runs"]["steps"]


def index(steps: list[dict], needle: str) -> int:
    """The one step whose name, run script or action mentions `needle`."""
    found = [i for i, step in enumerate(steps) if needle in yaml.safe_dump(step, width=1000)]
    assert len(found) == 1, f"{needle!r} in steps {found}"
    return found[0]


def test_generated_workflow_runs_when_asked_and_on_iis_changes_only(project):
    triggers = load(project / WORKFLOW)["on"]
    assert set(triggers) == {"workflow_dispatch", "push", "pull_request"}
    assert triggers["push"]["paths"] == triggers["pull_request"]["paths"]
    paths = triggers["push"]["paths"]
    assert {"**/web.config", "iishost/deploy/**", "bootstrap.py", "invoke.yaml"} <= set(paths)
    assert {".github/workflows/windows-iis.yml", ".github/actions/windows-iis/**"} <= set(paths)
    assert not {"**", "*", "**/*", "**/*.py"} & set(paths), "not every push"
    assert set(triggers["push"]) == {"paths"}, "no branch filter that would widen or bypass the paths"


def test_generated_workflow_is_the_action_on_a_windows_runner(project):
    workflow = load(project / WORKFLOW)
    (job,) = workflow["jobs"].values()
    assert job["runs-on"].startswith("windows-") and job["timeout-minutes"] <= 60
    assert [step.get("uses") for step in job["steps"]] == [
        "actions/checkout@v4",
        "./.github/actions/windows-iis",
    ]
    assert workflow["permissions"] == {"contents": "read"}
    assert load(project / ACTION)["runs"]["using"] == "composite"


def test_installer_signature_is_verified_before_msiexec(steps):
    download = index(steps, "fwlink/?LinkId=690721")
    verify = index(steps, "Get-AuthenticodeSignature")
    install = index(steps, "msiexec.exe")
    assert download < verify < install
    script = steps[verify]["run"]
    assert "$signature.Status -ne 'Valid'" in script and "exit 1" in script
    assert "GetNameInfo('SimpleName', $false)" in script and "-ne 'Microsoft Corporation'" in script


def test_msiexec_exit_code_is_checked_and_its_log_kept(steps):
    install = index(steps, "msiexec.exe")
    script = steps[install]["run"]
    assert "-Wait -PassThru" in script and '"/l*v"' in script and '"/qn"' in script
    assert "if ($process.ExitCode -notin 0, 3010)" in script
    assert "httpPlatformHandler.dll" in script, "the module is really there afterwards"
    keep = index(steps, "name: hph-install-log")
    assert keep > install and steps[keep]["if"] == "always()"
    assert steps[keep]["uses"].startswith("actions/upload-artifact@")
    assert steps[keep]["with"]["path"].endswith("/hph-install.log")


NATIVE = re.compile(r"^\s*(python|\.venv\\Scripts\\|netsh|copier|& )")


@pytest.mark.parametrize("source", ["action", "template-repository workflow"])
def test_every_native_command_has_its_exit_code_checked(steps, source):
    """pwsh stops on cmdlet errors, not on a native command's exit code (GitHub only checks the
    last one): each native command is followed by an `$LASTEXITCODE` check, except in the
    failure-diagnostics step, which must go on to collect what it can."""
    if source == "action":
        checked = [s for s in steps if "run" in s and s.get("if") != "failure()"]
    else:
        checked = [s for s in load(ROOT / WORKFLOW)["jobs"]["deploy-to-iis"]["steps"] if "run" in s]
    seen = 0
    for step in checked:
        lines = step["run"].splitlines()
        for number, line in enumerate(lines):
            if NATIVE.match(line) or re.match(r"^\s*\$\w+ = \.venv\\Scripts\\", line):
                seen += 1
                following = lines[number + 1].strip()
                assert following.startswith(("if ($LASTEXITCODE)", "$code = $LASTEXITCODE")), (
                    step["name"],
                    line,
                )
    assert seen >= 3


def test_https_is_bound_with_a_self_signed_certificate_before_deploy(steps):
    settings = index(steps, "invoke.local.yaml")
    certificate = index(steps, "New-SelfSignedCertificate")
    deploy = index(steps, "invoke deploy --dry-run")
    assert settings < deploy and certificate < deploy
    assert (
        '"  https: true"' in steps[settings]["run"] and '"  hostnames: [localhost]"' in steps[settings]["run"]
    )
    script = steps[certificate]["run"]
    assert "-DnsName localhost -CertStoreLocation Cert:\\LocalMachine\\My" in script
    assert 'netsh http add sslcert "hostnameport=localhost:443" "certhash=$($cert.Thumbprint)"' in script
    assert "localhost.pem" in script


def test_smoke_check_runs_after_deploy_with_an_admin_user_over_http_and_https(steps):
    deploy = index(steps, "invoke deploy --dry-run")
    user = index(steps, "createsuperuser --noinput")
    smoke = index(steps, "iishost.ci.smoke")
    assert deploy < user < smoke
    user_script = steps[user]["run"]
    assert "::add-mask::$password" in user_script and "RandomNumberGenerator" in user_script
    assert "DJANGO_SUPERUSER_PASSWORD=$password" in user_script and "DJANGO_SUPERUSER_USERNAME" in user_script
    assert "DJANGO_HEALTH_SHOWS_PID=1" in steps[index(steps, "invoke.local.yaml")]["run"]
    command = steps[smoke]["run"].splitlines()[0]
    for argument in [
        "--url http://localhost/",
        "--url https://localhost/",
        "--cafile",
        "--web-config web.config",
    ]:
        assert argument in command
    assert index(steps, "IIS: no change") > smoke, "the idempotence check comes after the smoke check"


def test_failure_uploads_events_iis_logs_and_stdout_logs(steps):
    collect, upload = index(steps, "Get-WinEvent"), index(steps, "name: iis-diagnostics")
    assert collect < upload and steps[collect]["if"] == steps[upload]["if"] == "failure()"
    assert collect == len(steps) - 2 and upload == len(steps) - 1, "after every step that can fail"
    script = steps[collect]["run"]
    assert 'foreach ($log in "System", "Application")' in script
    assert "-FilterHashtable @{ LogName = $log" in script
    providers = re.search(r"\$providers = '([^']+)'", script).group(1)
    iis = ["Microsoft-Windows-WAS", "Microsoft-Windows-IIS-W3SVC", "Microsoft-Windows-IIS-W3SVC-WP"]
    for provider in [*iis, "HttpPlatformHandler"]:
        assert re.search(providers, provider), provider
    assert not re.search(providers, "Microsoft-Windows-Kernel-Power")
    assert "$env:SystemDrive\\inetpub\\logs\\LogFiles" in script and "-Path logs" in script
    assert script.index("netsh http flush logbuffer") < script.index("inetpub\\logs"), "log buffer first"
    assert steps[upload]["with"]["path"] == "${{ runner.temp }}/iis-diagnostics"


def test_template_repository_renders_a_project_and_runs_the_same_action():
    workflow = load(ROOT / WORKFLOW)
    triggers = workflow["on"]
    assert set(triggers) == {"workflow_dispatch", "push", "pull_request"}
    assert triggers["push"]["paths"] == triggers["pull_request"]["paths"]
    assert {
        "template/**",
        "copier.yml",
        "includes/**",
        "locks/**",
        ".github/workflows/windows-iis.yml",
    } <= set(triggers["push"]["paths"])
    steps = workflow["jobs"]["deploy-to-iis"]["steps"]
    assert steps[0]["uses"] == "actions/checkout@v4" and steps[0]["with"]["fetch-depth"] == 0
    render_step = steps[index(steps, "copier copy")]["run"]
    assert 'copier copy --trust --defaults --vcs-ref HEAD "$PWD" rendered' in render_step
    assert "pip install -q --group dev" in render_step
    assert steps[-1] == {"uses": "./rendered/.github/actions/windows-iis", "with": {"project": "rendered"}}
    assert (ROOT / "template" / ACTION).is_file()


def test_action_steps_run_in_the_project_folder(steps):
    """Every step that touches the project's files runs in `inputs.project` (the template
    repository's workflow passes `rendered`)."""
    needles = [
        "invoke.yaml",
        "bootstrap.py",
        "invoke deploy --dry-run",
        "createsuperuser",
        "iishost.ci.smoke",
    ]
    for needle in [*needles, "IIS: no change", "Get-WinEvent"]:
        assert steps[index(steps, needle)]["working-directory"] == "${{ inputs.project }}", needle


def actionlint() -> str | None:
    return shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")


needs_actionlint = pytest.mark.skipif(
    not actionlint(), reason="actionlint is not installed (python -m pip install --group workflows)"
)


@needs_actionlint
@pytest.mark.parametrize("where", ["template repository", "generated project"])
def test_actionlint_is_clean(project, where):
    """actionlint checks each workflow and the inputs it gives local actions; the generated one is
    checked in a rendered project, where its local action is."""
    folder = ROOT if where == "template repository" else project
    argv = [actionlint(), "-no-color", str(WORKFLOW)]
    result = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_actionlint
def test_actionlint_is_clean_on_the_action_steps(steps, tmp_path):
    """actionlint does not read a composite action's steps: they are checked as the steps of a
    reusable workflow with the same input (expressions, contexts, conditions, action inputs)."""
    workflow = {
        "on": {"workflow_call": {"inputs": {"project": {"type": "string", "default": "."}}}},
        "jobs": {"deploy": {"runs-on": "windows-2022", "steps": steps}},
    }
    path = tmp_path / WORKFLOW
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(workflow, sort_keys=False, width=1000), encoding="utf-8")
    argv = [actionlint(), "-no-color", str(WORKFLOW)]
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
