"""Fixtures that render the template the way users do, with Copier's own API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = "Scripts" if os.name == "nt" else "bin"


def git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def copy_working_tree(dest: Path) -> None:
    """Copy the repository's files as they are now (tracked and untracked, not ignored) to dest."""
    files = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def snapshot_template(dest: Path) -> Path:
    """A git repo holding the working tree as it is now (tracked and untracked, not ignored):
    Copier renders a git template from its commits, so uncommitted work would be missed."""
    copy_working_tree(dest)
    git("init", "-q", "-b", "main", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "snapshot", cwd=dest)
    return dest


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory) -> Path:
    return snapshot_template(tmp_path_factory.mktemp("template"))


def render(template: Path, dest: Path, **data) -> Path:
    copier.run_copy(str(template), dest, data=data, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True)
    return dest


@pytest.fixture
def render_project(template_repo, tmp_path):
    """render_project(**answers) -> the rendered project folder (defaults for the rest)."""

    def _render(dest: Path | None = None, **data) -> Path:
        return render(template_repo, dest or tmp_path / "project", **data)

    return _render


def find_python(version: str) -> str | None:
    """A CPython of `version` ("3.11") for version-specific checks: pyenv's, one on PATH, or the
    one running the tests; None if this machine has none."""
    if sys.version_info[:2] == tuple(map(int, version.split("."))):
        return sys.executable
    candidates = sorted(
        Path(os.path.expanduser("~/.pyenv/versions")).glob(f"{version}.*/bin/python{version}")
    )
    if candidates:
        return str(candidates[-1])
    found = shutil.which(f"python{version}")
    return found if found and "shims" not in found else None


def venv_python(project: Path) -> Path:
    return project / ".venv" / VENV_BIN / ("python.exe" if os.name == "nt" else "python")


def bootstrap(project: Path, *args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    """Run the project's bootstrap.py; uv comes from the maintainers' venv when not told --no-uv."""
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(
        [python, "bootstrap.py", *args], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="session")
def default_project(template_repo, tmp_path_factory) -> Path:
    """A project rendered with every default and bootstrapped: its venv also runs the settings of
    the other renders (same packages but for the database driver, which settings do not import)."""
    project = render(template_repo, tmp_path_factory.mktemp("default") / "my site")
    result = bootstrap(project)
    assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.fixture(scope="session")
def webconfig():
    """The generated project's own web.config reader (template/ is on pythonpath)."""
    from iishost.emulator import webconfig

    return webconfig


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on 127.0.0.1 for this test session (tests/pgserver.py)."""
    import pgserver

    bin_folder = pgserver.server_bin()
    if bin_folder is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb) here: on Debian `apt-get install postgresql` "
            "(.ci/run installs it); elsewhere put initdb's folder on PATH"
        )
    server = pgserver.start(bin_folder)
    try:
        yield server
    finally:
        server.stop()
