"""The farm option (iishost/docs/farm.md): settings from the server's environment, the deploy checks
that refuse a cache, media folder or session store only one server would see (with the fix
`invoke deploy` prints), and the /health/ headers servers are compared by. Settings are read in a
fresh process (run_python), as a server starts them."""

import hashlib
import json

import pytest
from django.conf import settings as django_settings
from django.core import checks

from iishost import farm
from iishost.deploy import checks as deploy_checks
from iishost.deploy.config import from_config

pytestmark = pytest.mark.skipif(
    not farm.registered(), reason="this project is not a farm (the template's farm option is off)"
)
SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps({'CACHES': s.CACHES, "
    "'SESSION_ENGINE': s.SESSION_ENGINE, 'MEDIA_ROOT': str(s.MEDIA_ROOT), 'STORAGES': s.STORAGES}))"
)
FARM_CHECKS = {farm.CACHE_CHECK, farm.MEDIA_CHECK, farm.SESSION_CHECK}


def settings_under(run_python, env):
    result = run_python("manage.py", "shell", "-c", SHOW, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def refused(run_python, env):
    result = run_python("manage.py", "check", env=env)
    assert result.returncode != 0
    return result.stderr


def test_redis_url_makes_the_cache_redis_with_this_sites_prefix(run_python, production_env):
    production_env.update(REDIS_URL="redis://cache.example.com:6379/2", DJANGO_CACHE_VERSION="7")
    shown = settings_under(run_python, production_env)
    cache = shown["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://cache.example.com:6379/2"
    assert cache["KEY_PREFIX"] == django_settings.ROOT_URLCONF.split(".")[0] and cache["VERSION"] == 7
    assert shown["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"


def test_without_redis_the_cache_is_the_databases_table(run_python, production_env):
    production_env.pop("REDIS_URL", None)
    cache = settings_under(run_python, production_env)["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert cache["LOCATION"] == farm.CACHE_TABLE and cache["VERSION"] == 1


def test_a_malformed_redis_url_or_cache_version_stops_start_up_by_name(run_python, production_env):
    production_env["REDIS_URL"] = "http://:s3cret@cache"
    stderr = refused(run_python, production_env)
    assert "REDIS_URL is not a Redis URL" in stderr and "s3cret" not in stderr
    production_env.update(REDIS_URL="", DJANGO_CACHE_VERSION="0")
    assert "DJANGO_CACHE_VERSION='0' is not a whole number" in refused(run_python, production_env)


def test_media_root_is_the_share_in_the_environment(run_python, production_env):
    production_env["DJANGO_MEDIA_ROOT"] = r"\\files\site\media"
    shown = settings_under(run_python, production_env)
    assert shown["MEDIA_ROOT"] == r"\\files\site\media"
    assert shown["STORAGES"]["default"] == {"BACKEND": farm.FILE_SYSTEM}
    production_env["DJANGO_MEDIA_ROOT"] = "media"
    assert "DJANGO_MEDIA_ROOT='media' is not an absolute folder" in refused(run_python, production_env)


def test_media_storage_takes_a_backend_and_its_json_options(run_python, production_env):
    production_env.update(
        DJANGO_MEDIA_STORAGE="django.core.files.storage.InMemoryStorage",
        DJANGO_MEDIA_STORAGE_OPTIONS='{"base_url": "https://files.example.com/"}',
    )
    storage = settings_under(run_python, production_env)["STORAGES"]["default"]
    assert storage == {
        "BACKEND": "django.core.files.storage.InMemoryStorage",
        "OPTIONS": {"base_url": "https://files.example.com/"},
    }


def test_bad_storage_options_stop_start_up_without_showing_them(run_python, production_env):
    production_env.update(
        DJANGO_MEDIA_STORAGE="django.core.files.storage.InMemoryStorage",
        DJANGO_MEDIA_STORAGE_OPTIONS='{"secret_key": "hunter2",}',
    )
    stderr = refused(run_python, production_env)
    assert "DJANGO_MEDIA_STORAGE_OPTIONS is not valid JSON" in stderr and "line 1 column" in stderr
    assert "hunter2" not in stderr
    production_env["DJANGO_MEDIA_STORAGE_OPTIONS"] = '["a list"]'
    assert "must be a JSON object" in refused(run_python, production_env)
    production_env.update(
        DJANGO_MEDIA_STORAGE="storages.backends.nowhere.Storage", DJANGO_MEDIA_STORAGE_OPTIONS=""
    )
    assert "add its package to requirements.in" in refused(run_python, production_env)


def test_the_servers_environment_passes_the_deploy_checks(run_python, production_env):
    """What production_env holds (a media share) is what settings.md asks of a farm's server."""
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert not FARM_CHECKS & set(result.stdout.split() + result.stderr.split())


def test_media_in_the_project_folder_stops_a_deploy_with_the_fix(run_python, production_env):
    production_env.pop("DJANGO_MEDIA_ROOT")
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert result.returncode != 0 and f"({farm.MEDIA_CHECK})" in result.stderr
    assert "DJANGO_MEDIA_ROOT=" in result.stderr  # the hint
    # Silenced, as a single-server trial may (iishost/docs/farm.md, "One server first").
    production_env["DJANGO_SILENCED_SYSTEM_CHECKS"] = farm.MEDIA_CHECK
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert f"({farm.MEDIA_CHECK})" not in result.stderr


def test_plain_check_and_invoke_serve_are_not_refused(run_python, production_env):
    """The farm checks are deploy checks: `manage.py check` (and so `invoke serve`) runs a
    single-server trial with media in the project folder."""
    production_env.pop("DJANGO_MEDIA_ROOT")
    result = run_python("manage.py", "check", "--fail-level", "WARNING", env=production_env)
    assert result.returncode == 0, result.stderr


def farm_warnings():
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.compatibility])
    return {message.id: message for message in found if message.id in FARM_CHECKS}


def test_a_per_process_cache_is_refused_for_cache_and_sessions(settings):
    settings.MEDIA_ROOT = r"\\files\site\media"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    found = farm_warnings()
    assert set(found) == {farm.CACHE_CHECK, farm.SESSION_CHECK}
    assert "LocMemCache" in found[farm.CACHE_CHECK].msg and "REDIS_URL=" in found[farm.CACHE_CHECK].hint
    assert "signed-out session stays valid" in found[farm.SESSION_CHECK].msg


def test_a_cache_on_this_servers_disk_is_refused_and_on_a_share_is_not(settings, tmp_path):
    settings.MEDIA_ROOT = r"\\files\site\media"
    filebased = "django.core.cache.backends.filebased.FileBasedCache"
    settings.CACHES = {"default": {"BACKEND": filebased, "LOCATION": str(tmp_path)}}
    assert farm.CACHE_CHECK in farm_warnings()
    settings.CACHES = {"default": {"BACKEND": filebased, "LOCATION": r"\\files\site\cache"}}
    assert farm_warnings() == {}


def test_file_sessions_on_this_server_are_refused(settings):
    settings.MEDIA_ROOT = r"\\files\site\media"
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.file"
    assert set(farm_warnings()) == {farm.SESSION_CHECK}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    assert farm_warnings() == {}


def test_media_in_object_storage_is_not_refused(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    assert farm_warnings() == {}


def test_invoke_deploy_names_each_farm_checks_fix():
    """`invoke deploy` refuses with the fix (iishost/deploy/checks.py), not just the id."""
    for check in FARM_CHECKS:
        assert check in deploy_checks.KNOWN_FIXES and check in deploy_checks.KNOWN_FIXES[check]
    output = (
        f"SystemCheckError: System check identified some issues:\n?: ({farm.MEDIA_CHECK}) Uploaded media ..."
    )

    class Answer:
        returncode, text = 1, output

    problem, _ = deploy_checks.django_checks(
        from_config({"iis": {"site_name": "s", "app_pool": "s"}}, django_settings.BASE_DIR),
        "python", lambda argv: Answer,
    )  # fmt: skip
    assert "DJANGO_MEDIA_ROOT" in str(problem)


def test_health_names_the_static_manifest_and_the_release(client, settings, tmp_path):
    settings.HEALTH_SHOWS_RELEASE = True
    settings.STATIC_ROOT, settings.BASE_DIR = tmp_path / "static", tmp_path
    response = client.get("/health/")
    assert response.status_code == 200
    assert response[farm.MANIFEST_HEADER] == "" and response[farm.RELEASE_HEADER] == ""
    (tmp_path / "static").mkdir()
    manifest = tmp_path / "static" / farm.MANIFEST
    manifest.write_bytes(b'{"paths": {"a.css": "a.0123.css"}, "version": "1.1"}')
    (tmp_path / "RELEASE").write_text("2026.12.1 (abc123)\n", encoding="utf-8")
    response = client.get("/health/")
    assert response[farm.MANIFEST_HEADER] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert response[farm.RELEASE_HEADER] == "2026.12.1 (abc123)"
    manifest.write_bytes(b'{"paths": {}, "version": "1.1"}  ')  # collectstatic again: hashed again
    assert client.get("/health/")[farm.MANIFEST_HEADER] == hashlib.sha256(manifest.read_bytes()).hexdigest()
