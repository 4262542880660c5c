"""The ASGI application web.config starts, called over the ASGI protocol itself."""

import asyncio

import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from iishost import testing as asgi_client
from iishost.testing import http_scope


async def call(app, scope):
    status, headers, body = await asgi_client.call(app, scope)
    return status, {name.lower(): value for name, value in headers}, body


@pytest.fixture
def application():
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.ROOT_URLCONF.rsplit(".", 1)[0] + ".asgi").application


@pytest.mark.django_db(transaction=True)
def test_asgi_application_serves_the_home_page(application):
    status, headers, body = asyncio.run(call(application, http_scope("/")))
    assert status == 200
    assert b"<h1>" in body


def test_asgi_health_view_is_async_and_answers(application):
    from django.conf import settings
    from django.urls import resolve

    urlconf = __import__(settings.ROOT_URLCONF, fromlist=["urlpatterns"])
    assert asyncio.iscoroutinefunction(resolve("/health/", urlconf).func)
    status, _, body = asyncio.run(call(application, http_scope("/health/")))
    assert (status, body) == (200, b"ok")


@pytest.fixture
def https_redirecting_app(settings):
    """The project's handler with HTTPS on, behind uvicorn's proxy-header handling as web.config
    configures it (trust 127.0.0.1 only)."""
    from django.core.handlers.asgi import ASGIHandler

    settings.SECURE_SSL_REDIRECT = True
    return ProxyHeadersMiddleware(ASGIHandler(), trusted_hosts="127.0.0.1")


@pytest.mark.parametrize(
    ("forwarded_proto", "secure"),
    [
        (None, False),
        (b"http", False),
        (b"https", True),  # IIS terminated TLS and is the only hop
        # A plain-HTTP client forging "https": HttpPlatformHandler appends "http", uvicorn
        # refuses a list, so Django must not believe it (SECURE_PROXY_SSL_HEADER would).
        (b"https, http", False),
    ],
)
def test_https_detection_cannot_be_forged(https_redirecting_app, forwarded_proto, secure):
    headers = [(b"x-forwarded-proto", forwarded_proto)] if forwarded_proto else []
    status, headers_out, _ = asyncio.run(call(https_redirecting_app, http_scope("/health/", headers)))
    if secure:
        assert status == 200
    else:
        assert status == 301
        assert headers_out[b"location"].startswith(b"https://")


def test_forwarded_proto_from_an_untrusted_client_is_ignored(https_redirecting_app):
    scope = http_scope("/health/", [(b"x-forwarded-proto", b"https")], client=("203.0.113.9", 4000))
    status, _, _ = asyncio.run(call(https_redirecting_app, scope))
    assert status == 301
