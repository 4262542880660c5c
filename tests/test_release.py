"""`invoke release`: releases are PEP 440 tags whose CHANGELOG says what changes in projects."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from conftest import ROOT, git, snapshot_template
from packaging.version import Version

import releasing
from releasing import ReleaseError

DAY = date(2026, 11, 25)
CHANGELOG = """# Changelog

Intro.

## Unreleased

### In generated projects

- A fix.

## 0.1.0 - 2026-01-02

- The start.
"""


def test_unreleased_notes_become_the_release():
    text = releasing.release_changelog(CHANGELOG, "0.2.0", DAY)
    assert text == CHANGELOG.replace("## Unreleased\n", "## Unreleased\n\n## 0.2.0 - 2026-11-25\n"), (
        "a fresh Unreleased section on top, the notes dated under the version"
    )
    with pytest.raises(ReleaseError, match="section is empty"):
        releasing.release_changelog(text, "0.3.0", DAY)


def test_a_changelog_without_unreleased_is_refused():
    with pytest.raises(ReleaseError, match='no "## Unreleased" section'):
        releasing.release_changelog("# Changelog\n", "0.1.0", DAY)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("v1.0", "not a normalized PEP 440 version"),
        ("1.0-rc1", "not a normalized PEP 440 version"),
        ("banana", "not a normalized PEP 440 version"),
        ("0.1.0", "not newer than the latest release, 0.1.0"),
        ("0.0.9", "not newer than the latest release"),
    ],
)
def test_bad_versions_are_refused(version, message):
    with pytest.raises(ReleaseError, match=message):
        releasing.check_new_version(version, [Version("0.1.0")])


def test_newer_versions_are_accepted():
    assert releasing.check_new_version("0.2.0rc1", [Version("0.1.0")]) == Version("0.2.0rc1")
    assert releasing.check_new_version("0.1.0", []) == Version("0.1.0")


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    for variable in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(variable, "t")
    for variable in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(variable, "t@example.com")
    return snapshot_template(tmp_path)


def test_cut_tests_then_commits_and_tags(repo):
    ran = []
    releasing.cut(repo, "0.1.0", DAY, run_tests=lambda: ran.append(True) or True)

    assert ran == [True]
    assert releasing.released_versions(repo) == [(Version("0.1.0"), "0.1.0")]
    assert git("status", "--porcelain", cwd=repo) == ""
    assert git("log", "-1", "--format=%s", "0.1.0", cwd=repo).strip() == "Release 0.1.0"
    assert "## Unreleased\n\n## 0.1.0 - 2026-11-25\n" in (repo / "CHANGELOG.md").read_text(encoding="utf-8")
    with pytest.raises(ReleaseError, match="section is empty"):
        releasing.cut(repo, "0.2.0", DAY, run_tests=lambda: True)


def test_failing_tests_change_nothing(repo):
    head = git("rev-parse", "HEAD", cwd=repo)
    with pytest.raises(ReleaseError, match="the tests fail: nothing was changed"):
        releasing.cut(repo, "0.1.0", DAY, run_tests=lambda: False)
    assert git("rev-parse", "HEAD", cwd=repo) == head
    assert git("status", "--porcelain", cwd=repo) == "" and releasing.released_versions(repo) == []


def test_a_dirty_tree_is_refused_before_testing(repo):
    (repo / "README.md").write_text("changed\n", encoding="utf-8")
    with pytest.raises(ReleaseError, match="working tree is not clean"):
        releasing.cut(repo, "0.1.0", DAY, run_tests=pytest.fail)


def test_only_pep440_tags_count_as_releases(repo):
    for tag in ["0.1.0", "not-a-version", "0.10.0", "0.2.0"]:
        git("tag", tag, cwd=repo)
    assert [tag for _, tag in releasing.released_versions(repo)] == ["0.1.0", "0.2.0", "0.10.0"]


def test_the_changelog_is_ready_for_the_first_release():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert releasing.release_changelog(text, "0.1.0", DAY) != text
    assert "### Manual steps" in text
