"""iishost.channel_layers: the Channels layer from REDIS_URL, and when it cannot reach every process.

No Django or Channels needed: the template repository runs these too."""

import pytest

from iishost.channel_layers import (
    IN_MEMORY,
    REDIS,
    channel_layers,
    processes_per_application,
    single_process_layer,
)
from iishost.envvars import SettingError


def test_redis_url_gives_the_redis_layer_unset_the_in_memory_one(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert channel_layers() == {"default": {"BACKEND": IN_MEMORY}}
    for url in (
        "redis://:p%40ss@cache.example:6379/1",
        "rediss://cache.example:6380/0",
        "unix:///run/redis.sock",
    ):
        monkeypatch.setenv("REDIS_URL", url)
        assert channel_layers() == {"default": {"BACKEND": REDIS, "CONFIG": {"hosts": [url]}}}


@pytest.mark.parametrize(
    "url", ["http://cache:6379", "cache.example:6379", "redis://:secret@cache:port/0", "redis://"]
)
def test_a_malformed_redis_url_is_named_without_its_value(monkeypatch, url):
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(SettingError, match=r"REDIS_URL is not a Redis URL: the form is redis://") as error:
        channel_layers()
    assert "secret" not in str(error.value) and "cache" not in str(error.value), "a password stays hidden"


def test_processes_per_application_from_web_config(tmp_path):
    config = tmp_path / "web.config"
    config.write_text(
        '<configuration><system.webServer><httpPlatform processesPerApplication="2" /></system.webServer>'
        "</configuration>"
    )
    assert processes_per_application(config) == 2
    config.write_text("<configuration><system.webServer><httpPlatform /></system.webServer></configuration>")
    assert processes_per_application(config) == 1, "HttpPlatformHandler's default"
    assert processes_per_application(tmp_path / "missing.config") == 1


def test_only_an_in_memory_layer_behind_several_processes_is_a_problem():
    in_memory, redis = {"default": {"BACKEND": IN_MEMORY}}, {"default": {"BACKEND": REDIS}}
    problem = single_process_layer(in_memory, 2)
    assert problem and "web.config starts 2 processes" in problem and "REDIS_URL is not set" in problem
    assert single_process_layer(in_memory, 1) is None
    assert single_process_layer(redis, 4) is None
