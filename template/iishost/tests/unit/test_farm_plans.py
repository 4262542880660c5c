"""A farm's deploy planning and settings helpers, without Django or a rendered project: the media
grant (a local folder, a share, object storage), the cache table step, the .env the planner reads
like settings.py does, and the /health/ values."""

import dataclasses
import hashlib
from pathlib import Path

import pytest

from iishost import farm
from iishost.deploy.acl.plan import media_folder, media_notes, plan_grants, targets
from iishost.deploy.acl.state import AclState
from iishost.deploy.app_plan import plan_app
from iishost.deploy.config import SettingsError, from_config, project_env

ROOT = Path(r"C:\sites\my site")
HOME = r"C:\Program Files\Python312"
SHARE = r"\\files\site\media"


@pytest.fixture(autouse=True)
def no_media_variables(monkeypatch):
    for name in ("DJANGO_MEDIA_ROOT", "DJANGO_MEDIA_STORAGE", "REDIS_URL", "DJANGO_CACHE_VERSION"):
        monkeypatch.delenv(name, raising=False)


def settings(root=ROOT, farm_on=True, database="postgresql"):
    config = {
        "project": {"slug": "my_site", "database": database, "farm": "true" if farm_on else "false"},
        "iis": {"site_name": "my_site", "app_pool": "my_site"},
    }
    return from_config(config, root)


def granted(s) -> dict[str, str]:
    return {step.argv[1]: step.argv[3] for step in plan_grants(s, "icacls", HOME, AclState())}


def test_a_share_is_not_granted_here_and_the_note_names_the_computer_account(monkeypatch):
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", SHARE)
    s = settings()
    assert media_folder(s) is None
    assert SHARE not in granted(s) and str(ROOT / "media") not in granted(s)
    assert str(ROOT / "logs") in granted(s)  # the rest stays
    (note,) = media_notes(s, "WEB1")
    assert SHARE in note and "DOMAIN\\WEB1$" in note and "IIS AppPool\\my_site" in note
    assert "every other server" in note


def test_a_local_media_root_is_granted_modify_instead_of_media(monkeypatch):
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", r"D:\media")
    s = settings()
    assert granted(s)[r"D:\media"] == "IIS AppPool\\my_site:(OI)(CI)M"
    assert str(ROOT / "media") not in granted(s)
    assert media_notes(s) == []


def test_object_storage_has_no_folder_to_grant(monkeypatch):
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", r"D:\media")
    monkeypatch.setenv("DJANGO_MEDIA_STORAGE", "storages.backends.s3.S3Storage")
    s = settings()
    assert media_folder(s) is None and not [t for t in targets(s, HOME) if "media" in t.path]
    assert "object storage" in media_notes(s)[0]


def test_without_the_farm_option_media_stays_in_the_project(monkeypatch):
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", SHARE)  # settings.py ignores it too
    s = settings(farm_on=False)
    assert granted(s)[str(ROOT / "media")].endswith("M") and media_notes(s) == []


def test_the_planner_reads_media_from_dot_env_and_the_environment_wins(tmp_path, monkeypatch):
    pytest.importorskip("dotenv", reason="python-dotenv is the project's (the template's own run lacks it)")
    (tmp_path / ".env").write_text(f"DJANGO_SECRET_KEY=x\nDJANGO_MEDIA_ROOT={SHARE}\n", encoding="utf-16")
    assert settings(tmp_path).media_root == SHARE
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", r"E:\uploads")
    assert settings(tmp_path).media_root == r"E:\uploads"
    assert project_env(tmp_path, "DJANGO_MEDIA_STORAGE") == ""
    monkeypatch.delenv("DJANGO_MEDIA_ROOT")
    (tmp_path / ".env").write_bytes(b"DJANGO_MEDIA_ROOT=caf\xe9\n")  # cp1252, as Notepad may save
    with pytest.raises(SettingsError, match="line 1 is not UTF-8"):
        settings(tmp_path)


def test_a_farm_deploy_creates_the_cache_table_after_migrating():
    def commands(s):
        return [step.argv[2] if len(step.argv) > 2 else "" for step in plan_app(s, "python")]

    farm_steps = commands(settings())
    assert farm_steps.index("createcachetable") == farm_steps.index("migrate") + 1
    assert "createcachetable" not in commands(settings(farm_on=False))
    # The other nodes of a rollout (deploy.migrate false) change no database schema at all.
    later_node = dataclasses.replace(settings(), migrate=False)
    assert not {"migrate", "createcachetable"} & set(commands(later_node))


def test_the_cache_is_redis_with_a_url_and_the_database_without(monkeypatch):
    assert farm.caches("my_site")["default"]["BACKEND"] == farm.DATABASE_CACHE
    monkeypatch.setenv("REDIS_URL", "rediss://:pw@cache:6380/1")
    cache = farm.caches("my_site")["default"]
    assert cache["BACKEND"] == farm.REDIS_CACHE and cache["LOCATION"] == "rediss://:pw@cache:6380/1"
    assert cache["KEY_PREFIX"] == "my_site" and cache["VERSION"] == 1
    monkeypatch.setenv("REDIS_URL", "cache:6379")
    with pytest.raises(Exception, match="REDIS_URL is not a Redis URL"):
        farm.caches("my_site")


def test_media_root_keeps_a_share_as_written_and_refuses_a_relative_folder(monkeypatch):
    assert farm.media_root(Path("/p/media")) == Path("/p/media")
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", SHARE)
    assert farm.media_root(Path("/p/media")) == SHARE
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", r"uploads\media")
    with pytest.raises(Exception, match="not an absolute folder"):
        farm.media_root(Path("/p/media"))


def test_the_manifest_hash_is_of_the_files_bytes_and_empty_when_missing(tmp_path):
    assert farm.manifest_sha256(tmp_path) == ""
    (tmp_path / "staticfiles.json").write_bytes(b'{"paths": {}}')
    assert farm.manifest_sha256(tmp_path) == hashlib.sha256(b'{"paths": {}}').hexdigest()


def test_the_release_is_the_release_files_first_printable_line(tmp_path):
    (tmp_path / "RELEASE").write_text("v1.2.3\u00e9\x07 build 7\nsecond line\n", encoding="utf-8")
    assert farm.release(tmp_path) == "v1.2.3 build 7"
    (tmp_path / "RELEASE").unlink()
    assert farm.release(tmp_path) == ""  # no RELEASE, no .git: nothing to say
