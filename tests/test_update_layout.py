"""`copier update` across the release that moved the template's code into `iishost/`.

A project generated before the move (deploy/ at the top, the template's tests in tests/) and then
changed the way teams change it is updated to the working tree with its own `invoke
template-update`: the user's app, settings, URLs and tests survive, the template's files land in
their new places, and an edit to a moved template file is named for the user to carry over
(CHANGELOG.md, "Unreleased", gives the old -> new table).
"""

from __future__ import annotations

import secrets
import subprocess

import pytest
from conftest import ROOT, copy_working_tree, git, venv_python
from test_update import answers, commit_all, render_at, replace_once, run_task

# main just before the move: the layout every existing project has.
BEFORE_MOVE = "c48e089fb79fd21eabb3364bb2564c8cf9cd77e6"
OLD, NEW = "0.1.0", "0.2.0"


@pytest.fixture(scope="module")
def layout_releases(tmp_path_factory):
    """A template repository: OLD = main before the move, NEW = the working tree."""
    template = tmp_path_factory.mktemp("layout") / "template"
    git("clone", "-q", "--no-tags", str(ROOT), str(template), cwd=template.parent)
    if subprocess.run(["git", "cat-file", "-e", f"{BEFORE_MOVE}^{{commit}}"], cwd=template).returncode:
        pytest.skip(f"this clone lacks the pre-move commit {BEFORE_MOVE[:9]} (a shallow clone?)")
    git("checkout", "-q", "-B", "releases", BEFORE_MOVE, cwd=template)
    git("tag", OLD, cwd=template)
    for name in git("ls-files", "-z", cwd=template).split("\0"):
        if name:
            (template / name).unlink()
    copy_working_tree(template)
    commit_all(template, "The new layout")
    git("tag", NEW, cwd=template)
    return template


NEWS_VIEW = """from django.http import HttpResponse


def latest(request):
    return HttpResponse("no news")
"""
NEWS_TEST = """def test_news_page(client):
    assert client.get("/news/").content == b"no news"
"""


def team_work(project) -> None:
    """An app with a page and its test, a setting, and a fix inside a template file that moved."""
    settings, urls = project / "my_site/settings.py", project / "my_site/urls.py"
    replace_once(
        settings, '    "django.contrib.staticfiles",\n', '    "django.contrib.staticfiles",\n    "news",\n'
    )
    (project / "news").mkdir()
    (project / "news/__init__.py").write_text("", encoding="utf-8")
    (project / "news/views.py").write_text(NEWS_VIEW, encoding="utf-8")
    replace_once(
        urls,
        "urlpatterns = [\n",
        'import news.views\n\nurlpatterns = [\n    path("news/", news.views.latest),\n',
    )
    (project / "tests/test_news.py").write_text(NEWS_TEST, encoding="utf-8")
    replace_once(project / "deploy/config.py", '"invoke.local.yaml"', '"server.yaml"')
    commit_all(project, "Our work")


@pytest.mark.slow
def test_update_into_the_new_layout_keeps_the_users_work(layout_releases, default_project, tmp_path):
    project = render_at(layout_releases, OLD, tmp_path / "project")
    assert (project / "deploy/fast_asgi.py").is_file() and not (project / "iishost").exists()
    team_work(project)
    (project / ".env").write_text(f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n", encoding="utf-8")

    result = run_task(venv_python(default_project), project, "--vcs-ref", NEW, "--defaults")

    output = result.stdout[-4000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    assert answers(project)["_commit"] == NEW
    # The template's code and tests moved; nothing of the old layout is left behind.
    assert (project / "iishost/asgi_handler.py").is_file() and (project / "iishost/tests/unit").is_dir()
    assert not (project / "deploy").exists()
    assert sorted(p.name for p in (project / "tests").glob("test_*.py")) == [
        "test_asgi.py", "test_logging.py", "test_news.py", "test_pages.py", "test_settings.py",
    ]  # fmt: skip
    assert (project / "requirements-dev.txt").is_file() and "pytest==" not in (
        project / "requirements.txt"
    ).read_text(encoding="utf-8")
    # The team's work is still there and its test ran with the template's.
    assert '"news",' in (project / "my_site/settings.py").read_text(encoding="utf-8")
    assert "news.views.latest" in (project / "my_site/urls.py").read_text(encoding="utf-8")
    assert "Tests pass." in result.stdout and " passed" in result.stdout
    # Copier cannot follow an edited file to its new path: the task names it for the user.
    removed = result.stdout[result.stdout.index("The template removed or moved these files") :]
    assert "  deploy/config.py\n" in removed, output
    assert "server.yaml" in git("show", "HEAD:deploy/config.py", cwd=project)
