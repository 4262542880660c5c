"""The database settings settings.py derives from the environment (iishost/docs/intranet.md,
"Databases"): persistent connections with health checks, and for SQL Server the ODBC connection
string mssql-django itself builds from DATABASE_URL (no server needed: pyodbc.connect is stopped)."""

import json
import os

import pytest
from django.conf import settings

ENGINE = settings.DATABASES["default"]["ENGINE"]
# A URL of this project's kind, for settings that only need one to load.
URL = {
    "django.db.backends.postgresql": "postgres://app:secret@db.example.com:5432/app",
    "mssql": "mssqlms://app:secret@sql.example.com:1433/app",
}.get(ENGINE, "sqlite:///data/db.sqlite3")

SHOW = (
    "import json, django; django.setup(); from django.db import connection; "
    "keys = ('ENGINE', 'CONN_MAX_AGE', 'CONN_HEALTH_CHECKS'); "
    "print(json.dumps({k: connection.settings_dict[k] for k in keys}))"
)


@pytest.fixture
def show(production_env, run_python):
    def run(**env):
        env = {
            **production_env,
            "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
            "DATABASE_URL": URL,
            **env,
        }
        result = run_python("-c", SHOW, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run


def test_connections_persist_with_health_checks_under_the_fast_handler(show):
    shown = show(ASGI_FAST="1")
    assert (shown["CONN_MAX_AGE"], shown["CONN_HEALTH_CHECKS"]) == (600, True)


def test_djangos_own_handler_closes_them_after_each_request(show):
    """Its thread per request would leave a connection behind per request (Django's docs: disable
    persistent connections under ASGI)."""
    assert show(ASGI_FAST="0")["CONN_MAX_AGE"] == 0


def test_conn_max_age_from_the_environment(show):
    assert show(DJANGO_CONN_MAX_AGE="30")["CONN_MAX_AGE"] == 30
    assert show(ASGI_FAST="0", DJANGO_CONN_MAX_AGE="30")["CONN_MAX_AGE"] == 30


# mssql-django's own DatabaseWrapper.get_new_connection builds the string; pyodbc.connect records
# it and stops there.
CAPTURE = """
import django
django.setup()
import mssql.base
from django.db import connection

seen = []

def connect(connstr, **kwargs):
    seen.append(connstr)
    raise mssql.base.Database.InterfaceError("stopped before connecting")

mssql.base.Database.connect = connect
try:
    connection.ensure_connection()
except Exception:
    pass
print(seen[0])
"""

needs_mssql = pytest.mark.skipif(ENGINE != "mssql", reason="this project's database is not SQL Server")


def odbc_string(production_env, run_python, url):
    env = {**production_env, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
    env["DATABASE_URL"] = url
    result = run_python("-c", CAPTURE, env=env)
    if "libodbc" in result.stderr:
        pytest.skip("pyodbc needs the unixODBC driver manager here: apt-get install unixodbc")
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@needs_mssql
def test_sql_server_login_reaches_driver_18(production_env, run_python):
    connstr = odbc_string(production_env, run_python, "mssqlms://app:p%40ss%3Bx@sql.example.com:1433/shop")
    parts = connstr.split(";")
    assert parts[0] == "DRIVER=ODBC Driver 18 for SQL Server"
    assert "SERVER=sql.example.com,1433" in parts and "UID=app" in parts and "DATABASE=shop" in parts
    assert "PWD={p@ss;x}" in connstr, "a password with ; is braced, not split"
    assert "Trusted_Connection" not in connstr


@needs_mssql
def test_sql_server_without_a_user_signs_in_as_the_app_pool(production_env, run_python):
    """No user in the URL: Windows authentication (Trusted_Connection) as the process's identity."""
    url = "mssqlms://sql.example.com/shop?extra_params=TrustServerCertificate%3Dno%3BApplicationIntent%3DReadWrite"
    connstr = odbc_string(production_env, run_python, url)
    assert "Trusted_Connection=yes" in connstr.split(";")
    assert "UID=" not in connstr and "PWD=" not in connstr
    assert connstr.endswith(";TrustServerCertificate=no;ApplicationIntent=ReadWrite")


@needs_mssql
def test_a_missing_driver_is_named_in_the_error(production_env, run_python):
    """Where Driver 18 is absent, the real pyodbc says which driver it could not load."""
    code = (
        "import django; django.setup(); import pyodbc; from django.db import connection\n"
        "if 'ODBC Driver 18 for SQL Server' in pyodbc.drivers(): print('installed'); raise SystemExit\n"
        "try:\n    connection.ensure_connection()\nexcept Exception as exc:\n    print(exc)"
    )
    env = {**production_env, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
    result = run_python("-c", code, env={**env, "DATABASE_URL": "mssqlms://app:x@127.0.0.1:9/shop"})
    if "libodbc" in result.stderr:
        pytest.skip("pyodbc needs the unixODBC driver manager here: apt-get install unixodbc")
    if result.stdout.strip() == "installed":
        pytest.skip("ODBC Driver 18 is installed here")
    # unixODBC names the driver it could not load; Windows' driver manager answers IM002.
    said = result.stdout
    assert "ODBC Driver 18 for SQL Server" in said or "IM002" in said, said + result.stderr[-2000:]


@needs_mssql
def test_the_retired_mssql_scheme_is_refused_with_the_right_one(production_env, run_python):
    env = {**production_env, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
    result = run_python(
        "-c", "import django; django.setup()", env={**env, "DATABASE_URL": "mssql://sql/shop"}
    )
    assert result.returncode != 0 and "write mssqlms://" in result.stderr, result.stderr[-2000:]
