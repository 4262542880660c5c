"""Test helpers shared by this project's tests and the template's: an ASGI client that speaks the
protocol as uvicorn does, and fixtures (import them into a conftest.py to use them)."""

import os
import secrets
import subprocess
import sys

import pytest

from . import PROJECT_ROOT


@pytest.fixture(autouse=True)
def unhashed_static_files(settings):
    """Tests render templates without running collectstatic first (no manifest to look in)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def requests_over_plain_http(request):
    """The tests' requests come over plain HTTP (Django's test client, ASGI scopes without IIS's
    X-Forwarded-Proto: https): an HTTPS site would answer each with its redirect to https://. The
    HTTPS settings themselves are checked under production_env (tests/test_settings.py). Nothing
    to do where no Django project is set up (iishost/tests/unit in the template's own suite)."""
    try:
        from django.conf import settings
    except ImportError:
        return
    if settings.configured:
        request.getfixturevalue("settings").SECURE_SSL_REDIRECT = False


@pytest.fixture
def production_env(settings):
    """The environment iishost/docs/settings.md describes for the server: DEBUG off, a real secret key,
    with WebSockets a Redis channel layer (iishost/docs/intranet.md; nothing here connects to it) and
    on a farm the media share (iishost/docs/farm.md)."""
    from .farm import registered

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), PYTHONUTF8="1")
    if hasattr(settings, "CHANNEL_LAYERS"):
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    if registered():
        env["DJANGO_MEDIA_ROOT"] = "\\\\files\\site\\media"
    return env


@pytest.fixture
def run_python():
    """Run this venv's Python in the project folder in a fresh process (settings load anew)."""

    def run(*args, env):
        return subprocess.run(
            [sys.executable, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    return run


def http_scope(path, headers=(), client=("127.0.0.1", 50000), scheme="http", method="GET"):
    """An HTTP scope for `path` (which may carry a query string) from `client`."""
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }


async def call(app, scope, body=b""):
    """Send one request; return (status, headers as sent, body) once the app has finished."""
    from asgiref.testing import ApplicationCommunicator  # here: the template's own tests run without Django

    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=10)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return start["status"], start["headers"], content
