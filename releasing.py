"""Template releases: PEP 440 git tags, and CHANGELOG.md's "Unreleased" section turned into one.

`copier update` moves a project to the newest tag that parses as a PEP 440 version (others are
ignored), and compares versions to pick the `_migrations` to run; so every release is such a
tag, newer than the last, on a commit whose CHANGELOG says what changes in generated projects.
Used by `invoke release` (tasks.py) and by the tests that update from every release.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

from packaging.version import InvalidVersion, Version

CHANGELOG = "CHANGELOG.md"
UNRELEASED = re.compile(r"^## Unreleased[ \t]*\n", re.MULTILINE)
NEXT_SECTION = re.compile(r"^## ", re.MULTILINE)


class ReleaseError(Exception):
    """A release cannot be cut; the message says why and what to do."""


def git(root: Path, *args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if completed.returncode:
        raise ReleaseError(f"git {' '.join(args)} failed: {completed.stderr.strip()}")
    return completed.stdout


def pep440(tag: str) -> Version | None:
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def released_versions(root: Path) -> list[tuple[Version, str]]:
    """(version, tag) of every tag that is a PEP 440 version, oldest first."""
    tags = git(root, "tag", "--list").split()
    return sorted((version, tag) for tag in tags if (version := pep440(tag)) is not None)


def check_new_version(text: str, released: list[Version]) -> Version:
    version = pep440(text)
    if version is None or str(version) != text:
        hint = f' (written "{version}")' if version is not None else ""
        raise ReleaseError(f'"{text}" is not a normalized PEP 440 version{hint}; use e.g. 0.2.0')
    if released and version <= max(released):
        raise ReleaseError(f"{text} is not newer than the latest release, {max(released)}")
    return version


def release_changelog(text: str, version: str, day: date) -> str:
    """The changelog with its "Unreleased" notes under "## <version> - <day>", and a new, empty
    "Unreleased" section above them for the next release."""
    heading = UNRELEASED.search(text)
    if heading is None:
        raise ReleaseError(f'{CHANGELOG} has no "## Unreleased" section to release')
    following = NEXT_SECTION.search(text, heading.end())
    body = text[heading.end() : following.start() if following else len(text)]
    if not body.strip():
        raise ReleaseError(
            f'{CHANGELOG}\'s "Unreleased" section is empty: say what changes in generated projects first'
        )
    released = f"## Unreleased\n\n## {version} - {day.isoformat()}\n"
    return text[: heading.start()] + released + text[heading.end() :]


def cut(root: Path, version: str, day: date, run_tests: Callable[[], bool]) -> str:
    """Check, test, then commit the changelog and tag it; nothing changes unless all checks pass."""
    dirty = git(root, "status", "--porcelain")
    if dirty.strip():
        raise ReleaseError(f"the working tree is not clean; commit or stash first:\n{dirty.rstrip()}")
    check_new_version(version, [v for v, _ in released_versions(root)])
    changelog = root / CHANGELOG
    updated = release_changelog(changelog.read_text(encoding="utf-8"), version, day)
    if not run_tests():
        raise ReleaseError("the tests fail: nothing was changed, committed or tagged")
    changelog.write_text(updated, encoding="utf-8")
    git(root, "add", CHANGELOG)
    git(root, "commit", "-q", "-m", f"Release {version}")
    git(root, "tag", "-a", version, "-m", f"Release {version}")
    return version
