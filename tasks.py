"""Maintainer tasks for the template itself (not for generated projects): `invoke --list`."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from invoke import task
from invoke.exceptions import Exit

ROOT = Path(__file__).resolve().parent
LOCKS_DIR = ROOT / "locks"

# Every combination of answers that changes requirements.in gets its own pair of lock files:
# locks/<name>.txt (the server's requirements.txt) and locks/<name>-dev.txt (requirements-dev.txt).
LOCK_MATRIX = {
    "django_version": ["5.2", "6.1"],
    "database": ["sqlite", "postgresql", "mssql"],
    "static_files": ["iis", "app"],
    "windows_auth": [False, True],
    "websockets": [False, True],
    "farm": [False, True],
}


def lock_names() -> list[tuple[str, dict]]:
    """Each combination's lock name, as copier.yml's lock_name computes it."""
    names = []
    for values in itertools.product(*LOCK_MATRIX.values()):
        data = dict(zip(LOCK_MATRIX, values, strict=True))
        name = f"django{data['django_version']}-{data['database']}-{data['static_files']}"
        name += "-winauth" * data["windows_auth"] + "-ws" * data["websockets"] + "-farm" * data["farm"]
        names.append((name, data))
    return names


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
    """ruff check and format check over the template repository and the template's Python; actionlint
    over the workflows when it is installed (`pip install --group workflows`)."""
    _run(sys.executable, "-m", "ruff", "check", ".")
    _run(sys.executable, "-m", "ruff", "format", "--check", ".")
    venv_bin = str(Path(sys.executable).parent)
    actionlint = shutil.which("actionlint", path=venv_bin) or shutil.which("actionlint")
    if actionlint:
        _run(actionlint, ".github/workflows/windows-iis.yml")
        _run(actionlint, ".github/workflows/windows-iis.yml", cwd=ROOT / "template")
    else:
        print("actionlint is not installed (python -m pip install --group workflows): workflows not linted")


@task(
    help={
        "only": "regenerate just this lock, e.g. django5.2-sqlite-iis",
        "missing": "only the combinations that have no lock yet (a new question's)",
    }
)
def lock(c, only="", missing=False):
    """Pin each answer combination into locks/ with the generated project's own `invoke lock` command."""
    import copier
    import yaml

    sys.path.insert(0, str(ROOT / "template"))
    from iishost.upkeep.lock import LOCKS, compile_argv

    LOCKS_DIR.mkdir(exist_ok=True)
    for name, data in lock_names():
        if only and name != only or missing and (LOCKS_DIR / f"{name}.txt").exists():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / "project"
            # A new combination has no lock yet: render with empty ones.
            targets = {
                "requirements.txt": LOCKS_DIR / f"{name}.txt",
                "requirements-dev.txt": LOCKS_DIR / f"{name}-dev.txt",
            }
            for target in targets.values():
                if not target.exists():
                    target.write_text("")
            answers = {**data, "python_version": "3.12"}
            copier.run_copy(
                str(ROOT), dest, data=answers, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True
            )
            oldest = yaml.safe_load((dest / "invoke.yaml").read_text(encoding="utf-8"))["python"]["oldest"]
            for source, target in LOCKS.items():  # the server's lock first: the dev one is held to it
                _run(*compile_argv([sys.executable, "-m", "uv"], source, target, oldest), cwd=dest)
                targets[target].write_text((dest / target).read_text(encoding="utf-8"), encoding="utf-8")


@task(
    help={
        "seconds": "duration of each wrk run (default 10)",
        "runs": "runs per measurement; each figure is their median (default 3)",
        "connections": "wrk connections per configuration, split over N processes (default 32)",
    }
)
def bench(c, seconds=10, runs=3, connections=32):
    """Per process (pinned with taskset) and at web.config's process count: the project under uvicorn
    (stock and fast handler), gunicorn sync, waitress, the usual recipe; table to benchmarks/results/."""
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
