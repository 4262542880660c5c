"""Typed settings from environment variables (or .env), for settings.py and the ASGI handler.

A malformed value stops the app with a message naming the variable, its value and what is
expected, instead of a bare ValueError from deep inside Django or logging. An empty or unset
variable means the default.
"""

import os
from pathlib import Path

try:
    from django.core.exceptions import ImproperlyConfigured as _Base
except ImportError:  # the template repository runs this module's unit tests without Django
    _Base = Exception


class SettingError(_Base):
    """A malformed environment setting: Django's ImproperlyConfigured when Django is installed."""


TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def _value(name):
    return os.environ.get(name, "").strip()


def env_bool(name, default):
    value = _value(name)
    if not value:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise SettingError(f"{name}={value!r} is not a boolean: use 1 or 0.")


def env_int(name, default, *, minimum=0, unit=""):
    value = _value(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        expected = f"a whole number{' of ' + unit if unit else ''}, {minimum} or more"
        raise SettingError(f"{name}={value!r} is not {expected}: e.g. {name}={default}.")
    return number


def env_choice(name, default, choices):
    """One of `choices` (upper-case names, e.g. log levels), in any case."""
    value = _value(name)
    if not value:
        return default
    if value.upper() not in choices:
        raise SettingError(f"{name}={value!r} is not one of {', '.join(choices)}.")
    return value.upper()


def env_list(name, default):
    """Separated by commas or spaces."""
    value = _value(name)
    return value.replace(",", " ").split() if value else list(default)


def env_hostnames(name, default):
    """Host names for ALLOWED_HOSTS: never "*", which would accept any Host header."""
    names = env_list(name, default)
    if "*" in names:
        raise SettingError(
            f'{name}={_value(name)!r}: "*" would accept any Host header (host-header poisoning); '
            "list the real host names, e.g. www.example.com,example.com ('*.example.com' allows subdomains)."
        )
    return names


def env_folder(name, default):
    """A folder that must exist: a missing one would lose every line written there."""
    folder = Path(_value(name) or default)
    if not folder.is_dir():
        raise SettingError(
            f"{name}={str(folder)!r} is not a folder: create it (the app-pool identity needs Modify on "
            f"it: invoke acl.grant), or unset {name} for the default ({default})."
        )
    return folder


def env_database(name="DATABASE_URL", default=None):
    """dj-database-url's settings for the URL; an error names the variable, never the value (it
    holds a password)."""
    import dj_database_url

    try:
        return dj_database_url.config(env=name, default=default)
    except ValueError as exc:
        raise SettingError(
            f"{name} is not a database URL ({exc}). The form is scheme://user:password@host:port/name; "
            "percent-encode @ : / # ? % in the user name and password (e.g. p%40ss for p@ss). "
            "The value is not shown here because it holds a password."
        ) from None
