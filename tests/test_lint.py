"""Every render passes its own lint: the ruff configuration it ships, with the ruff its lock pins.

Jinja residue, odd blank lines, long lines and unused imports in rendered files show up here,
not in the user's first `ruff check`.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from test_render import CASES


def ruff(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_maintainers_ruff_is_the_one_projects_pin(render_project):
    """Lint results differ between ruff releases: check renders with the version they will run."""
    pinned = re.search(
        r"^ruff==(\S+)", (render_project() / "requirements-dev.txt").read_text(encoding="utf-8"), re.M
    )
    assert pinned, "requirements-dev.txt pins no ruff"
    version = ruff("--version", cwd=".").stdout.split()[-1]
    assert version == pinned.group(1), (
        f"the template's tests run ruff {version}, generated projects pin {pinned.group(1)}: "
        f"set `ruff=={pinned.group(1)}` in pyproject.toml's dev group"
    )


@pytest.mark.parametrize("name", list(CASES))
def test_render_passes_ruff_check_and_format(render_project, tmp_path, name):
    project = render_project(tmp_path / "lint", **CASES[name])
    checked = ruff("check", "--no-cache", "--output-format", "concise", ".", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff("format", "--no-cache", "--check", "--diff", ".", cwd=project)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
