"""SQLite under several processes (web.config's processesPerApplication): two processes writing to
one database at once both succeed, without "database is locked" (settings.py: WAL, IMMEDIATE
transactions, a busy timeout)."""

import json
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
        reason="this project's database is not SQLite",
    ),
]
SECONDS = 4

# What a view that reads, then writes, does; each process runs it in a loop for SECONDS. Without
# IMMEDIATE, the read takes a shared lock that cannot become a write lock while the other process
# writes: SQLite answers "database is locked" at once, whatever the timeout.
WRITER = """
import json, os, sys, time
import django
django.setup()
from django.db import OperationalError, connection, transaction

start = float(os.environ["WRITE_START"])
time.sleep(max(0.0, start - time.time()))
writes, errors = 0, []
while time.time() < start + float(os.environ["WRITE_SECONDS"]):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM hits")
            cursor.execute("INSERT INTO hits (writer) VALUES (%s)", [sys.argv[1]])
            time.sleep(0.001)  # some work inside the transaction
        writes += 1
    except OperationalError as exc:
        errors.append(str(exc))
    time.sleep(0.002)  # between requests: a process that writes back to back starves the other
print(json.dumps({"writes": writes, "errors": len(errors), "first_errors": sorted(set(errors))[:3]}))
"""


def test_two_processes_write_at_once_without_database_is_locked(tmp_path, production_env, run_python):
    database = tmp_path / "db.sqlite3"
    with sqlite3.connect(database) as db:
        # In WAL already, as `invoke deploy`'s migrate leaves it before IIS starts the processes:
        # two first connections switching the journal mode at once race for an exclusive lock.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE hits (id INTEGER PRIMARY KEY, writer TEXT NOT NULL)")
    env = {
        **production_env,
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "DATABASE_URL": f"sqlite:///{database.as_posix()}",
        "WRITE_START": str(time.time() + 3),  # both start together, once Django is loaded
        "WRITE_SECONDS": str(SECONDS),
    }
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda name: run_python("-c", WRITER, name, env=env), ["one", "two"]))
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    results = [json.loads(run.stdout.strip().splitlines()[-1]) for run in runs]
    assert all(result["errors"] == 0 for result in results), results
    assert all(result["writes"] > 10 for result in results), results
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM hits").fetchone()[0] == sum(r["writes"] for r in results)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
