"""`invoke template-update`: bring the template's fixes into this project with `copier update`.

Copier renders the template twice, at the version recorded in .copier-answers.yml and at the new
one, and applies the template's change to your files as a 3-way merge. It reads your side of the
merge from git, so it needs a clean tree; what it cannot merge it leaves as conflict markers in
the file (or a `.rej` file), which this task lists with what to do. Then it runs the project's
tests, so a fix that breaks your code shows up before you commit it.

What this relies on is Copier's update (`Worker._apply_update`, copier/_main.py in 9.19,
copier/main.py in 9.4): it refuses a dirty tree itself; an unmergeable hunk goes through `git
merge-file -L "before updating" -L "last update" -L "after updating"` and the file is recorded as
unmerged (stages 1-3) in git's index; with `--conflict rej` the hunk stays in FILE.rej instead;
files only the old template version had are deleted.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from invoke import task
from invoke.exceptions import Exit

from .. import PROJECT_ROOT

ROOT = PROJECT_ROOT
ANSWERS_FILE = ".copier-answers.yml"
# The labels Copier writes around an inline conflict (git merge-file -L ...).
OURS_MARKER = "<<<<<<< before updating"
THEIRS_MARKER = ">>>>>>> after updating"
INSTALL_COPIER = (
    "Copier is not installed. Install it once for your user with `pipx install copier`\n"
    "(or `python -m pip install --user copier`), then run this task again."
)


@dataclass(frozen=True)
class Conflict:
    """A file Copier could not merge: `kind` is "markers" (inline) or "rej" (a .rej file)."""

    path: str
    kind: str

    def advice(self) -> str:
        if self.kind == "rej":
            target = self.path.removesuffix(".rej")
            return f"apply the rejected hunks in {self.path} to {target} by hand, then delete {self.path}"
        return (
            f"edit {self.path}: keep what you need between `{OURS_MARKER}` (yours), `=======` and"
            f" `{THEIRS_MARKER}` (the template's), delete the markers, then `git add {self.path}`"
        )


def git(root: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, encoding="utf-8", errors="replace"
    )
    if completed.returncode:
        raise Exit(f"git {' '.join(args)} failed in {root}:\n{completed.stderr.strip()}", code=1)
    return completed.stdout


def _paths(output: str) -> list[str]:
    return [path for path in output.split("\0") if path]


def uncommitted(root: Path) -> list[str]:
    """Changed, staged and untracked files (not ignored ones): what an update could mix with."""
    lines = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    return [line[3:] for line in lines if line.strip()]


def require_clean_tree(root: Path) -> None:
    if not (root / ANSWERS_FILE).is_file():
        raise Exit(f"{ANSWERS_FILE} is missing: Copier cannot tell which template this project came from.", 1)
    if git(root, "rev-parse", "--is-inside-work-tree").strip() != "true":
        raise Exit("copier update needs the project in git: `git init`, `git add -A`, `git commit`.", 1)
    changes = uncommitted(root)
    if changes:
        listed = "\n".join(f"  {name}" for name in changes)
        raise Exit(
            "Refusing to update: the git tree has uncommitted changes, and the update would mix with"
            f" them:\n{listed}\nCommit them (`git add -A` then `git commit`) or stash them"
            " (`git stash -u`), then run `invoke template-update` again.",
            code=1,
        )


def template_source(root: Path) -> str:
    """The template's location recorded in the answers file (`_src_path`)."""
    text = (root / ANSWERS_FILE).read_text(encoding="utf-8")
    match = re.search(r"^_src_path: *(.+?) *$", text, re.MULTILINE)
    return match.group(1).strip("'\"") if match else ""


def require_reachable_template(root: Path) -> None:
    """A project generated with `copier copy . DEST` records the template as ".": from the project
    that is the project itself, and Copier fails with "Unknown revision". Say how to fix it."""
    source = template_source(root)
    if not source:
        raise Exit(f"{ANSWERS_FILE} does not say where the template is (no _src_path).", 1)
    local = Path(source).expanduser()
    if "://" in source or source.startswith(("git@", "gh:", "gl:")) or local.is_absolute():
        return
    if not (root / local).is_dir() or (root / local).resolve() == root.resolve():
        raise Exit(
            f"{ANSWERS_FILE} records the template as {source!r}, a relative path that does not lead"
            " to it from this project. Replace that value of _src_path with the template's URL or"
            " absolute path (one line), commit, and run `invoke template-update` again.",
            code=1,
        )


def copier_argv(which=shutil.which, find_spec=importlib.util.find_spec) -> list[str] | None:
    """How to start Copier: the `copier` command on PATH, else this Python's copier module."""
    command = which("copier")
    if command:
        return [command]
    if find_spec("copier") is not None:
        return [sys.executable, "-m", "copier"]
    return None


def update_argv(copier: list[str], vcs_ref: str = "", defaults: bool = False) -> list[str]:
    """`--trust`: the template's migrations (copier.yml `_migrations`) run only when trusted."""
    argv = [*copier, "update", "--trust", "--conflict", "inline"]
    if vcs_ref:
        argv += ["--vcs-ref", vcs_ref]
    if defaults:
        argv.append("--defaults")
    return argv


def _has_markers(path: Path) -> bool:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    return any(line.rstrip() in (OURS_MARKER, THEIRS_MARKER) for line in lines)


def find_conflicts(root: Path) -> list[Conflict]:
    """What the update left unmerged: .rej files, and files with Copier's conflict markers
    (Copier also records those as unmerged in git's index; the markers are checked too so a file
    staged with markers still left in it is not missed)."""
    found: dict[str, Conflict] = {}
    untracked = _paths(git(root, "ls-files", "-z", "--others", "--exclude-standard"))
    ignored = _paths(git(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard"))
    for path in sorted(p for p in {*untracked, *ignored} if p.endswith(".rej")):
        found[path] = Conflict(path, "rej")
    unmerged = {line.split("\t", 1)[1] for line in git(root, "ls-files", "--unmerged").splitlines()}
    changed = _paths(git(root, "diff", "-z", "--name-only", "HEAD"))
    for path in sorted({*unmerged, *changed, *untracked}):
        if path not in found and (path in unmerged or _has_markers(root / path)):
            found[path] = Conflict(path, "markers")
    return sorted(found.values(), key=lambda c: c.path)


def removed_by_update(root: Path) -> list[str]:
    """Files the update deleted: the template removed or moved them. Copier deletes them even if
    you had changed them; your version is still in your last commit."""
    return _paths(git(root, "diff", "-z", "--name-only", "--diff-filter=D", "HEAD"))


def removal_notice(paths: list[str]) -> str:
    lines = ["The template removed or moved these files; if you had changed one, your version is in"]
    lines += ["your last commit (`git show HEAD:PATH`; `git checkout HEAD -- PATH` brings it back):"]
    return "\n".join([*lines, *(f"  {path}" for path in paths)])


def conflict_report(conflicts: list[Conflict]) -> str:
    lines = [f"The update left {len(conflicts)} conflict(s) for you to resolve:"]
    lines += [f"  {c.path}: {c.advice()}" for c in conflicts]
    lines += [
        "Then run `invoke test` and commit. To abandon the update instead:"
        " `git reset --hard` and `git clean -fd` (the tree was clean before it).",
    ]
    return "\n".join(lines)


@task(
    help={
        "vcs_ref": "template version (git tag) to update to; default: the latest release",
        "defaults": "keep every recorded answer and take defaults for new questions without asking",
    }
)
def template_update(c, vcs_ref="", defaults=False):
    """Update this project from its Copier template, list conflicts, then run the tests."""
    require_clean_tree(ROOT)
    require_reachable_template(ROOT)
    copier = copier_argv()
    if copier is None:
        raise Exit(INSTALL_COPIER, code=1)
    argv = update_argv(copier, vcs_ref, defaults)
    print("+", subprocess.list2cmdline(argv), flush=True)
    if subprocess.run(argv, cwd=ROOT).returncode:
        raise Exit("copier update failed (its message is above); nothing was committed.", code=1)
    removed = removed_by_update(ROOT)
    if removed:
        print(removal_notice(removed), flush=True)
    conflicts = find_conflicts(ROOT)
    if conflicts:
        raise Exit(conflict_report(conflicts), code=1)
    changed = _paths(git(ROOT, "diff", "-z", "--name-only", "HEAD"))
    if "requirements.txt" in changed:
        print("requirements.txt changed: run `python bootstrap.py` again before deploying.", flush=True)
    print("Updated without conflicts. Running the tests:", flush=True)
    if subprocess.run([sys.executable, "-m", "pytest"], cwd=ROOT).returncode:
        raise Exit("The tests fail after the update: fix them (or `git reset --hard`) before committing.", 1)
    print("Tests pass. Review the changes (`git status`, `git diff`) and commit them.", flush=True)
