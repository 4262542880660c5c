"""The `farm` option end to end: one project rendered and bootstrapped, two checkouts of it served
as two nodes (each through the IIS emulator on its own loopback port, with web.config's two uvicorn
processes) sharing a real PostgreSQL, a real Redis and one media folder, as servers behind a load
balancer do. Whatever one node writes, the other reads: a sign-in and a sign-out, a cached value, an
uploaded file; and both name the same static manifest in /health/. A last test runs the nodes with a
per-process cache (what iishost.W101 refuses) and sees them disagree, so the others can fail."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from conftest import bootstrap, render, venv_python
from test_serve_e2e import free_port, request, sign_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name == "nt", reason="stops the emulators with POSIX process-group signals"),
]
PASSWORD = "a long pass phrase 42"
# A node's settings: the project's, with views that use the cache and the media storage inside the
# node's own processes (a management command on the node would not share their memory). The
# negative control swaps in the per-process cache a farm must not use.
PROBE_SETTINGS = """import os

from my_site.settings import *  # noqa: F403

ROOT_URLCONF = "farm_probe_urls"
if os.environ.get("FARM_PROBE_LOCMEM") == "1":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
"""
PROBE_URLS = """from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.urls import path

from my_site.urls import urlpatterns as site


def cache_set(request):
    cache.set(request.GET["key"], request.GET["value"], 300)
    return HttpResponse("set")


def cache_get(request):
    return HttpResponse(cache.get(request.GET["key"], "<missing>"))


def media_save(request):
    return HttpResponse(default_storage.save(request.GET["name"], ContentFile(request.GET["text"].encode())))


def media_read(request):
    if not default_storage.exists(request.GET["name"]):
        return HttpResponse("<missing>", status=404)
    with default_storage.open(request.GET["name"]) as file:
        return HttpResponse(file.read())


urlpatterns = [
    *site,
    path("probe/cache/set/", cache_set),
    path("probe/cache/get/", cache_get),
    path("probe/media/save/", media_save),
    path("probe/media/read/", media_read),
]
"""


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    from redis_server import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="module")
def farm(template_repo, tmp_path_factory, postgres_server, redis_url):
    """Nodes A and B (B: a copy of A's checkout using A's venv), their shared environment, and the
    database migrated once with a superuser, as the first node of a rollout leaves it."""
    base = tmp_path_factory.mktemp("farm")
    node_a = render(template_repo, base / "node a", database="postgresql", farm=True)
    result = bootstrap(node_a)
    assert result.returncode == 0, result.stdout + result.stderr
    (node_a / "farm_probe_settings.py").write_text(PROBE_SETTINGS, encoding="utf-8")
    (node_a / "farm_probe_urls.py").write_text(PROBE_URLS, encoding="utf-8")
    (node_a / "RELEASE").write_text("farm-test 1\n", encoding="utf-8")
    web_config = node_a / "web.config"
    web_config.write_text(
        web_config.read_text(encoding="utf-8").replace(
            'value="my_site.settings"', 'value="farm_probe_settings"'
        ),
        encoding="utf-8",
    )
    node_b = base / "node b"
    shutil.copytree(node_a, node_b, ignore=shutil.ignore_patterns(".venv", "static", "logs", "media", ".git"))
    (node_b / ".venv").symlink_to(node_a / ".venv", target_is_directory=True)
    (node_b / "logs").mkdir()
    share = base / "share" / "media"
    share.mkdir(parents=True)
    postgres_server.sql("CREATE DATABASE farm OWNER app")
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    env = {
        **clean,
        "DATABASE_URL": postgres_server.url("farm"),
        "REDIS_URL": redis_url,
        "DJANGO_MEDIA_ROOT": str(share),
        "DJANGO_SECRET_KEY": "the same key on every node of the farm, long and random enough 1234567890",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "DJANGO_SETTINGS_MODULE": "farm_probe_settings",
    }
    for node, commands in (
        (node_a, [["migrate", "--noinput"], ["createcachetable"], ["collectstatic", "--noinput"]]),
        (node_b, [["collectstatic", "--noinput"]]),
    ):
        for command in commands:
            result = manage(node, env, *command)
            assert result.returncode == 0, result.stdout + result.stderr
    result = manage(
        node_a, {**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        "createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.com",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return node_a, node_b, env, share


def manage(node: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_python(node), "manage.py", *args],
        cwd=node,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@contextlib.contextmanager
def serving(node: Path, env: dict):
    """The node through the IIS emulator until the block ends (then Ctrl-C, as `invoke serve` does)."""
    port = free_port()
    output = node / "logs" / f"emulator-{port}.txt"
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [venv_python(node), "-m", "iishost.emulator", "--site-root", str(node), "--port", str(port)],
            cwd=node, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        for _ in range(600):
            assert process.poll() is None, output.read_text()
            with contextlib.suppress(OSError):
                if request(port, "/health/")[0] == 200:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"no 200 from /health/ within 120 s: {output.read_text()}")
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise


@contextlib.contextmanager
def two_nodes(farm, **extra: str):
    node_a, node_b, env, _ = farm
    with serving(node_a, {**env, **extra}) as a, serving(node_b, {**env, **extra}) as b:
        yield a, b


@pytest.fixture(scope="module")
def nodes(farm):
    with two_nodes(farm) as ports:
        yield ports


def signed_in(port: int, session: str) -> bool:
    """Whether the admin index opens (200) rather than sending to the login page (302)."""
    status, _, _ = request(port, "/admin/", headers={"Cookie": f"sessionid={session}"})
    assert status in (200, 302)
    return status == 200


def sign_out(port: int, session: str) -> None:
    csrf = "0123456789abcdefghijklmnopqrstuv"  # an unmasked secret, as the CSRF cookie holds one
    status, _, _ = request(
        port, "/admin/logout/", "POST", body=f"csrfmiddlewaretoken={csrf}",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Cookie": f"sessionid={session}; csrftoken={csrf}"},
    )  # fmt: skip
    assert status == 200, "the sign-out was refused"


def test_a_sign_in_on_one_node_holds_on_the_other_and_so_does_the_sign_out(nodes):
    a, b = nodes
    session = sign_in(a, "boss", PASSWORD)
    # Twice: each node runs two processes (web.config), and the emulator takes them in turn.
    assert signed_in(b, session) and signed_in(b, session)
    sign_out(a, session)
    assert not signed_in(b, session) and not signed_in(b, session)


def test_a_value_cached_through_one_node_is_read_through_the_other(nodes):
    a, b = nodes
    assert request(a, "/probe/cache/set/?key=greeting&value=hello+from+A")[2] == "set"
    assert [request(b, "/probe/cache/get/?key=greeting")[2] for _ in range(2)] == ["hello from A"] * 2


def test_a_file_saved_through_one_node_is_read_through_the_other(nodes, farm):
    a, b = nodes
    status, _, name = request(a, "/probe/media/save/?name=notes/hello.txt&text=uploaded+on+A")
    assert status == 200
    assert (farm[3] / name).read_text(encoding="utf-8") == "uploaded on A"  # in the share, not node A
    assert request(b, f"/probe/media/read/?name={urllib.parse.quote(name)}")[2] == "uploaded on A"


def test_both_nodes_name_the_same_static_manifest_and_release(nodes, farm):
    a, b = nodes
    manifest = hashlib.sha256((farm[0] / "static" / "staticfiles.json").read_bytes()).hexdigest()
    for port in (a, b):
        _, headers, _ = request(port, "/health/")
        assert headers["X-Static-Manifest"] == manifest and headers["X-Release"] == "farm-test 1"


def test_with_a_per_process_cache_the_nodes_disagree(farm):
    """The negative control: with LocMemCache (iishost.W101) a cached value stays in one node, and a
    session signed out through A stays valid on B, where its cached copy lives on."""
    with two_nodes(farm, FARM_PROBE_LOCMEM="1") as (a, b):
        assert request(a, "/probe/cache/set/?key=greeting&value=only+A")[2] == "set"
        assert request(b, "/probe/cache/get/?key=greeting")[2] != "only A"
        session = sign_in(a, "boss", PASSWORD)
        assert signed_in(b, session) and signed_in(b, session)  # read from the database, cached in B
        sign_out(a, session)
        assert signed_in(b, session) or signed_in(b, session)
