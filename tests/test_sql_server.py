"""A SQL Server project without a server: its own database-settings tests run (the ODBC string
mssql-django builds, the missing-driver error), and none of them skips where pyodbc can load."""

from __future__ import annotations

import ctypes.util
import os
import subprocess

import pytest
from conftest import bootstrap, venv_python

pytestmark = pytest.mark.slow


def test_sql_server_projects_database_tests(render_project, tmp_path):
    if os.name != "nt" and not ctypes.util.find_library("odbc"):
        pytest.skip("pyodbc needs the unixODBC driver manager (libodbc): apt-get install unixodbc")
    project = render_project(tmp_path / "sql", database="mssql")
    result = bootstrap(project)
    assert result.returncode == 0, result.stdout + result.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    result = subprocess.run(
        [venv_python(project), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "iishost/tests/test_database_settings.py"],
        cwd=project, env={**env, "DATABASE_URL": "mssqlms://sql.example.com/sql"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "7 passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-3000:]
