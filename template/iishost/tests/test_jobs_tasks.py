"""`invoke jobs.*` and the jobs steps of `invoke deploy` as users run them, against a fake schtasks.

The fake (iishost/tests/fakes/schtasks.py, its Microsoft sources in its docstring) keeps tasks as
Task Scheduler XML and, on /Run, runs the task's action, so a job really runs a management command
and leaves its log. The jobs are declared in invoke.local.yaml, so these tests work in any project,
with the background_jobs answer or without.
"""

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from iishost.deploy.jobs.taskxml import NS

from . import test_deploy_tasks as deploy_tests
from .test_deploy_tasks import calls, invoke, posix_only

# The deploy tests' fixtures (a copy of this project, fake tools first on PATH; a uvicorn serving it).
fake_server = deploy_tests.fake_server
app_server = deploy_tests.app_server
T = f"{{{NS}}}"  # the Task Scheduler namespace as ElementTree spells tags

JOBS = {
    "folder": "proj jobs",  # refused: a folder name has no spaces (below); replaced in `declare`
    "scheduled": {
        "check-models": {"command": "check", "args": "--tag models", "schedule": "every 5 minutes",
                         "time_limit": "120"},
        "broken": {"command": "nosuchcommand", "schedule": "at startup"},
    },
}  # fmt: skip


def without_jobs(text: str) -> str:
    """invoke.yaml without its top-level `jobs:` section (a project made with background_jobs has one)."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if line[:1] not in (" ", "#", "\n", ""):
            inside = line.startswith("jobs:")
        if not inside:
            kept.append(line)
    return "".join(kept)


def declare(project, **changes):
    """These tests' jobs only: the copy's own (if any) are taken out of its invoke.yaml."""
    config = project / "invoke.yaml"
    config.write_text(without_jobs(config.read_text(encoding="utf-8")), encoding="utf-8")
    jobs = {**JOBS, "folder": "proj-jobs", **changes}
    (project / "invoke.local.yaml").write_text(json.dumps({"jobs": jobs}), encoding="utf-8")


def tasks(state) -> dict:
    path = state / "tasks.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def schtasks_changes(state) -> list[list[str]]:
    if not (state / "calls.log").exists():
        return []
    return [c for c in calls(state) if c[0] == "schtasks" and c[1] in ("/Create", "/Delete", "/Run")]


@posix_only
def test_register_run_status_change_unregister_through_schtasks(fake_server):
    project, state, env = fake_server
    declare(project)
    first = invoke("jobs.register", cwd=project, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(tasks(state)) == ["\\proj-jobs\\broken", "\\proj-jobs\\check-models"]
    task = ET.fromstring(tasks(state)["\\proj-jobs\\check-models"])
    assert task.findtext(f"{T}Actions/{T}Exec/{T}WorkingDirectory") == str(project)
    assert task.findtext(f"{T}Principals/{T}Principal/{T}UserId") == "S-1-5-19"

    again = invoke("jobs.register", "--json", cwd=project, env=env)
    assert again.returncode == 0 and json.loads(again.stdout) == [], again.stdout + again.stderr

    ran = invoke("jobs.run", "check-models", cwd=project, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (log,) = (project / "logs" / "jobs").glob("check-*.log")
    text = log.read_text(encoding="utf-8")
    assert 'manage.py" check --tag models' in text and "System check identified no issues" in text
    assert text.rstrip().endswith("exit code 0")
    assert invoke("jobs.run", "broken", cwd=project, env=env).returncode == 0  # Task Scheduler only starts it
    (bad,) = (project / "logs" / "jobs").glob("nosuchcommand-*.log")
    assert "Unknown command: 'nosuchcommand'" in bad.read_text(encoding="utf-8")

    status = invoke("jobs.status", cwd=project, env=env)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    after = {
        line.split(":")[0]: lines[i + 1] for i, line in enumerate(lines) if line.startswith("\\proj-jobs")
    }
    assert "last result 0" in after["\\proj-jobs\\check-models"]
    assert "last result 1," in after["\\proj-jobs\\broken"], "a failed command shows in Last Run Result"
    assert "jobs.register would change: nothing to change." in status.stdout

    before = len(schtasks_changes(state))
    scheduled = {**JOBS["scheduled"], "broken": {**JOBS["scheduled"]["broken"], "schedule": "daily 01:30"}}
    declare(project, scheduled=scheduled)
    moved = invoke("jobs.register", cwd=project, env=env)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "schedule 'at startup' -> 'daily 01:30'" in moved.stdout
    assert [c[1:4] for c in schtasks_changes(state)[before:]] == [["/Create", "/TN", "\\proj-jobs\\broken"]]

    declare(project, scheduled={"check-models": JOBS["scheduled"]["check-models"]})
    dropped = invoke("jobs.register", cwd=project, env=env)
    assert dropped.returncode == 0 and "no longer in invoke.yaml" in dropped.stdout, (
        dropped.stdout + dropped.stderr
    )
    assert sorted(tasks(state)) == ["\\proj-jobs\\check-models"]

    gone = invoke("jobs.unregister", cwd=project, env=env)
    assert gone.returncode == 0 and tasks(state) == {}, gone.stdout + gone.stderr


@posix_only
def test_a_task_of_that_name_from_another_folder_is_refused_and_nothing_changes(fake_server, tmp_path):
    project, state, env = fake_server
    declare(project)
    other = tmp_path / "other.xml"
    other.write_text(
        f'<Task xmlns="{NS}"><Actions><Exec><Command>cmd.exe</Command>'
        r"<WorkingDirectory>D:\elsewhere</WorkingDirectory></Exec></Actions></Task>",
        encoding="utf-8",
    )
    made = subprocess.run(
        ["schtasks", "/Create", "/TN", "\\proj-jobs\\broken", "/XML", str(other)],
        env=env,
        capture_output=True,
    )
    assert made.returncode == 0, made.stdout
    before = tasks(state)
    for task in (["jobs.register"], ["deploy"], ["jobs.run", "broken"]):
        result = invoke(*task, cwd=project, env=env)
        assert result.returncode == 1, task
        assert (
            r"runs in D:\elsewhere, not in this project" in result.stderr and "Traceback" not in result.stderr
        )
    assert tasks(state) == before and len(schtasks_changes(state)) == 1  # only the test's own /Create
    assert invoke("jobs.unregister", cwd=project, env=env).returncode == 0
    assert tasks(state) == before, "unregister leaves another project's task alone"


@posix_only
def test_bad_job_settings_are_named_and_dry_run_without_schtasks(fake_server):
    project, state, env = fake_server
    (project / "invoke.local.yaml").write_text(json.dumps({"jobs": JOBS}), encoding="utf-8")
    result = invoke("jobs.register", cwd=project, env=env)
    assert result.returncode == 1 and "jobs.folder 'proj jobs' is not a usable" in result.stderr
    declare(project, scheduled={"x": {"command": "check", "schedule": "hourly"}})
    result = invoke("deploy", "--dry-run", cwd=project, env=env)
    assert result.returncode == 1 and "jobs.scheduled.x.schedule is 'hourly'" in result.stderr
    assert "Traceback" not in result.stderr and schtasks_changes(state) == []

    declare(project)
    bare = {**env, "PATH": env["PATH"].split(":", 1)[1]}  # the fakes' folder is first on PATH
    planned = invoke("jobs.register", "--json", cwd=project, env=bare)
    assert planned.returncode == 0, planned.stderr
    assert [s["argv"][1] for s in json.loads(planned.stdout)] == ["/Create", "/Create"]
    assert "no schtasks.exe on this machine" in planned.stderr
    refused = invoke("jobs.register", cwd=project, env=bare)
    assert refused.returncode == 1 and "schtasks.exe not found" in refused.stderr


@posix_only
@pytest.mark.slow
def test_deploy_registers_the_jobs_and_grants_their_account(fake_server, app_server):
    project, state, env = fake_server
    declare(project)
    env = {**env, "INVOKE_DEPLOY_CHECK_URL": app_server}
    plan = json.loads(invoke("deploy", "--json", cwd=project, env=env).stdout)
    assert [s["argv"][1] for s in plan if s["argv"][0].endswith("schtasks")] == ["/Create", "/Create"]
    assert plan[-1]["argv"][1] == "/Create", "jobs are scheduled after the code, database and IIS steps"
    result = invoke("deploy", cwd=project, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "jobs: 2 change(s)" in result.stdout and len(tasks(state)) == 2
    acls = json.loads((state / "acls.json").read_text(encoding="utf-8"))
    local_service = {path: e for path, entries in acls.items() for e in entries if "LOCAL SERVICE" in e}
    assert local_service == {
        str(project): "NT AUTHORITY\\LOCAL SERVICE:(OI)(CI)(RX)",
        str(project / ".venv"): "NT AUTHORITY\\LOCAL SERVICE:(OI)(CI)(RX)",
        str(project / "logs"): "NT AUTHORITY\\LOCAL SERVICE:(OI)(CI)(M)",
        **(
            {str(project / "data"): "NT AUTHORITY\\LOCAL SERVICE:(OI)(CI)(M)"}
            if (project / "data").is_dir()
            else {}
        ),
    }
    second = invoke("deploy", cwd=project, env=env)
    assert second.returncode == 0 and "jobs: no change(s)" in second.stdout, second.stdout + second.stderr
