""".env files as Windows tools write them, and malformed typed settings: each loads, or stops with
a message naming the file and line or the variable, its value and what is expected."""

from __future__ import annotations

import codecs
import os
import subprocess

import pytest
from conftest import venv_python

pytestmark = pytest.mark.slow

KEY = "k" * 60
READ = "import my_site.settings as s; print(s.SECRET_KEY, s.DEBUG, s.SECURE_HSTS_SECONDS, s.ALLOWED_HOSTS[0])"


# Django's own exception for bad settings, so tools that catch it (and readers) know the kind.
CATCH = (
    "import sys\nfrom django.core.exceptions import ImproperlyConfigured\n"
    "try:\n    import django\n    django.setup()\n"
    "except ImproperlyConfigured as exc:\n    sys.exit(print(exc, file=sys.stderr) or 3)"
)


@pytest.fixture(scope="module")
def project(template_repo, tmp_path_factory):
    from conftest import render

    return render(template_repo, tmp_path_factory.mktemp("env") / "p")


def run(default_project, project, code=READ, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "ASGI_"))}
    return subprocess.run(
        [venv_python(default_project), "-c", code],
        cwd=project,
        env={**clean, "PYTHONPATH": str(project), "DJANGO_SETTINGS_MODULE": "my_site.settings", **env},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


ENV_TEXT = f"DJANGO_SECRET_KEY={KEY}\r\n# written on Windows: Caf\xe9\r\nDJANGO_HOSTNAMES=www.example.com\r\n"


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF16_LE + ENV_TEXT.encode("utf-16-le"),  # PowerShell 5: Out-File, >
        codecs.BOM_UTF8 + ENV_TEXT.encode("utf-8"),  # PowerShell 5: Set-Content -Encoding utf8
        codecs.BOM_UTF16_BE + ENV_TEXT.encode("utf-16-be"),  # PowerShell: -Encoding BigEndianUnicode
        ENV_TEXT.encode("utf-8"),
    ],
    ids=["utf-16-le-bom", "utf-8-bom", "utf-16-be-bom", "utf-8"],
)
def test_env_file_written_by_windows_tools_is_read(default_project, project, encoded):
    (project / ".env").write_bytes(encoded)
    result = run(default_project, project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [KEY, "False", "0", "www.example.com"]


@pytest.mark.parametrize(
    ("encoded", "says"),
    [
        (
            f"DJANGO_SECRET_KEY={KEY}\r\n# Caf\xe9 settings\r\nDJANGO_DEBUG=0\r\n".encode("cp1252"),
            "line 2 is not UTF-8",
        ),
        (ENV_TEXT.encode("utf-16-le"), "NUL bytes"),  # UTF-16 without a byte-order mark
    ],
    ids=["cp1252", "utf-16-without-bom"],
)
def test_env_file_in_another_encoding_names_the_file_the_line_and_the_fix(
    default_project, project, encoded, says
):
    (project / ".env").write_bytes(encoded)
    result = run(default_project, project)
    assert result.returncode != 0
    assert str(project / ".env") in result.stderr and says in result.stderr, result.stderr
    assert "Set-Content -Encoding utf8" in result.stderr, "the message says how to fix it"
    assert "UnicodeDecodeError" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DJANGO_HSTS_SECONDS", "one year", "a whole number of seconds, 0 or more"),
        ("DJANGO_HSTS_SECONDS", "-5", "a whole number of seconds, 0 or more"),
        ("DJANGO_DEBUG", "maybe", "1 or 0"),
        ("DJANGO_HTTPS", "yes please", "1 or 0"),
        ("DJANGO_LOG_LEVEL", "verbose", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("DJANGO_HOSTNAMES", "www.example.com *", '"*" would accept any Host header'),
        ("DJANGO_LOG_DIR", "/no/such/folder", "not a folder: create it"),
    ],
)
def test_malformed_typed_setting_names_the_variable_value_and_what_is_expected(
    default_project, project, variable, value, expected
):
    (project / ".env").write_text(f"DJANGO_SECRET_KEY={KEY}\n", encoding="utf-8")
    result = run(default_project, project, code=CATCH, **{variable: value})
    assert result.returncode == 3, result.stderr
    assert variable in result.stderr and repr(value) in result.stderr and expected in result.stderr, (
        result.stderr
    )


@pytest.mark.parametrize(
    "url", ["postgres://app:s3cret@db.example:port/app", "s3cret-nonsense", "nosuchdb://app:s3cret@h/x"]
)
def test_malformed_database_url_is_named_but_its_password_never_shown(default_project, project, url):
    (project / ".env").write_text(f"DJANGO_SECRET_KEY={KEY}\n", encoding="utf-8")
    result = run(default_project, project, code=CATCH, DATABASE_URL=url)
    assert result.returncode == 3, result.stderr
    assert "DATABASE_URL is not a database URL" in result.stderr, result.stderr
    assert "percent-encode" in result.stderr and "s3cret" not in result.stderr, result.stderr


def test_log_level_is_read_in_any_case(default_project, project):
    (project / ".env").write_text(f"DJANGO_SECRET_KEY={KEY}\nDJANGO_LOG_LEVEL=warning\n", encoding="utf-8")
    code = "import my_site.settings as s; print(s.LOGGING['root']['level'])"
    result = run(default_project, project, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "WARNING"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ASGI_THREADS": "four"}, "ASGI_THREADS='four' is not a whole number of threads, 1 or more"),
        ({"ASGI_THREADS": "0"}, "ASGI_THREADS='0' is not a whole number of threads, 1 or more"),
        (
            {"ASGI_FAST": "false"},
            "handler=ASGIHandler\n",
        ),  # a boolean read as one: off means Django's handler
        ({"ASGI_FAST": "perhaps"}, "ASGI_FAST='perhaps' is not a boolean"),
    ],
)
def test_asgi_settings_are_typed(default_project, project, env, says):
    (project / ".env").write_text(f"DJANGO_SECRET_KEY={KEY}\n", encoding="utf-8")
    code = (
        "from iishost.asgi_handler import get_asgi_application as g; print('handler=' + type(g()).__name__)"
    )
    result = run(default_project, project, code=code, **env)
    assert says in result.stdout + result.stderr, result.stdout + result.stderr
