"""Django's own test suite judges iishost's ASGI handler: the same failures as Django's handler.

For each Django line, a project is rendered and bootstrapped, the Django sdist matching its lock
is downloaded (cached), and Django's runtests.py runs the apps below four ways through
tests/django_suite/boot.py: stock, with ASGIHandler swapped for iishost's, and with the test
clients' requests routed over ASGI to each handler. Failures that both handlers share (running as
root, tests that expect the test client's direct call) do not count; a test failing on one side
only is run again on both sides, so a one-off timing failure is not taken for a difference.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import bootstrap, find_python, venv_python

APPS = [
    "asgi",
    "handlers",
    "middleware",
    "middleware_exceptions",
    "requests_tests",
    "signals",
    "csrf_tests",
    "sessions_tests",
    "messages_tests",
    "test_client",
    "test_client_regress",
    "async",
    "view_tests",
    "urlpatterns_reverse",
    "file_uploads",
    "responses",
    "httpwrappers",
]
BOOT = Path(__file__).parent / "django_suite" / "boot.py"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "iishost-template" / "django"
FAILED = re.compile(r"^(?:FAIL|ERROR): \S+ \((\S+)\)", re.MULTILINE)


def django_tests(version: str) -> Path:
    """Django's tests/ folder from the sdist of `version`, downloaded once."""
    folder = CACHE / f"django-{version}"
    if not (folder / "tests" / "runtests.py").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             "--ignore-requires-python", f"django=={version}", "-d", CACHE],
            check=True, capture_output=True,
        )  # fmt: skip
        (sdist,) = CACHE.glob(f"[dD]jango-{version}.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(CACHE, filter="data")
    return folder / "tests"


def failures(project: Path, tests: Path, mode: str, labels: list[str]) -> set[str]:
    """Ids of the tests that fail or error in one runtests.py run."""
    result = subprocess.run(
        [venv_python(project), BOOT, mode, "--parallel", "1", "--noinput", *labels],
        cwd=tests, env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if not re.search(r"^Ran \d+ tests? in", result.stderr, re.MULTILINE):
        raise AssertionError(f"runtests.py ({mode}) did not run:\n{result.stderr[-3000:]}")
    return set(FAILED.findall(result.stderr))


def divergence(project: Path, tests: Path, reference: str, subject: str) -> dict[str, set[str]]:
    """Tests whose outcome differs between two modes, confirmed by running them again."""
    first = {mode: failures(project, tests, mode, APPS) for mode in (reference, subject)}
    differing = sorted(first[reference] ^ first[subject])
    if not differing:
        return {}
    again = {mode: failures(project, tests, mode, differing) for mode in (reference, subject)}
    return {
        f"fail only with {subject}": (first[subject] & again[subject]) - first[reference] - again[reference],
        f"fail only with {reference}": (first[reference] & again[reference])
        - first[subject]
        - again[subject],
    }


@pytest.mark.slow
@pytest.mark.parametrize(("django_line", "python_version"), [("5.2", "3.11"), ("6.1", "3.12")])
def test_djangos_suite_fails_the_same_tests_with_iishosts_handler(
    django_line, python_version, render_project, tmp_path
):
    python = find_python(python_version)
    if python is None:
        pytest.skip(f"Django {django_line} is tested here on Python {python_version}; none on this machine")
    project = render_project(tmp_path / "project", django_version=django_line, python_version=python_version)
    result = bootstrap(project, python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    version = subprocess.run(
        [venv_python(project), "-c", "import django; print(django.__version__)"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert version.startswith(django_line)
    tests = django_tests(version)

    swapped = divergence(project, tests, "stock", "swap")
    routed = divergence(project, tests, "routed-stock", "routed-fast")
    assert not any(swapped.values()) and not any(routed.values()), (swapped, routed)
