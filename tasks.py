"""Maintainer tasks for the template itself (not for generated projects): `invoke --list`."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from invoke import task
from invoke.exceptions import Exit

ROOT = Path(__file__).resolve().parent
LOCKS = ROOT / "locks"

# Every combination of answers that changes requirements.in gets its own lock file.
LOCK_MATRIX = {
    "django_version": {"5.2": "3.10", "6.1": "3.12"},  # Django line -> oldest Python it supports
    "database": ["sqlite", "postgresql", "mssql"],
    "static_files": ["iis", "app"],
}


def _run(*argv: str | Path, cwd: Path = ROOT) -> None:
    print("+", " ".join(str(a) for a in argv), flush=True)
    subprocess.run([str(a) for a in argv], check=True, cwd=cwd)


@task(help={"k": "only tests matching this pytest -k expression", "fast": "skip the slow tests"})
def test(c, k="", fast=False):
    """Run the whole test suite (what .ci/run runs); pytest's "no tests ran" fails it too."""
    argv = [sys.executable, "-m", "pytest", "-n", "auto", "--durations=15"]
    if k:
        argv += ["-k", k]
    if fast:
        argv += ["-m", "not slow"]
    _run(*argv)


@task
def lint(c):
    """ruff check and format check over the template repository and the template's Python."""
    _run(sys.executable, "-m", "ruff", "check", ".")
    _run(sys.executable, "-m", "ruff", "format", "--check", ".")


@task(help={"only": "regenerate just this lock, e.g. django5.2-sqlite-iis"})
def lock(c, only=""):
    """Pin requirements.in of every answer combination into locks/ (uv, universal, with hashes)."""
    import copier

    LOCKS.mkdir(exist_ok=True)
    django_lines = LOCK_MATRIX["django_version"]
    for django, db, static in itertools.product(
        django_lines, LOCK_MATRIX["database"], LOCK_MATRIX["static_files"]
    ):
        name = f"django{django}-{db}-{static}"
        if only and name != only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / "project"
            data = {"django_version": django, "database": db, "static_files": static}
            if django_lines[django] >= "3.12":
                data["python_version"] = django_lines[django]
            # The lock file is not there yet for a new combination: render with an empty one.
            target = LOCKS / f"{name}.txt"
            if not target.exists():
                target.write_text("")
            copier.run_copy(
                str(ROOT), dest, data=data, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True
            )
            _run(
                sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--universal",
                "--python-version", django_lines[django], "--generate-hashes",
                "--custom-compile-command", "invoke lock",
                "requirements.in", "-o", target, cwd=dest,
            )  # fmt: skip


@task(
    help={
        "seconds": "duration of each wrk run (default 10)",
        "runs": "runs per measurement; the median is reported (default 3)",
        "connections": "wrk connections (default 32)",
    }
)
def bench(c, seconds=10, runs=3, connections=32):
    """Benchmark a generated project against WSGI and the usual recipe; table to benchmarks/results/."""
    from benchmarks.run import main

    main(seconds=int(seconds), runs=int(runs), connections=int(connections))


@task(help={"version": "the new release, a PEP 440 version newer than the last tag, e.g. 0.2.0"})
def release(c, version):
    """Cut a template release: clean tree, tests pass, CHANGELOG "Unreleased" dated, commit, tag."""
    import releasing

    def tests_pass() -> bool:
        return subprocess.run([sys.executable, "-m", "pytest", "-n", "auto"], cwd=ROOT).returncode == 0

    try:
        releasing.cut(ROOT, version, date.today(), run_tests=tests_pass)
    except releasing.ReleaseError as error:
        raise Exit(f"Cannot release {version}: {error}", code=1) from None
    print(f"Tagged {version}. Publish it: git push origin HEAD {version}")
