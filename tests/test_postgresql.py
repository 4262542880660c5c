"""A PostgreSQL project against a real PostgreSQL server (tests/pgserver.py): migrate, its own test
suite, and pages through `invoke serve` whose queries reach the server over persistent connections
that survive the server killing them."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from conftest import bootstrap, render, venv_python
from test_serve_e2e import request, serving, sign_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name == "nt", reason="starts PostgreSQL with Debian's initdb/pg_ctl and runuser"),
]
APP_NAME = "iishost-tests"  # application_name of the project's connections, to find them in pg_stat_activity
PASSWORD = "a long pass phrase 42"


@pytest.fixture(scope="module")
def pg_project(template_repo, tmp_path_factory, postgres_server):
    project = render(template_repo, tmp_path_factory.mktemp("pg") / "pg site", database="postgresql")
    result = bootstrap(project)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(project / ".env", "a", encoding="utf-8") as env:
        env.write(f"DATABASE_URL={postgres_server.url(application_name=APP_NAME)}\n")
    return project


def manage(project, *args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    return subprocess.run(
        [venv_python(project), "manage.py", *args],
        cwd=project, env={**clean, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def tables(server) -> set[str]:
    rows = server.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", "app")
    return {row[0] for row in rows}


def test_migrate_creates_the_tables_in_the_server(pg_project, postgres_server):
    assert "django_migrations" not in tables(postgres_server)
    result = manage(pg_project, "migrate", "--noinput")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {"django_migrations", "auth_user", "django_session"} <= tables(postgres_server)


def test_the_projects_own_tests_pass_against_the_server(pg_project, postgres_server):
    result = subprocess.run(
        [venv_python(pg_project), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reuse-db"],
        cwd=pg_project, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    # pytest-django made its test database in this server (--reuse-db keeps it to be seen).
    assert ["test_app"] in postgres_server.sql("SELECT datname FROM pg_database")


def backends(server) -> set[int]:
    """The project's connections open in the server now (their server process ids)."""
    rows = server.sql(f"SELECT pid FROM pg_stat_activity WHERE application_name = '{APP_NAME}'")
    return {int(row[0]) for row in rows}


def test_pages_use_the_server_over_reused_connections_and_survive_killed_ones(
    pg_project, postgres_server, tmp_path
):
    assert manage(pg_project, "migrate", "--noinput").returncode == 0
    # Already there when the module runs twice on one server: fine.
    user = ["--username", "boss", "--email", "b@example.com"]
    manage(pg_project, "createsuperuser", "--noinput", *user, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    with serving(pg_project, tmp_path) as port:
        session = sign_in(port, "boss", PASSWORD)  # the user read from PostgreSQL
        assert postgres_server.sql(f"SELECT 1 FROM django_session WHERE session_key = '{session}'", "app")

        def admin_pages(count=12):
            """Every one reads the session and the user from the server."""
            for _ in range(count):
                status, _, body = request(port, "/admin/", headers={"Cookie": f"sessionid={session}"})
                assert status == 200 and "Site administration" in body, (status, body[-2000:])

        admin_pages()
        first = backends(postgres_server)
        # Persistent: still open between requests, at most processesPerApplication x ASGI_THREADS.
        assert 1 <= len(first) <= 2 * 4, first
        admin_pages()
        assert backends(postgres_server) == first, "the same connections served the next requests"

        postgres_server.sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{APP_NAME}'"
        )
        deadline = time.monotonic() + 20
        while backends(postgres_server) & first:
            assert time.monotonic() < deadline, "the killed connections are still there"
            time.sleep(0.1)
        admin_pages()  # the health check finds each dead connection and opens a new one: no error
        after = backends(postgres_server)
        assert after and not after & first, (first, after)
