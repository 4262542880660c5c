"""A farm: several IIS servers behind a load balancer, one site (iishost/docs/farm.md).

Any server may answer any request, so whatever one server writes the others must read: the
database, the cache (and the sessions it holds), uploaded media and the channel layer live outside
the servers. This module turns the environment into those settings, registers the deploy checks
that refuse a setting only one server would see, and gives /health/ the headers a balancer or the
rollout playbook compares between servers (the static manifest and the release).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import subprocess
from pathlib import Path, PurePosixPath, PureWindowsPath

from .channel_layers import redis_url
from .envvars import SettingError, _value, env_int

REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"
CACHE_TABLE = "django_cache"  # what `manage.py createcachetable` creates (invoke deploy runs it)
# Caches only one process (LocMem) or one server's disk (FileBased) holds.
LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)
FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"
# Sessions in the database, read through the shared cache: durable, and fast while cached.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
MANIFEST = "staticfiles.json"  # ManifestStaticFilesStorage's and ServeStatic's manifest_name
MANIFEST_HEADER = "X-Static-Manifest"
RELEASE_HEADER = "X-Release"
CACHE_CHECK, MEDIA_CHECK, SESSION_CHECK = "iishost.W101", "iishost.W102", "iishost.W103"


def caches(key_prefix: str, name: str = "REDIS_URL") -> dict:
    """CACHES: Redis at the URL in `name` (Django's RedisCache), else the database's cache table.
    KEY_PREFIX keeps this site's keys apart from another's on the same Redis; DJANGO_CACHE_VERSION
    (a whole number) changes every key at once, e.g. when a release stores a value in a new shape
    that the old release, still serving during a rolling deploy, must not read."""
    url = redis_url(name)
    common = {"KEY_PREFIX": key_prefix, "VERSION": env_int("DJANGO_CACHE_VERSION", 1, minimum=1)}
    if not url:
        return {"default": {"BACKEND": DATABASE_CACHE, "LOCATION": CACHE_TABLE, **common}}
    # redis-py waits forever on a silent server by default: a request fails after 5 s instead.
    options = {"socket_connect_timeout": 5, "socket_timeout": 5}
    return {"default": {"BACKEND": REDIS_CACHE, "LOCATION": url, "OPTIONS": options, **common}}


def is_unc(path) -> bool:
    """\\\\server\\share\\... (or //server/share/...): a folder every server reaches by the same name."""
    text = str(path)
    return text.startswith(("\\\\", "//")) and len(text) > 2


def media_root(default: Path, name: str = "DJANGO_MEDIA_ROOT") -> Path | str:
    """MEDIA_ROOT: the folder in `name` (a share, \\\\files\\site\\media), else `default`. A UNC path
    stays a string: POSIX's Path would not keep its backslashes apart."""
    value = _value(name)
    if not value:
        return default
    if not (is_unc(value) or PureWindowsPath(value).is_absolute() or PurePosixPath(value).is_absolute()):
        raise SettingError(
            f"{name}={value!r} is not an absolute folder: give a share every server reaches, e.g. "
            f'{name}=\\\\files\\site\\media (iishost/docs/farm.md, "Media").'
        )
    return value if is_unc(value) else Path(value)


def media_storage(name: str = "DJANGO_MEDIA_STORAGE", options: str = "DJANGO_MEDIA_STORAGE_OPTIONS") -> dict:
    """STORAGES["default"]: Django's FileSystemStorage (on MEDIA_ROOT), or the backend whose dotted
    path is in `name` (e.g. django-storages' storages.backends.s3.S3Storage) with the JSON object
    in `options` as its OPTIONS. The options' value is never shown: it may hold a secret key."""
    backend = _value(name)
    if not backend:
        backend = FILE_SYSTEM
    module, _, cls = backend.rpartition(".")
    try:
        found = backend == FILE_SYSTEM or (
            bool(module and cls) and importlib.util.find_spec(module) is not None
        )
    except (ImportError, ValueError):
        found = False
    if not found:
        raise SettingError(
            f"{name}={backend!r}: no module {module or backend!r} is installed. Give the dotted path of a "
            "storage class, e.g. storages.backends.s3.S3Storage, and add its package to requirements.in "
            "(django-storages[s3]), then run `invoke lock` and bootstrap.py."
        )
    text = _value(options)
    if not text:
        return {"BACKEND": backend}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingError(
            f"{options} is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}): write one JSON "
            f'object, e.g. {options}={{"bucket_name": "site-media", "region_name": "eu-west-1"}}. The value '
            "is not shown here because it may hold a secret key."
        ) from None
    if not isinstance(parsed, dict):
        raise SettingError(
            f'{options} must be a JSON object of the backend\'s options ({{"name": value, ...}}), '
            f"not a JSON {type(parsed).__name__}."
        )
    return {"BACKEND": backend, "OPTIONS": parsed}


# ---- Deploy checks: settings only one server (or one process) would see ----


def local_cache(cache: dict) -> str | None:
    """Why this cache is not shared between servers, or None when it is."""
    backend = cache.get("BACKEND", "")
    if backend == LOCAL_CACHES[0]:
        return "in each process's memory (LocMemCache)"
    if backend == LOCAL_CACHES[1] and not is_unc(cache.get("LOCATION", "")):
        return f"on this server's disk (FileBasedCache in {cache.get('LOCATION', '')})"
    return None


def cache_problem(settings) -> str | None:
    where = local_cache(getattr(settings, "CACHES", {}).get("default", {}))
    if where:
        return (
            f"The default cache is {where}: on a farm each server caches its own values, so a value "
            "set or deleted through one server is not seen through the others."
        )
    return None


def media_problem(settings, base_dir: Path) -> str | None:
    storage = getattr(settings, "STORAGES", {}).get("default", {}).get("BACKEND", FILE_SYSTEM)
    root = settings.MEDIA_ROOT
    if storage != FILE_SYSTEM or is_unc(root):
        return None
    try:
        inside = Path(root).resolve().is_relative_to(Path(base_dir).resolve())
    except OSError:
        inside = False
    if inside:
        return (
            f"Uploaded media are saved in the project folder ({root}): on a farm a file uploaded "
            "through one server is missing on the others."
        )
    return None


def session_problem(settings) -> str | None:
    engine = getattr(settings, "SESSION_ENGINE", "")
    if engine == "django.contrib.sessions.backends.file" and not is_unc(
        getattr(settings, "SESSION_FILE_PATH", None) or ""
    ):
        return (
            "Sessions are files on this server (SESSION_ENGINE file): a user signed in through one "
            "server is not signed in through the others."
        )
    if engine in ("django.contrib.sessions.backends.cache", SESSION_ENGINE):
        alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
        where = local_cache(getattr(settings, "CACHES", {}).get(alias, {}))
        if where:
            return (
                f"Sessions are read from the cache {alias!r}, which is {where}: a sign-in or sign-out "
                "through one server is not seen through the others (a signed-out session stays valid "
                "where it is still cached)."
            )
    return None


FIXES = {
    CACHE_CHECK: "Set REDIS_URL=redis://host:6379/0 in .env (a Redis server every server reaches), or "
    'keep settings.py\'s farm CACHES without REDIS_URL: the database cache (iishost/docs/farm.md, "Cache").',
    MEDIA_CHECK: "Set DJANGO_MEDIA_ROOT=\\\\files\\site\\media (a share every server reaches) or "
    'DJANGO_MEDIA_STORAGE (object storage) in .env (iishost/docs/farm.md, "Media"); on a single '
    f"server, DJANGO_SILENCED_SYSTEM_CHECKS={MEDIA_CHECK}.",
    SESSION_CHECK: "Keep SESSION_ENGINE cached_db (or db) with a shared cache: REDIS_URL in .env "
    '(iishost/docs/farm.md, "Sessions").',
}


def problems(settings, base_dir: Path) -> list[tuple[str, str]]:
    """(check id, message) for each farm setting only one server would see."""
    found = [
        (CACHE_CHECK, cache_problem(settings)),
        (MEDIA_CHECK, media_problem(settings, base_dir)),
        (SESSION_CHECK, session_problem(settings)),
    ]
    return [(check, message) for check, message in found if message]


_registered: list[Path] = []


def registered() -> bool:
    """Whether this process's settings are a farm's (they called register_checks): the template's
    farm tests and fixtures apply."""
    return bool(_registered)


def register_checks(base_dir: Path) -> None:
    """Register the farm's deploy checks (`manage.py check --deploy`, which `invoke deploy` runs and
    which stops it on any warning; `invoke serve` and the tests do not run them)."""
    from django.core import checks

    _registered.append(Path(base_dir))

    @checks.register(checks.Tags.compatibility, deploy=True)
    def farm_settings_are_shared(app_configs, **kwargs):
        from django.conf import settings

        found = problems(settings, base_dir)
        return [checks.Warning(message, hint=FIXES[check], id=check) for check, message in found]


# ---- /health/: what a balancer or the rollout compares between servers ----


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, stamp: tuple[int, int]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest_sha256(static_root) -> str:
    """Hex SHA-256 of STATIC_ROOT/staticfiles.json's bytes ("" when missing): equal on two servers
    exactly when collectstatic gave them the same static files. Hashed again only when it changes."""
    path = Path(static_root) / MANIFEST
    try:
        info = path.stat()
        return _file_sha256(str(path), (info.st_mtime_ns, info.st_size))
    except OSError:
        return ""


@functools.cache
def _git_describe(base_dir: str) -> str:
    if not (Path(base_dir) / ".git").exists():
        return ""
    try:
        result = subprocess.run(
            ["git", "describe", "--tags", "--always", "--dirty"],
            cwd=base_dir, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def release(base_dir) -> str:
    """The RELEASE file's first line, else `git describe` of the checkout (once per process: the
    code a process runs is the code it started with), else "". Printable ASCII only: a header."""
    try:
        text = (Path(base_dir) / "RELEASE").read_text(encoding="utf-8", errors="replace")
        lines = text.strip().splitlines()
        text = lines[0] if lines else ""
    except OSError:
        text = _git_describe(str(base_dir))
    return "".join(c for c in text.strip() if " " <= c <= "~")[:200]


def health_headers(static_root, base_dir) -> dict[str, str]:
    return {MANIFEST_HEADER: manifest_sha256(static_root), RELEASE_HEADER: release(base_dir)}
