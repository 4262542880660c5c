"""Every answer that reaches a generated file is escaped for that file's syntax.

Ordinary names hold quotes, "--", backslashes, braces, "%", "&", "<", "$", accents and emoji. Each
is rendered and every output is parsed or compiled with its format's own reader, and the answer is
read back where a file shows it. The escaping lives in includes/escape.jinja.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import venv_python

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the TOML files are checked on newer Pythons
    tomllib = None

NAMES = [
    "a -- b",
    "x --> y",
    "ends-",
    "C:\\new",
    "\\N{BULLET} \\N \\x1 and \\",
    'say """hi"""',
    'it\'s "quoted"',
    "'''",
    "{{ x }} {% if %} {# c #}",
    "100% & <b>",
    "<!-- c --> ]]>",
    "😀 Ünïcode — 日本語",
    "$HOME ${X} $(y) `cmd`",
    "trailing  ",
    " leading",
    "*b* _i_ [l](u) | ~x~ !",
    "#",
]
# Valid IIS names (copier.yml refuses \ / ? ; : @ & = + $ , | " < >) with every other oddity.
IIS_NAMES = [
    ("Site 'x' {{y}} %z% `b` -- #1", "pool-- {% x %} 'q' ü😀"),
    ("``tick", "-ends in -"),
]


def parse_every_file(project: Path) -> None:
    """Each file whose format has a reader in the standard library (or yaml) parses with it."""
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(project)
        if path.suffix == ".py":
            compile(text, str(where), "exec", ast.PyCF_ONLY_AST)
        elif path.suffix in {".config", ".xml"}:
            ET.fromstring(text.encode("utf-8"))
        elif path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(text)
        elif path.suffix == ".toml" and tomllib:
            tomllib.loads(text)
        elif path.suffix == ".json":
            json.loads(text)


def xml_comments(path: Path) -> list[str]:
    builder = ET.TreeBuilder(insert_comments=True)
    parser = ET.XMLParser(target=builder)
    parser.feed(path.read_bytes())
    root = parser.close()
    # Comments before the root element are not in the tree: the prolog's are read as text (the
    # document parsed above, so each ends at the first "-->").
    prolog = path.read_text(encoding="utf-8").split(f"<{root.tag}", 1)[0]
    return re.findall(r"<!--(.*?)-->", prolog, re.S) + [n.text for n in root.iter() if n.tag is ET.Comment]


class _Text(HTMLParser):
    def __init__(self, tag: str):
        super().__init__(convert_charrefs=True)
        self.tag, self.inside, self.text = tag, False, []

    def handle_starttag(self, tag, attrs):
        self.inside = self.inside or tag == self.tag

    def handle_endtag(self, tag):
        self.inside = self.inside and tag != self.tag

    def handle_data(self, data):
        if self.inside:
            self.text.append(data)


def html_text(source: str, tag: str) -> str:
    parser = _Text(tag)
    parser.feed(source)
    return "".join(parser.text)


def md_unescape(text: str) -> str:
    """CommonMark backslash escapes: a backslash before ASCII punctuation shows the punctuation."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def md_code_spans(text: str) -> list[str]:
    """The contents of CommonMark code spans (equal backtick runs; one padding space stripped)."""
    spans = []
    for match in re.finditer(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", text):
        body = match.group(2)
        if len(body) > 2 and body[0] == body[-1] == " " and body.strip():
            body = body[1:-1]
        spans.append(body)
    return spans


@pytest.mark.parametrize("name", NAMES, ids=[ascii(n) for n in NAMES])
def test_project_name_is_escaped_wherever_it_goes(render_project, tmp_path, name):
    project = render_project(tmp_path / "p", project_name=name)
    parse_every_file(project)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["project_name"] == name
    config = yaml.safe_load((project / "invoke.yaml").read_text(encoding="utf-8"))
    assert config["project"]["name"] == name
    # Invoke reads invoke.yaml in the locale's encoding (cp1252 on a Windows server): ASCII only.
    assert (project / "invoke.yaml").read_bytes().isascii()
    comment = xml_comments(project / "web.config")[0]
    assert re.sub(r"-(?=-|$)", "- ", name) in comment, "XML comments have no escapes: '--' is spaced"
    slug = answers["project_slug"]
    page = (project / slug / "templates/home.html").read_text(encoding="utf-8")
    assert html_text(page, "title") == html_text(page, "h1") == name
    assert not re.search(r"{[{%#]", page), "the name must not become Django template syntax"
    heading = (project / "README.md").read_text(encoding="utf-8").splitlines()[0]
    assert heading.startswith("# ") and md_unescape(heading[2:]) == name
    bare = re.sub(r"\\[!-/:-@\[-`{-~]", "", heading[2:])  # what is left once escapes are taken out
    assert not re.search(r"[\\`*_\[\]<>#!|~&$]", bare), f"unescaped Markdown in {heading!r}"


@pytest.mark.parametrize(("site", "pool"), IIS_NAMES)
def test_iis_names_are_escaped_wherever_they_go(render_project, tmp_path, site, pool):
    project = render_project(tmp_path / "p", iis_site_name=site, iis_app_pool=pool)
    parse_every_file(project)
    config = yaml.safe_load((project / "invoke.yaml").read_text(encoding="cp1252"))
    assert (config["iis"]["site_name"], config["iis"]["app_pool"]) == (site, pool)
    spans = md_code_spans((project / "iishost/docs/server.md").read_text(encoding="utf-8"))
    assert site in spans and pool in spans and f"IIS AppPool\\{pool}" in spans


def test_escaping_helpers_are_the_only_way_answers_reach_files():
    """A free-text answer goes through includes/escape.jinja (or a format's own dumper), never raw."""
    root = Path(__file__).resolve().parent.parent / "template"
    free_text = r"project_name|iis_site_name|iis_app_pool"
    raw = re.compile(r"{{-?\s*(" + free_text + r")\s*(\|\s*(e|tojson)\s*)?-?}}")
    found = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in root.rglob("*.jinja")
        for match in raw.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, "use a macro of includes/escape.jinja: " + "; ".join(found)


@pytest.mark.slow
def test_a_hostile_name_is_text_on_the_home_page(render_project, tmp_path, default_project):
    """The home page's Django template shows the name as text (braces are not template syntax)."""
    name = '{{ x }} {% now "Y" %} {# c #} "C:\\new" --> & 😀'
    project = render_project(tmp_path / "p", project_name=name, project_slug="odd")
    code = (
        "import django; django.setup(); from django.template.loader import render_to_string; "
        "print(render_to_string('home.html'))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(PYTHONPATH=str(project), DJANGO_SETTINGS_MODULE="odd.settings", DJANGO_DEBUG="1")
    result = subprocess.run(
        [venv_python(default_project), "-c", code],
        cwd=project,
        env={**env, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert result.returncode == 0, result.stderr
    assert html_text(result.stdout, "h1") == name
