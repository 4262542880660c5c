"""`copier update` brings template fixes into projects that users have changed.

Each test builds a template repository in a temporary folder from the working tree (release A,
tag 1.0.0), changes it the way a fix release would (release B, tag 1.1.0: a fix inside a
template-owned file, a new file, a renamed question with its migration), renders a project at A,
edits it the way users do, and updates it, through Copier's API or the project's own
`invoke template-update`. No network: every repository is local.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml
from conftest import ROOT, copy_working_tree, git, snapshot_template, venv_python

import releasing

A, B = "1.0.0", "1.1.0"
# Release B's fixes in web.config (template-owned): a wrong timeout and a missing header.
# (the attribute line; the comment above it names the old value too).
TIMEOUT_A, TIMEOUT_B = 'requestTimeout="00:02:00"\n', 'requestTimeout="00:05:00"\n'
HEADER_ANCHOR = '<remove name="X-Powered-By" />'
HEADER_B = '<add name="X-Content-Type-Options" value="nosniff" />'
NEW_FILE_B = "docs/operations.md"
# Release B renames a question; its migration carries the answer over.
OLD_QUESTION, NEW_QUESTION = "iis_app_pool", "app_pool_name"
MIGRATION_B = f"""_migrations:
  - version: "{B}"
    when: "{{{{ _stage == 'before' }}}}"
    command: ["{{{{ _copier_python }}}}", "{{{{ _copier_conf.src_path }}}}/migrations/rename_answer.py",
              "{{{{ _copier_conf.answers_file }}}}", "{OLD_QUESTION}", "{NEW_QUESTION}"]
"""


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: expected one {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def commit_all(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=repo)


def make_release_b(template: Path) -> None:
    """The template's next release: a fix, a new file, a renamed question and its migration."""
    web_config = template / "template/web.config.jinja"
    replace_once(web_config, TIMEOUT_A, TIMEOUT_B)
    replace_once(web_config, HEADER_ANCHOR, f"{HEADER_ANCHOR}\n        {HEADER_B}")
    (template / "template" / NEW_FILE_B).parent.mkdir(parents=True, exist_ok=True)
    (template / "template" / NEW_FILE_B).write_text("# Operations\n\nNew in release B.\n", encoding="utf-8")
    for path in [template / "copier.yml", *(template / "template").rglob("*")]:
        if path.is_file() and OLD_QUESTION in path.read_text(encoding="utf-8", errors="ignore"):
            path.write_text(path.read_text(encoding="utf-8").replace(OLD_QUESTION, NEW_QUESTION), "utf-8")
    replace_once(template / "copier.yml", "_migrations: []\n", MIGRATION_B)
    (template / "template/media/.gitkeep").unlink()  # a file the template drops
    # A file that belongs to the user after the first copy (_skip_if_exists), shipped from B on.
    (template / "template/invoke.local.yaml").write_text("iis:\n  http_port: 80\n", encoding="utf-8")
    commit_all(template, "Release B")
    git("tag", B, cwd=template)


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> Path:
    """A template repository with release A (the working tree) and release B (A + fixes)."""
    template = snapshot_template(tmp_path_factory.mktemp("releases"))
    git("tag", A, cwd=template)
    make_release_b(template)
    return template


@pytest.fixture(scope="module")
def updater():
    from iishost.upkeep import template_update

    return template_update


def render_at(template: Path, ref: str, dest: Path, **data) -> Path:
    """Render like a user (`copier copy --vcs-ref ref`) and commit, as an update requires."""
    copier.run_copy(str(template), dest, data=data, defaults=True, unsafe=True, vcs_ref=ref, quiet=True)
    git("init", "-q", "-b", "main", cwd=dest)
    commit_all(dest, "Generated from the template")
    return dest


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))


def user_edits(project: Path) -> None:
    """What a team does after generating: an app, a changed setting, a web.config rule, a file."""
    settings = project / "my_site/settings.py"
    last_app = '    "django.contrib.staticfiles",\n'
    replace_once(settings, last_app, f'{last_app}    "news",\n')
    replace_once(settings, 'TIME_ZONE = "UTC"', 'TIME_ZONE = "Europe/Paris"')
    replace_once(project / "web.config", '<add segment="__pycache__" />', '<add segment="__pycache__" />\n'
                 '          <add segment="private" />')  # fmt: skip
    (project / "news").mkdir()
    (project / "news/__init__.py").write_text('"""Our news app."""\n', encoding="utf-8")
    commit_all(project, "Our work")
    # Git-ignored, so the tree stays clean: a per-server override.
    (project / "invoke.local.yaml").write_text("iis:\n  http_port: 8080\n", encoding="utf-8")


def unmerged(project: Path) -> list[str]:
    return sorted({line.split("\t")[1] for line in git("ls-files", "--unmerged", cwd=project).splitlines()})


def run_task(python: Path | str, project: Path, *args: str, path_dirs: list[str] | None = None):
    """`invoke template-update ...` in the project, with the maintainers' copier on PATH."""
    path = os.pathsep.join([*(path_dirs or [str(Path(sys.executable).parent)]), os.environ["PATH"]])
    env = {**os.environ, "PATH": path}
    return subprocess.run(
        [str(python), "-m", "invoke", "template-update", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_update_brings_fixes_and_keeps_user_edits(releases, updater, tmp_path):
    project = render_at(releases, A, tmp_path / "project", **{OLD_QUESTION: "Custom Pool"})
    user_edits(project)

    copier.run_update(project, defaults=True, overwrite=True, unsafe=True, vcs_ref=B, quiet=True)

    web_config = (project / "web.config").read_text(encoding="utf-8")
    assert TIMEOUT_B in web_config and HEADER_B in web_config, "the template's fixes arrived"
    assert (project / NEW_FILE_B).is_file(), "the template's new file arrived"
    settings = (project / "my_site/settings.py").read_text(encoding="utf-8")
    assert '    "news",\n' in settings and 'TIME_ZONE = "Europe/Paris"' in settings, "settings edits kept"
    assert '<add segment="private" />' in web_config, "the user's web.config rule kept"
    assert (project / "news/__init__.py").is_file()
    assert "8080" in (project / "invoke.local.yaml").read_text(encoding="utf-8"), "user's file kept"
    recorded = answers(project)
    assert recorded["_commit"] == B
    assert recorded[NEW_QUESTION] == "Custom Pool", "the migration carried the renamed answer over"
    assert OLD_QUESTION not in recorded
    assert 'app_pool: "Custom Pool"' in (project / "invoke.yaml").read_text(encoding="utf-8")
    assert updater.find_conflicts(project) == [] and unmerged(project) == []
    assert not list(project.rglob("*.rej"))


@pytest.mark.slow
def test_without_the_migration_the_renamed_answer_is_lost(releases, tmp_path):
    """The migration is what keeps the answer: a B without it falls back to the default."""
    template = tmp_path / "template"
    git("clone", "-q", str(releases), str(template), cwd=tmp_path)
    replace_once(template / "copier.yml", MIGRATION_B, "_migrations: []\n")
    commit_all(template, "B without its migration")
    git("tag", "-f", B, cwd=template)
    project = render_at(template, A, tmp_path / "project", **{OLD_QUESTION: "Custom Pool"})

    copier.run_update(project, defaults=True, overwrite=True, unsafe=True, vcs_ref=B, quiet=True)

    assert answers(project)[NEW_QUESTION] == "my_site"


@pytest.mark.slow
def test_conflict_on_the_fixed_line_is_reported(releases, tmp_path):
    project = render_at(releases, A, tmp_path / "project")
    replace_once(project / "web.config", TIMEOUT_A, 'requestTimeout="00:10:00"\n')
    commit_all(project, "A longer timeout for our reports")

    result = run_task(sys.executable, project, "--defaults")  # to the latest release, B

    assert result.returncode == 1, result.stdout + result.stderr
    assert "The update left 1 conflict(s) for you to resolve:" in result.stderr
    assert "  web.config: edit web.config: keep what you need between `<<<<<<< before updating`" in (
        result.stderr
    )
    assert "git add web.config" in result.stderr and "Running the tests" not in result.stdout
    assert f'git commit -m "Update from template {B}"' in result.stderr, "_message_after_update"
    assert unmerged(project) == ["web.config"]
    web_config = (project / "web.config").read_text(encoding="utf-8")
    assert 'requestTimeout="00:10:00"' in web_config and TIMEOUT_B in web_config
    assert HEADER_B in web_config, "the rest of the fix merged cleanly"


@pytest.mark.parametrize("change", ["modified", "untracked"])
def test_a_dirty_tree_is_refused(releases, tmp_path, change):
    project = render_at(releases, A, tmp_path / "project")
    if change == "modified":
        replace_once(project / "my_site/settings.py", 'TIME_ZONE = "UTC"', 'TIME_ZONE = "Asia/Tokyo"')
        name = "my_site/settings.py"
    else:
        name = "notes.txt"
        (project / name).write_text("draft\n", encoding="utf-8")

    result = run_task(sys.executable, project, "--vcs-ref", B, "--defaults")

    assert result.returncode == 1
    assert "Refusing to update: the git tree has uncommitted changes" in result.stderr
    assert f"  {name}\n" in result.stderr and "git stash -u" in result.stderr
    assert answers(project)["_commit"] == A, "copier did not run"


@pytest.mark.slow
def test_task_updates_then_runs_the_project_tests(releases, default_project, tmp_path):
    """The whole `invoke template-update` run, with the bootstrapped project's venv."""
    project = render_at(releases, A, tmp_path / "project")
    user_edits(project)
    (project / ".env").write_text(f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n", encoding="utf-8")

    result = run_task(venv_python(default_project), project, "--vcs-ref", B, "--defaults")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Updated without conflicts. Running the tests:" in result.stdout
    assert " passed" in result.stdout and "Tests pass." in result.stdout
    assert (
        "The template removed or moved these files" in result.stdout and "  media/.gitkeep\n" in result.stdout
    )
    assert answers(project)["_commit"] == B


@pytest.mark.slow
def test_task_without_copier_says_how_to_install_it(releases, default_project, tmp_path):
    project = render_at(releases, A, tmp_path / "project")
    maintainers_bin = str(Path(sys.executable).parent)
    path = [d for d in os.environ["PATH"].split(os.pathsep) if Path(d) != Path(maintainers_bin)]
    if shutil.which("copier", path=os.pathsep.join(path)):
        pytest.skip("a copier outside the maintainers' venv is on PATH")

    env = {**os.environ, "PATH": os.pathsep.join(path)}
    result = subprocess.run(
        [str(venv_python(default_project)), "-m", "invoke", "template-update"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 1
    assert "Copier is not installed." in result.stderr and "pipx install copier" in result.stderr


def test_copier_is_found_on_path_or_as_a_module(updater):
    assert updater.copier_argv(which=lambda _: "/x/copier", find_spec=lambda _: None) == ["/x/copier"]
    module = updater.copier_argv(which=lambda _: None, find_spec=lambda _: object())
    assert module == [sys.executable, "-m", "copier"]
    assert updater.copier_argv(which=lambda _: None, find_spec=lambda _: None) is None
    assert updater.update_argv(["copier"], "1.2.0", defaults=True) == [
        "copier", "update", "--trust", "--conflict", "inline", "--vcs-ref", "1.2.0", "--defaults",
    ]  # fmt: skip


def test_rej_files_are_listed_as_conflicts(releases, updater, tmp_path):
    project = render_at(releases, A, tmp_path / "project")
    (project / "web.config.rej").write_text("@@ -1 +1 @@\n-a\n+b\n", encoding="utf-8")
    found = updater.find_conflicts(project)
    assert [(c.path, c.kind) for c in found] == [("web.config.rej", "rej")]
    assert "to web.config by hand" in found[0].advice()


def head_template(dest: Path, tags: bool) -> Path:
    """This repository's history (with its release tags or none) plus the working tree on top."""
    git("clone", "-q", *([] if tags else ["--no-tags"]), str(ROOT), str(dest), cwd=dest.parent)
    for name in git("ls-files", "-z", cwd=dest).split("\0"):
        if name:
            (dest / name).unlink()
    copy_working_tree(dest)
    return dest


def fresh_render_matches(project: Path, template: Path, tmp_path: Path) -> None:
    """An untouched default project updated to HEAD is what a fresh render at HEAD gives."""
    fresh = tmp_path / "fresh"
    copier.run_copy(str(template), fresh, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True)

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(root).parts and p.name != ".copier-answers.yml"
        }

    assert files(project) == files(fresh)


def release_cases() -> list[str]:
    return ["synthetic"] + [tag for _, tag in releasing.released_versions(ROOT)]


@pytest.mark.slow
@pytest.mark.parametrize("release", release_cases())
def test_update_from_each_release_to_head(release, tmp_path):
    """Every released tag (and a synthetic release of the current HEAD, so this never tests
    nothing) updates to the working tree without conflicts on a default project."""
    template = head_template(tmp_path / "template", tags=release != "synthetic")
    if release == "synthetic":
        release = "0.0.0"
        git("tag", release, cwd=template)
    commit_all(template, "HEAD: the working tree")
    project = render_at(template, release, tmp_path / "project")

    copier.run_update(project, defaults=True, overwrite=True, unsafe=True, vcs_ref="HEAD", quiet=True)

    assert unmerged(project) == [] and not list(project.rglob("*.rej"))
    assert answers(project)["_commit"] == git("describe", "--tags", "--always", cwd=template).strip()
    fresh_render_matches(project, template, tmp_path)


@pytest.mark.parametrize(
    ("source", "reachable"),
    [
        (".", False),  # `copier copy . DEST`: from the project, "." is the project itself
        ("'../no-such-template'", False),
        ("https://example.com/org/template.git", True),
        ("git@example.com:org/template.git", True),
        ("/srv/templates/django-iis", True),
    ],
)
def test_a_template_path_that_does_not_lead_back_is_refused(updater, tmp_path, source, reachable):
    from invoke.exceptions import Exit

    (tmp_path / ".copier-answers.yml").write_text(f"_commit: 1.0.0\n_src_path: {source}\n", encoding="utf-8")
    if reachable:
        updater.require_reachable_template(tmp_path)
        return
    with pytest.raises(
        Exit, match="Replace that value of _src_path with the template's URL or absolute path"
    ):
        updater.require_reachable_template(tmp_path)
