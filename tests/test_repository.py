"""The repository keeps its promises to a new user: README commands, CI, locks."""

from __future__ import annotations

import re

from conftest import ROOT


def readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- {marker} -->\n```sh\n(.+?)\n```", text, re.DOTALL)
    assert block, f"README.md has no <!-- {marker} --> command block"
    return block.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    lines = (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
    assert lines[-1] == readme_command("tests")


def test_quickstart_copies_defaults_from_this_checkout():
    command = readme_command("quickstart")
    # An absolute source: the project records it for `copier update` ("." would mean the project).
    assert 'copier copy --trust --defaults --vcs-ref HEAD "$PWD" ' in command
    assert "bootstrap.py" in command
    assert command.endswith(".venv/bin/invoke serve"), "the quick start ends on the site as IIS runs it"


def test_a_lock_for_every_combination():
    import tasks

    expected = {f"{name}{kind}.txt" for name, _ in tasks.lock_names() for kind in ("", "-dev")}
    assert {p.name for p in (ROOT / "locks").glob("*.txt")} == expected
    for name in expected:
        assert "--hash=sha256:" in (ROOT / "locks" / name).read_text(encoding="utf-8"), name
