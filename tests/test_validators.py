"""Every validator in copier.yml refuses a bad answer with its message and writes nothing."""

from __future__ import annotations

import keyword
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, render

REJECTED = [
    ("project_name", "   ", "must not be empty"),
    ("project_name", "x" * 81, "at most 80 characters"),
    # A line break in YAML (NEL, U+2028) or XML's and Python's refusals (C1 controls, surrogates).
    ("project_name", "My\x85Site", "must not contain control characters or line separators"),
    ("project_name", "My\u2028Site", "must not contain control characters or line separators"),
    ("iis_app_pool", "pool\x9b", "must not contain control characters or line separators"),
    ("project_slug", "My-Site", "not a valid package name"),
    ("project_slug", "9lives", "not a valid package name"),
    ("project_slug", "class", "is a Python keyword"),
    ("project_slug", "django", 'would shadow the module "django"'),
    ("project_slug", "test", 'would shadow the module "test"'),
    ("project_slug", "site", 'would shadow the module "site"'),
    ("project_slug", "asyncio", 'would shadow the module "asyncio"'),
    ("project_slug", "tasks", 'would shadow the module "tasks"'),
    (
        "iis_site_name",
        "a & b",
        'contains &, which IIS does not accept. Not allowed: \\ / ? ; : @ & = + $ , | " < >',
    ),
    ("iis_site_name", "a/b", "contains /"),
    ("iis_site_name", " padded", "must not start or end with spaces"),
    ("iis_site_name", "", "must not be empty"),
    ("iis_app_pool", 'pool"x', 'contains ", which IIS does not accept'),
    ("iis_app_pool", "p" * 65, "at most 64 characters"),
    ("hostnames", "*", "would accept any Host header"),
    ("hostnames", "www.example.com bad_host", '"bad_host" is not a host name'),
    ("hostnames", " ", "Give at least one host name"),
    ("python_version", "3.11", "Django 6.1 needs Python 3.12 or newer"),
]


@pytest.mark.parametrize(
    ("question", "answer", "message"), REJECTED, ids=[f"{q}={a[:12]!r}" for q, a, _ in REJECTED]
)
def test_rejected_answer_stops_copy_and_writes_nothing(template_repo, tmp_path, question, answer, message):
    data = {question: answer}
    if question == "python_version":
        data["django_version"] = "6.1"
    dest = tmp_path / "project"
    with pytest.raises(ValueError, match=f"Validation error for question '{question}'") as error:
        render(template_repo, dest, **data)
    assert message in str(error.value)
    assert not dest.exists()


def test_copier_cli_reports_the_message_and_leaves_no_folder(template_repo, tmp_path):
    dest = tmp_path / "project"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "project_slug=asyncio",
            str(template_repo),
            str(dest),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert 'would shadow the module "asyncio"' in result.stderr
    assert not dest.exists()


def test_rejected_answer_into_an_existing_folder_leaves_it_as_it_was(template_repo, tmp_path):
    dest = tmp_path / "existing"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(ValueError):
        render(template_repo, dest, hostnames="*")
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("answer", ["my_site", "x_1", "_private", "shop2", "match"])
def test_valid_slugs_pass(template_repo, tmp_path, answer):
    assert (render(template_repo, tmp_path / "p", project_slug=answer) / answer / "settings.py").is_file()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Site", "site_project"),
        ("Test", "test_project"),
        ("Class", "class_project"),
        ("Django", "django_project"),
        ("2024", "site_project"),
    ],
)
def test_default_slug_of_an_ordinary_name_is_never_refused(template_repo, tmp_path, name, slug):
    """`copier copy --defaults` with a name whose slug would be a keyword or a module still works."""
    assert (render(template_repo, tmp_path / "p", project_name=name) / slug / "settings.py").is_file()


def test_reserved_names_cover_this_python():
    """The list in includes/ was written from one Python; a newer one may add modules."""
    lists = yaml.safe_load((ROOT / "includes/reserved-names.yml").read_text(encoding="utf-8"))
    reserved = set(lists["reserved_module_names"]["default"])
    assert set(lists["python_keywords"]["default"]) == set(keyword.kwlist)
    missing = {name for name in sys.stdlib_module_names if not name.startswith("_")} - reserved
    assert not missing, f"add to includes/reserved-names.yml: {sorted(missing)}"


def test_every_question_has_help_and_default():
    text = (ROOT / "copier.yml").read_text(encoding="utf-8").replace("!include", "#")
    questions = {}
    for document in yaml.safe_load_all(text):
        questions.update({k: v for k, v in (document or {}).items() if not k.startswith("_")})
    asked = {name: q for name, q in questions.items() if isinstance(q, dict) and q.get("when") is not False}
    assert set(asked) >= {
        "project_name",
        "project_slug",
        "iis_site_name",
        "iis_app_pool",
        "hostnames",
        "https",
        "python_version",
        "django_version",
        "database",
        "static_files",
    }
    for name, question in asked.items():
        assert question.get("help"), name
        assert "default" in question, name
        assert question.get("validator") or question.get("choices") or question["type"] == "bool", name


@pytest.mark.skipif(sys.platform == "win32", reason="drives a POSIX pseudo-terminal with pexpect")
def test_invalid_answer_typed_at_the_prompt_shows_the_message_and_is_not_accepted(template_repo, tmp_path):
    import pexpect

    dest = tmp_path / "project"
    copier = str(Path(sys.executable).parent / "copier")
    child = pexpect.spawn(
        copier,
        ["copy", "--trust", "--vcs-ref", "HEAD", str(template_repo), str(dest)],
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 200),
    )
    child.expect("Human name of the project")
    child.expect("My Site")
    child.send("\r")  # accept the default name
    child.expect("Python package name")
    child.expect("my_site")
    child.send("\x7f" * len("my_site") + "class\r")
    child.expect('"class" is a Python keyword; choose another package name.')
    child.expect("Python package name|class")  # still asking: the answer was not taken
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus != 0
    assert not dest.exists()
