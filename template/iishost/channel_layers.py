"""The Channels layer from the environment, and the check that it reaches every process.

A WebSocket consumer talks to the others (a group, `channel_layer.group_send`) through the
channel layer. IIS runs `processesPerApplication` uvicorn processes (web.config) and a farm runs
several servers; each connection lives in one of them. channels_redis's `RedisChannelLayer` (the
stable one; its Pub/Sub variant is marked beta) carries a message to every process and server that
shares the Redis server. Without `REDIS_URL` the layer is Channels' `InMemoryChannelLayer`, which
only reaches the connections of the process that sent: fine for `invoke run` and tests, and
silently wrong behind IIS with more than one process, which the deploy check below refuses.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from .envvars import SettingError, _value

IN_MEMORY = "channels.layers.InMemoryChannelLayer"
REDIS = "channels_redis.core.RedisChannelLayer"
SCHEMES = ("redis", "rediss", "unix")
CHECK_ID = "iishost.W001"


def redis_url(name: str = "REDIS_URL") -> str:
    """The Redis URL in `name` ("" when unset), checked: a malformed one stops start-up naming the
    variable, never its value (it may hold a password). The channel layer and a farm's cache use it."""
    url = _value(name)
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in SCHEMES or not (parts.hostname or parts.path):
        raise SettingError(
            f"{name} is not a Redis URL: the form is redis://[:password@]host:6379/0 (rediss:// for "
            "TLS, unix:///path/to/redis.sock); percent-encode @ : / # ? % in the password. "
            "The value is not shown here because it may hold a password."
        )
    return url


def channel_layers(name: str = "REDIS_URL") -> dict:
    """CHANNEL_LAYERS for settings.py: Redis at the URL in `name`, or in-memory when it is unset."""
    url = redis_url(name)
    if not url:
        return {"default": {"BACKEND": IN_MEMORY}}
    return {"default": {"BACKEND": REDIS, "CONFIG": {"hosts": [url]}}}


def processes_per_application(web_config: Path | str) -> int:
    """web.config's `processesPerApplication` (HttpPlatformHandler's default, 1, when unset)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(web_config).getroot()  # noqa: S314 (the project's own web.config)
    except (OSError, ET.ParseError):
        return 1
    platform = root.find("system.webServer/httpPlatform")
    value = platform.get("processesPerApplication", "1") if platform is not None else "1"
    return int(value) if value.isdigit() else 1


def single_process_layer(layers: dict, processes: int) -> str | None:
    """Why these layers lose messages between `processes` backends, or None when they do not."""
    backend = layers.get("default", {}).get("BACKEND", "")
    if processes > 1 and backend == IN_MEMORY:
        return (
            f"The channel layer is in memory ({IN_MEMORY}: REDIS_URL is not set) but web.config "
            f"starts {processes} processes (processesPerApplication): a message sent to a group "
            "reaches only the WebSocket clients of the process that sent it."
        )
    return None


FIX = (
    "Set REDIS_URL=redis://host:6379/0 in .env (a Redis server every process and server reaches; "
    'iishost/docs/intranet.md, "WebSockets"), or set processesPerApplication="1" in web.config.'
)


def register_check(web_config: Path | str) -> None:
    """Register the deploy check (`manage.py check --deploy`, which `invoke deploy` runs and which
    stops it on any warning) for the project's web.config."""
    from django.core import checks

    @checks.register(checks.Tags.compatibility, deploy=True)
    def channel_layer_reaches_every_process(app_configs, **kwargs):
        from django.conf import settings

        problem = single_process_layer(
            getattr(settings, "CHANNEL_LAYERS", {}), processes_per_application(web_config)
        )
        return [checks.Warning(problem, hint=FIX, id=CHECK_ID)] if problem else []
