"""Every option combines with every other: a pairwise set of answer combinations (each pair of
values of any two questions appears in at least one row) renders, bootstraps and passes its own
tests, against real PostgreSQL and Redis servers where the row needs them.

All 3 x 2^7 = 384 combinations would take hours; interactions between options come in pairs
(a setting block that assumes another option, a middleware order, a Jinja branch inside another),
which is what pairwise covering catches at a fraction of the cost. The defaults row is
tests/test_generated_project.py's default project.
"""

from __future__ import annotations

import ctypes.util
import itertools
import os
import re
import subprocess
import sys

import pytest
from conftest import bootstrap, find_python, render, venv_python

QUESTIONS = {
    "database": ["sqlite", "postgresql", "mssql"],
    "static_files": ["iis", "app"],
    "windows_auth": [False, True],
    "websockets": [False, True],
    "background_jobs": [False, True],
    "https": [False, True],
    "django_version": ["5.2", "6.1"],
    "farm": [False, True],
}
# Found by a greedy pairwise search over QUESTIONS (8 rows; fewer cannot cover 6 two-valued
# questions beside a three-valued one); the first row is the defaults. The farm column was added by
# an exhaustive search over the same rows: of the two that keep every pair, this one puts a farm on
# PostgreSQL without Redis (the database cache on a real server) and one with Redis (WebSockets').
ROWS = [
    ("sqlite", "iis", False, False, False, False, "5.2", False),
    ("sqlite", "app", True, True, True, True, "6.1", False),
    ("postgresql", "iis", False, False, True, True, "6.1", True),
    ("postgresql", "app", True, True, False, False, "5.2", False),
    ("mssql", "iis", False, True, False, False, "6.1", True),
    ("mssql", "app", True, False, True, True, "5.2", False),
    ("sqlite", "iis", True, False, False, True, "5.2", True),
    ("sqlite", "app", False, False, True, False, "5.2", True),
]
ANSWERS = [dict(zip(QUESTIONS, row, strict=True)) for row in ROWS]


def row_id(answers: dict) -> str:
    on = [name for name, value in answers.items() if value is True]
    return "-".join([answers["database"], answers["static_files"], f"django{answers['django_version']}", *on])


def test_the_rows_cover_every_pair_of_answers():
    """The list above stays pairwise-complete when a question or a value is added."""
    missing = []
    for first, second in itertools.combinations(QUESTIONS, 2):
        for pair in itertools.product(QUESTIONS[first], QUESTIONS[second]):
            if not any((row[first], row[second]) == pair for row in ANSWERS):
                missing.append(f"{first}={pair[0]} with {second}={pair[1]}")
    assert not missing, "add a row to ROWS covering: " + "; ".join(missing)


def test_the_questions_are_copiers():
    """QUESTIONS names every choice and yes/no question of copier.yml that changes the project."""
    import yaml
    from conftest import ROOT

    text = (ROOT / "copier.yml").read_text(encoding="utf-8").replace("!include", "#")
    asked = {}
    for document in yaml.safe_load_all(text):
        for name, question in (document or {}).items():
            if isinstance(question, dict) and question.get("when") is not False:
                asked[name] = question
    offered = {}
    for name, question in asked.items():
        choices = question.get("choices", [False, True] if question.get("type") == "bool" else None)
        if choices is not None:
            offered[name] = sorted(map(str, choices.values() if isinstance(choices, dict) else choices))
    offered.pop("python_version")  # follows django_version in each row (the oldest it supports)
    assert offered == {name: sorted(map(str, values)) for name, values in QUESTIONS.items()}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    from redis_server import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def own_tests(project, env, *args):
    ours = ("DJANGO_", "DATABASE_URL", "REDIS_URL")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return subprocess.run(
        [venv_python(project), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project, env={**clean, **env}, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("answers", ANSWERS[1:], ids=row_id)
def test_each_row_renders_and_passes_its_own_tests(answers, template_repo, tmp_path, request):
    """SQL Server rows run their suite on SQLite (no SQL Server here) and their SQL Server settings
    tests (the ODBC string mssql-django builds) on an mssqlms:// URL, as tests/test_sql_server.py."""
    data = dict(answers)
    python = sys.executable
    if data["django_version"] == "6.1":
        python = find_python("3.12") or find_python("3.13")
        if not python:
            pytest.skip("Django 6.1 needs Python 3.12 or newer; none on this machine")
        data["python_version"] = "3.12"
    project = render(template_repo, tmp_path / "row project", **data)
    result = bootstrap(project, python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    env = {}
    if data["database"] == "postgresql":
        server = request.getfixturevalue("postgres_server")
        name = re.sub(r"\W", "_", row_id(answers))
        server.sql(f"CREATE DATABASE {name} OWNER app")
        env["DATABASE_URL"] = server.url(name)
    elif data["database"] == "mssql":
        env["DATABASE_URL"] = f"sqlite:///{(tmp_path / 'stand-in.sqlite3').as_posix()}"
    if data["websockets"]:  # a farm without WebSockets runs on the database cache (REDIS_URL unset)
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    result = own_tests(project, env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
    if data["database"] == "mssql":
        if os.name != "nt" and not ctypes.util.find_library("odbc"):
            pytest.skip("pyodbc needs the unixODBC driver manager (libodbc): apt-get install unixodbc")
        url = {"DATABASE_URL": "mssqlms://sql.example.com/row"}
        result = own_tests(project, url, "iishost/tests/test_database_settings.py")
        assert result.returncode == 0 and "skipped" not in result.stdout, result.stdout[-3000:]
