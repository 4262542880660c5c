"""The ASGI application web.config starts, called over the ASGI protocol itself."""

import asyncio

import pytest

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
    """The project's handler with HTTPS on, behind the X-Forwarded-* reading asgi.py puts in front
    of it (iishost.forwarded; uvicorn runs with --no-proxy-headers)."""
    from django.core.handlers.asgi import ASGIHandler

    from iishost.forwarded import ForwardedHeaders

    settings.SECURE_SSL_REDIRECT = True
    return lambda trusted=(): ForwardedHeaders(ASGIHandler(), trusted)


@pytest.mark.parametrize(
    ("forwarded_for", "forwarded_proto", "trusted", "secure"),
    [
        (None, None, (), False),
        (b"198.51.100.7:4000", b"http", (), False),
        (b"198.51.100.7:4000", b"https", (), True),  # IIS terminated TLS and is the only hop
        # A plain-HTTP client forging "https": HttpPlatformHandler appends its own "http" and
        # only that entry is believed (SECURE_PROXY_SSL_HEADER would take the forged one).
        (b"203.0.113.9, 198.51.100.7:4000", b"https, http", (), False),
        # Behind a load balancer that terminated TLS: believed only when it is a trusted proxy.
        (b"198.51.100.7, 10.0.0.5:4000", b"https, https", ("10.0.0.5",), True),
        (b"198.51.100.7, 10.0.0.5:4000", b"https, https", (), True),  # IIS itself was on https
        (b"198.51.100.7, 10.0.0.5:4000", b"https, http", (), False),
        (b"198.51.100.7, 10.0.0.5:4000", b"https, http", ("10.0.0.0/8",), True),
    ],
)
def test_https_detection_cannot_be_forged(
    https_redirecting_app, forwarded_for, forwarded_proto, trusted, secure
):
    headers = [(b"x-forwarded-for", forwarded_for)] if forwarded_for else []
    headers += [(b"x-forwarded-proto", forwarded_proto)] if forwarded_proto else []
    status, headers_out, _ = asyncio.run(
        call(https_redirecting_app(trusted), http_scope("/health/", headers))
    )
    if secure:
        assert status == 200
    else:
        assert status == 301
        assert headers_out[b"location"].startswith(b"https://")


def test_forwarded_proto_from_an_untrusted_client_is_ignored(https_redirecting_app):
    headers = [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"1.2.3.4:1")]
    scope = http_scope("/health/", headers, client=("203.0.113.9", 4000))
    status, _, _ = asyncio.run(call(https_redirecting_app(["0.0.0.0/0"]), scope))
    assert status == 301
