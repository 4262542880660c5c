"""Generated projects really work: bootstrap.py builds their venv and their own tests pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import bootstrap, find_python, venv_python

pytestmark = pytest.mark.slow


def run_project_tests(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_python(project), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_default_project_passes_its_own_tests(default_project):
    result = run_project_tests(default_project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


def test_bootstrap_is_idempotent(default_project):
    env_before = (default_project / ".env").read_text()
    result = bootstrap(default_project)
    assert result.returncode == 0, result.stderr
    assert "exists for this Python: keeping it" in result.stdout
    assert "dependencies already match requirements-dev.txt" in result.stdout
    assert (default_project / ".env").read_text() == env_before, "the secret key is kept"


def test_bootstrap_with_pip_in_a_path_with_spaces_and_quotes(render_project, tmp_path):
    project = render_project(tmp_path / "Site's files & ü" / "proj")
    result = bootstrap(project, "--no-uv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "using venv + pip" in result.stdout
    key = [
        line for line in (project / ".env").read_text().splitlines() if line.startswith("DJANGO_SECRET_KEY=")
    ]
    assert len(key[0]) > 60
    check = subprocess.run(
        [venv_python(project), "manage.py", "check"], cwd=project, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    # pip never removes a package: bootstrap takes the development tools out itself.
    assert installed(project) >= {"pytest", "aiohttp", "ruff", "django"}
    result = bootstrap(project, "--no-uv", "--server")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installing requirements.txt (server set)" in result.stdout
    assert not installed(project) & {"pytest", "pytest-django", "aiohttp", "ruff"}
    assert {"django", "uvicorn", "invoke"} <= installed(project)


def installed(project: Path) -> set[str]:
    """Distributions in the project's venv (uv's venvs have no pip to ask)."""
    code = "import importlib.metadata as m; print(*(d.metadata['Name'] for d in m.distributions()))"
    listed = subprocess.run([venv_python(project), "-c", code], capture_output=True, text=True, check=True)
    return {name.lower() for name in listed.stdout.split()}


def test_the_server_set_is_kept_until_told_otherwise(render_project, tmp_path):
    """`bootstrap.py --server` once; later plain runs (as `invoke deploy` makes) keep that set."""
    project = render_project(tmp_path / "server")
    result = bootstrap(project, "--server")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not installed(project) & {"pytest", "aiohttp", "ruff"}
    again = bootstrap(project)
    assert "dependencies already match requirements.txt" in again.stdout, again.stdout + again.stderr
    listed = subprocess.run(
        [venv_python(project), "-m", "invoke", "--list"], cwd=project, capture_output=True, text=True
    )
    assert listed.returncode == 0 and "deploy" in listed.stdout, listed.stderr  # tasks need no dev tools
    dev = bootstrap(project, "--dev")
    assert "installing requirements-dev.txt (development set)" in dev.stdout, dev.stdout + dev.stderr
    assert {"pytest", "aiohttp", "ruff"} <= installed(project)


def test_each_project_gets_its_own_secret_key(default_project, render_project, tmp_path):
    other = render_project(tmp_path / "other")
    (other / ".venv").symlink_to(default_project / ".venv", target_is_directory=True)
    assert bootstrap(other).returncode == 0
    keys = {(p / ".env").read_text() for p in (default_project, other)}
    assert len(keys) == 2


def test_bootstrap_without_network_fails_clearly(render_project, tmp_path):
    project = render_project(tmp_path / "offline")
    env = {
        **os.environ,
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
        "PIP_FIND_LINKS": "",
        "PIP_CONFIG_FILE": os.devnull,
    }
    result = subprocess.run(
        ["python3", "bootstrap.py", "--no-uv"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1
    assert "Could not install the dependencies: check the network or the proxy" in result.stderr
    assert not (project / ".venv" / ".requirements.sha256").exists(), "a failed install is not marked done"


def test_bootstrap_refuses_a_python_too_old_for_django(render_project, tmp_path):
    old = find_python("3.11")
    if not old:
        pytest.skip("needs a Python 3.11 interpreter to show the refusal")
    project = render_project(tmp_path / "d61", django_version="6.1")
    result = subprocess.run([old, "bootstrap.py"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 1
    assert "too old for Django 6.1: it needs 3.12 or newer" in result.stderr
    assert not (project / ".venv").exists()


def test_django_61_project_passes_its_own_tests(render_project, tmp_path):
    python = find_python("3.12") or find_python("3.13")
    if not python:
        pytest.skip("Django 6.1 needs Python 3.12 or newer; none on this machine")
    project = render_project(tmp_path / "d61", django_version="6.1", python_version="3.12")
    result = bootstrap(project, python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_project_tests(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_python_310_project_passes_its_own_tests(render_project, tmp_path):
    """The oldest Python we support runs an older asgiref (no ThreadSensitiveContext executor):
    iishost.asgi_handler must still give Django's responses there."""
    python = find_python("3.10")
    if not python:
        pytest.skip("needs a Python 3.10 interpreter")
    project = render_project(tmp_path / "py310", python_version="3.10")
    result = bootstrap(project, python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_project_tests(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_invoke_lock_reproduces_the_template_lock_and_pins_a_new_dependency(
    default_project, render_project, tmp_path
):
    """Same command as the maintainers' `invoke lock`: an unchanged requirements.in gives the
    file the template shipped (so `copier update` sees no difference), a new line gets pinned."""
    project = render_project(tmp_path / "lock")
    shipped = (project / "requirements.txt").read_text(encoding="utf-8")
    invoke = venv_python(default_project).parent / "invoke"
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    result = subprocess.run(
        [invoke, "lock"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "requirements.txt").read_text(encoding="utf-8") == shipped
    with (project / "requirements.in").open("a", encoding="utf-8") as requirements:
        requirements.write("six\n")
    result = subprocess.run(
        [invoke, "lock"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pinned = (project / "requirements.txt").read_text(encoding="utf-8")
    assert "\nsix==" in pinned and "django==" in pinned
    assert pinned.count("--hash=sha256:") > shipped.count("--hash=sha256:")


def test_background_jobs_project_passes_its_own_tests_and_plans_its_job(render_project, tmp_path):
    """background_jobs=true: the project's own suite (the jobs tests through the fake schtasks among
    them) passes, and a dry-run deploy plans the shipped clearsessions task and its folder grants."""
    project = render_project(tmp_path / "jobs & ü", background_jobs=True)
    result = bootstrap(project)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_project_tests(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    invoke = project / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "invoke"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    env["PATH"] = str(invoke.parent)  # no appcmd, icacls or schtasks: planning only
    plan = subprocess.run(
        [invoke, "deploy", "--json"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert plan.returncode == 0, plan.stderr
    steps = json.loads(plan.stdout)
    assert steps[-1]["argv"][1:4] == ["/Create", "/TN", "\\my_site\\clearsessions"]
    assert any(s["argv"][-1] == "NT AUTHORITY\\LOCAL SERVICE:(OI)(CI)M" for s in steps)
    # invoke.yaml's strings are overridable per server like every other setting.
    moved = subprocess.run(
        [invoke, "jobs.status"], cwd=project, capture_output=True, text=True, timeout=120,
        env={**env, "INVOKE_JOBS_SCHEDULED_CLEARSESSIONS_SCHEDULE": "every 10 minutes"},
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    assert "clearsessions, every 10 minutes" in moved.stdout


def test_windows_auth_project_passes_its_own_tests(render_project, tmp_path):
    """windows_auth=true, rendered and bootstrapped: its own suite (the sign-in middleware, resolver,
    IIS plans, fake-appcmd deploy and emulator tests among them) passes with the option on, and
    the emulator's end-to-end sign-in test ran rather than skipped."""
    project = render_project(tmp_path / "winauth", windows_auth=True)
    result = bootstrap(project)
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [venv_python(project), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    # Skip reasons of the emulator's project tests (no venv, a server database): none may apply.
    assert not [
        line for line in skipped if "needs the project's .venv" in line or "throw-away SQLite" in line
    ]
