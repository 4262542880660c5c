"""Render the template many ways and check what users get, without installing anything."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, venv_python

CASES = {
    "defaults": {},
    "sqlite-app": {"static_files": "app"},
    "postgresql-iis": {"database": "postgresql"},
    "postgresql-app": {"database": "postgresql", "static_files": "app"},
    "mssql-iis": {"database": "mssql"},
    "mssql-app": {"database": "mssql", "static_files": "app"},
    "https": {"https": True, "hostnames": "www.example.com, example.com *.example.org"},
    "django61": {"django_version": "6.1", "python_version": "3.13"},
    "websockets": {"websockets": True, "https": True, "static_files": "app", "project_slug": "ws_site"},
    "windows-auth": {"windows_auth": True},
    "windows-auth-app-https": {
        "windows_auth": True,
        "static_files": "app",
        "https": True,
        "database": "postgresql",
    },
    "odd-names": {
        "project_name": 'Ünïcode & <Co> "Site"',
        "project_slug": "x_1",
        "iis_site_name": "Site 'Quoted' (Prod)",
        "iis_app_pool": "pool.with dots_ü",
        "hostnames": "xn--bcher-kva.example,INTRANET",
    },
    "background-jobs": {"background_jobs": True},
    "jobs-with-every-option": {
        "background_jobs": True,
        "windows_auth": True,
        "websockets": True,
        "farm": True,
        "database": "mssql",
        "project_slug": "x_1",
    },
    "farm": {"farm": True, "database": "postgresql"},
}
ALWAYS = [
    ".copier-answers.yml",
    ".env.example",
    ".gitattributes",
    ".gitignore",
    "README.md",
    "bootstrap.py",
    "invoke.yaml",
    "manage.py",
    "pyproject.toml",
    "requirements.in",
    "requirements.txt",
    "requirements-dev.in",
    "requirements-dev.txt",
    "tasks.py",
    "web.config",
    "logs/.gitkeep",
    "iishost/emulator/webconfig.py",
    "iishost/emulator/__main__.py",
    "iishost/docs/emulator.md",
    "iishost/docs/farm.md",
    "tests/test_asgi.py",
]
JINJA_LEFT = re.compile(r"{{|}}|{%|%}|{#|#}")


def production_env(**extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    return {**env, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), **extra}


@pytest.fixture(params=list(CASES), ids=list(CASES))
def case(request, render_project, tmp_path):
    data = CASES[request.param]
    return data, render_project(tmp_path / "dest with spaces ü", **data)


def test_expected_files(case):
    data, project = case
    slug = data.get("project_slug", "my_site")
    for name in [*ALWAYS, f"{slug}/settings.py", f"{slug}/asgi.py", f"{slug}/urls.py"]:
        assert (project / name).is_file(), name
    assert not (project / slug / "wsgi.py").exists(), "nothing serves WSGI: no wsgi.py"
    assert (project / "static/web.config").is_file() == (data.get("static_files", "iis") == "iis")
    assert (project / "data").is_dir() == (data.get("database", "sqlite") == "sqlite")
    websockets = data.get("websockets", False)
    for name in (f"{slug}/routing.py", f"{slug}/consumers.py", "tests/test_websockets.py"):
        assert (project / name).is_file() == websockets, name
    assert not (project / ".env").exists(), "the secret key is made by bootstrap.py, never rendered"


def test_no_jinja_left(case):
    _, project = case
    for source in (ROOT / "template").rglob("*.jinja"):
        relative = source.relative_to(ROOT / "template")
        if "{" in str(relative):
            continue  # names with Jinja in them are checked below
        text = (project / str(relative)[: -len(".jinja")]).read_text(encoding="utf-8")
        assert not JINJA_LEFT.search(text), f"{relative}: {JINJA_LEFT.search(text)}"
    assert not [p for p in project.rglob("*") if "{" in p.name or p.suffix == ".jinja"]


def test_web_config_is_valid_for_iis(case, webconfig):
    data, project = case
    slug = data.get("project_slug", "my_site")
    platform = webconfig.load_http_platform(project / "web.config")
    assert platform.process_path == r".\.venv\Scripts\python.exe"
    args = platform.arguments.split()
    assert args[:3] == ["-m", "iishost.launch", f"{slug}.asgi:application"], "uvicorn with its own log"
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert args[args.index("--port") + 1] == "%HTTP_PLATFORM_PORT%"
    assert "--no-proxy-headers" in args, "X-Forwarded-* are read by iishost.forwarded, not uvicorn"
    assert "0.0.0.0" not in platform.arguments
    assert platform.stdout_log_enabled
    assert (project / Path(*platform.stdout_log_file.split("\\")[1:-1])).is_dir(), "the log folder exists"
    assert platform.environment_variables["DJANGO_SETTINGS_MODULE"] == f"{slug}.settings"
    assert not any("SECRET" in name or "PASSWORD" in name for name in platform.environment_variables)
    root = webconfig.read(project / "web.config")
    hidden = {e.get("segment") for e in root.iter("add") if e.get("segment")}
    assert {".env", ".venv", ".git", ".copier-answers.yml"} <= hidden
    denied = {e.get("fileExtension") for e in root.iter("add") if e.get("allowed") == "false"}
    assert {".py", ".pyc"} <= denied
    assert "wfastcgi" not in (project / "web.config").read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("build", ["1.2", "2"])
def test_web_config_loads_under_each_hph_build(render_project, webconfig, build):
    """Checked against each build's schema (iishost/emulator/hph_schemas.py, the published
    httpplatform_schema.xml of HPH 1.2 and of lextudio/httpplatformhandlerv2): an attribute one
    of them lacks is 500.19 on every request of a server with that build."""
    project = render_project()
    platform = webconfig.load_http_platform(project / "web.config", builds=(build,))
    section = webconfig.read(project / "web.config").find(webconfig.SECTION)
    assert set(section.attrib) <= set(webconfig.SCHEMAS[build].attributes)
    assert section.get("forwardWindowsAuthToken") == "false", "v2 defaults it to true: set it"
    assert platform.forward_windows_auth_token is False


def test_windows_auth_reaches_every_part_only_when_chosen(case, webconfig):
    """windows_auth: web.config forwards the token, settings.py has the middleware and backend,
    invoke.yaml registers it, the docs say what the server needs; without it none of them."""
    data, project = case
    slug = data.get("project_slug", "my_site")
    on = data.get("windows_auth", False)
    assert webconfig.load_http_platform(project / "web.config").forward_windows_auth_token is on
    settings = (project / slug / "settings.py").read_text(encoding="utf-8")
    assert ("iishost.winauth.middleware.WindowsAuthMiddleware" in settings) is on
    assert ("iishost.winauth.backend.WindowsUserBackend" in settings) is on
    invoke_yaml = yaml.safe_load((project / "invoke.yaml").read_text(encoding="utf-8"))
    assert invoke_yaml["iis"]["windows_auth"] == str(on).lower()
    intranet = (project / "iishost/docs/intranet.md").read_text(encoding="utf-8")
    assert "## Windows sign-in" in intranet and "Install-WindowsFeature Web-Windows-Auth" in intranet
    assert "iishost/docs/intranet.md" in (project / "README.md").read_text(encoding="utf-8")
    assert ("Signed in with Windows" in (project / slug / "templates/home.html").read_text()) is on


def test_upload_limit_is_one_setting(render_project, webconfig):
    """maxAllowedContentLength is set in web.config, and settings.py reads it from there."""
    project = render_project()
    root = webconfig.read(project / "web.config")
    limits = root.find("system.webServer/security/requestFiltering/requestLimits")
    assert limits.get("maxAllowedContentLength") == "30000000"
    from iishost.limits import max_request_bytes

    assert max_request_bytes(project / "web.config") == 30_000_000
    settings = (project / "my_site" / "settings.py").read_text(encoding="utf-8")
    assert 'max_request_bytes(BASE_DIR / "web.config")' in settings


def test_static_web_config_hands_the_folder_to_iis(render_project, webconfig):
    project = render_project()
    root = webconfig.read(project / "static/web.config")
    handlers = root.find("system.webServer/handlers")
    assert handlers[0].tag == "clear"
    assert [h.get("modules") for h in handlers.iter("add")] == ["StaticFileModule"]
    cache = root.find("system.webServer/staticContent/clientCache")
    assert cache.get("cacheControlMode") == "UseMaxAge" and cache.get("cacheControlMaxAge").startswith("365.")


def test_answers_file_records_answers_but_no_secret(case):
    data, project = case
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_src_path"]
    for key, value in data.items():
        assert answers[key] == value
    assert not {"hostname_list", "lock_name", "reserved_module_names", "python_keywords"} & set(answers)
    assert "SECRET" not in (project / ".copier-answers.yml").read_text(encoding="utf-8").upper()


def test_invoke_yaml_carries_the_answers(case):
    data, project = case
    config = yaml.safe_load((project / "invoke.yaml").read_text(encoding="utf-8"))
    assert config["iis"]["site_name"] == data.get("iis_site_name", data.get("project_slug", "my_site"))
    assert config["iis"]["app_pool"] == data.get("iis_app_pool", data.get("project_slug", "my_site"))
    assert config["iis"]["https"] == str(data.get("https", False)).lower()  # strings: see invoke.yaml
    assert config["iis"]["websockets"] == str(data.get("websockets", False)).lower()
    assert config["project"]["farm"] == str(data.get("farm", False)).lower()
    assert config["project"]["name"] == data.get("project_name", "My Site")


def test_background_jobs_are_declared_only_when_chosen_and_parse(case):
    """The shipped example job is what the deploy tasks' own parser accepts: clearsessions daily."""
    from iishost.deploy.config import from_config

    data, project = case
    config = yaml.safe_load((project / "invoke.yaml").read_text(encoding="utf-8"))
    assert ("jobs" in config) == data.get("background_jobs", False)
    jobs = from_config(config, project).jobs
    if data.get("background_jobs"):
        assert jobs.folder == data.get("project_slug", "my_site")
        assert [(j.name, j.command, str(j.schedule)) for j in jobs.jobs] == [
            ("clearsessions", "clearsessions", "daily 03:00")
        ]
    else:
        assert jobs is None
    doc = (project / "iishost/docs/intranet.md").read_text(encoding="utf-8")
    assert "## Background jobs" in doc
    assert ("declares one job" in doc) == data.get("background_jobs", False)


def test_requirements_pin_every_top_level_dependency(case):
    _, project = case
    wanted = []
    for line in (project / "requirements.in").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            wanted.append(re.split(r"[<>=\[;]", line)[0].strip().lower())
    pinned = (project / "requirements.txt").read_text(encoding="utf-8")
    for name in wanted:
        assert re.search(rf"^{re.escape(name)}==\S+( ;[^\\\n]*)? \\$", pinned, re.MULTILINE), (
            f"{name} is not locked: invoke lock"
        )
    assert "--hash=sha256:" in pinned


@pytest.mark.slow
def test_settings_import_under_production_env(case, default_project):
    """The settings module of every variant loads with the environment README.md describes."""
    data, project = case
    slug = data.get("project_slug", "my_site")
    database = data.get("database", "sqlite")
    env = production_env(PYTHONPATH=str(project))
    if database != "sqlite":
        env["DATABASE_URL"] = {
            "postgresql": "postgres://u:p@db.example:5432/x",
            "mssql": "mssqlms://u:p@db.example:1433/x",
        }[database]
    code = (
        f"import {slug}.settings as s, json; print(json.dumps([s.DEBUG, s.ALLOWED_HOSTS, "
        "s.SESSION_COOKIE_SECURE, s.DATABASES['default']['ENGINE'], "
        "getattr(s, 'SECURE_PROXY_SSL_HEADER', None)]))"
    )
    result = subprocess.run(
        [venv_python(default_project), "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    import json

    debug, hosts, secure_cookie, engine, proxy_header = json.loads(result.stdout)
    assert debug is False and proxy_header is None
    assert "*" not in hosts and hosts
    assert secure_cookie is data.get("https", False)
    assert (
        engine
        == {
            "sqlite": "django.db.backends.sqlite3",
            "postgresql": "django.db.backends.postgresql",
            "mssql": "mssql",
        }[database]
    )
