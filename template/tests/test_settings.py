"""Settings under the production environment README.md describes, each in a fresh process."""

import re

import pytest

# What `manage.py check --deploy` may still report, by the HTTPS answer (DJANGO_HTTPS); README.md,
# "Security checks", explains each one. Anything else fails this test.
EXPLAINED_DEPLOY_WARNINGS = {
    True: {"security.W005", "security.W021"},  # HSTS for subdomains / preload: opt-in, see README
    False: {"security.W004", "security.W008", "security.W012", "security.W016"},  # no HTTPS at all
}


def test_settings_refuse_to_start_without_a_secret_key(run_python, production_env):
    production_env["DJANGO_SECRET_KEY"] = ""  # set but empty: .env cannot fill it in either
    result = run_python("manage.py", "check", env=production_env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked(run_python, production_env):
    production_env["DJANGO_DEBUG"] = ""
    result = run_python("manage.py", "diffsettings", "--all", env=production_env)
    assert re.search(r"^(### )?DEBUG = False$", result.stdout, re.MULTILINE), result.stderr


@pytest.mark.parametrize("https", [True, False])
def test_check_deploy_reports_only_explained_warnings(run_python, production_env, https):
    production_env["DJANGO_HTTPS"] = "1" if https else "0"
    # The fail level `invoke deploy` uses: any warning not silenced in settings.py stops a deploy.
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert result.returncode == 0, result.stderr
    reported = set(re.findall(r"\((\w+\.[EW]\d+)\)", result.stdout + result.stderr))
    assert reported <= EXPLAINED_DEPLOY_WARNINGS[https], result.stderr


def test_allowed_hosts_are_explicit(settings):
    assert settings.ALLOWED_HOSTS
    assert "*" not in settings.ALLOWED_HOSTS


def test_no_proxy_ssl_header(settings):
    """uvicorn decides the scheme (see test_asgi); Django's header check could be forged."""
    assert settings.SECURE_PROXY_SSL_HEADER is None
