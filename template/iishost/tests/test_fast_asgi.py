"""iishost.asgi_handler answers exactly as Django's own ASGIHandler, only with fewer thread hops.

The same browsing session (admin login with and without its CSRF token, sessions, auth, messages,
errors, template responses, sync and async views) runs against both handlers over the ASGI
protocol; the transcripts must be identical once random tokens are masked.
"""

import asyncio
import re
import threading
from http.cookies import SimpleCookie

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse
from django.utils.deprecation import MiddlewareMixin

from iishost import asgi_handler as fast_asgi
from iishost.testing import call, http_scope, unhashed_static_files  # noqa: F401  (autouse)

# A middleware with async code of its own (ServeStatic's, with static_files: app) sends every
# request to Django's handler, whose threads these tests do not describe (iishost/docs/speed.md).
NEEDS_FAST_PATH = pytest.mark.skipif(
    not fast_asgi.FastASGIHandler(threads=1).fast,
    reason="this project's MIDDLEWARE has async code of its own: Django's handler serves it",
)
NEEDS_EXECUTOR_CONTEXTS = pytest.mark.skipif(
    not fast_asgi.EXECUTOR_CONTEXTS,
    reason="asgiref < 3.13 (Python 3.10) cannot bind a request's context to a thread we keep: "
    "one thread per request there, as under Django's own handler",
)

pytestmark = [
    pytest.mark.urls("iishost.tests.fast_asgi_urls"),
    pytest.mark.django_db(transaction=True),
]
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """A client with a cookie jar that talks ASGI to one application."""

    def __init__(self, app):
        self.app, self.cookies = app, {}

    async def request(self, method, path, body=b"", headers=()):
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items()).encode()
        form = [(b"content-type", b"application/x-www-form-urlencoded")] if body else []
        scope = http_scope(path, [(b"cookie", cookie), *headers, *form], method=method)
        status, response_headers, content = await call(self.app, scope, body)
        set_cookies = []
        for name, value in response_headers:
            if name.lower() == b"set-cookie":
                for morsel in SimpleCookie(value.decode()).values():
                    set_cookies.append(
                        (morsel.key, bool(morsel.value), morsel["samesite"], morsel["httponly"])
                    )
                    if morsel.value:
                        self.cookies[morsel.key] = morsel.value
                    else:
                        self.cookies.pop(morsel.key, None)
        headers = sorted(  # the clock's value masked
            (n.lower(), b"..." if n.lower() == b"expires" else v)
            for n, v in response_headers
            if n.lower() != b"set-cookie"
        )
        return status, headers, sorted(set_cookies), content


def masked(content: bytes) -> bytes:
    """Bodies without the per-session random values (CSRF tokens)."""
    content = TOKEN.sub(b'name="csrfmiddlewaretoken" value="..."', content)
    return re.sub(rb'"csrfmiddlewaretoken": \["[^"]+"\]', b'"csrfmiddlewaretoken": ["..."]', content)


async def browse(app) -> list:
    """A session a user and the admin would have; returns what every response said."""
    browser, transcript = Browser(app), []

    async def step(method, path, body=b"", headers=()):
        response = await browser.request(method, path, body, headers)
        sent = re.sub(rb"csrfmiddlewaretoken=[^&]*", b"csrfmiddlewaretoken=...", body)
        transcript.append((method, path, sent, response[:3], masked(response[3])))
        return response[3]

    page = await step("GET", "/admin/login/")
    await step("POST", "/admin/login/", b"username=admin&password=pw")  # no token: 403
    token = TOKEN.search(page).group(1)
    await step("POST", "/admin/login/", b"csrfmiddlewaretoken=" + token + b"&username=admin&password=bad")
    token = TOKEN.search(await step("GET", "/admin/login/")).group(1)
    await step(
        "POST", "/admin/login/?next=/admin/", b"csrfmiddlewaretoken=" + token + b"&username=admin&password=pw"
    )
    token = TOKEN.search(await step("GET", "/admin/")).group(1)  # login rotated it
    for kind in ("sync", "async"):
        for name in ("orm", "session", "session", "message", "messages", "messages", "boom",
                     "missing", "template"):  # fmt: skip
            await step("GET", f"/{kind}/{name}/")
        await step("POST", f"/{kind}/post/", b"a=1")  # no token: 403
        await step("POST", f"/{kind}/post/", b"a=1&csrfmiddlewaretoken=" + token)
        await step(
            "POST", f"/{kind}/post/", b"a=2", [(b"x-csrftoken", browser.cookies["csrftoken"].encode())]
        )
        for hook in ("request-raises", "request-answers", "view-raises", "view-answers", "exception-answers",
                     "response-raises"):  # fmt: skip
            await step("GET", f"/{kind}/boom/?hook={hook}")
            await step("GET", f"/{kind}/template/?hook={hook}")
    await step("GET", "/health")  # APPEND_SLASH redirect
    await step("GET", "/nowhere/")
    await step("GET", "/")
    await step("POST", "/admin/logout/", b"csrfmiddlewaretoken=" + token)
    await step("GET", "/async/session/")
    return transcript


def run(handler_class):
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    try:
        return asyncio.run(browse(handler_class()))
    finally:
        User.objects.all().delete()


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Hooks(MiddlewareMixin):
    """Every hook of Django's onion, each taking its shortcut when the query string asks."""

    def process_request(self, request):
        if request.GET.get("hook") == "request-raises":
            raise PermissionDenied
        if request.GET.get("hook") == "request-answers":
            return HttpResponse("from process_request")

    def process_view(self, request, view, args, kwargs):
        if request.GET.get("hook") == "view-raises":
            raise PermissionDenied
        if request.GET.get("hook") == "view-answers":
            return HttpResponse("from process_view")

    def process_exception(self, request, exception):
        if request.GET.get("hook") == "exception-answers":
            return HttpResponse(f"process_exception: {exception}", status=409)

    def process_template_response(self, request, response):
        response["X-Template-Hook"] = "before render" if not response.is_rendered else "after render"
        return response

    def process_response(self, request, response):
        response["X-Hooks"] = request.get_full_path()
        if request.GET.get("hook") == "response-raises":
            raise PermissionDenied
        return response


def function_middleware(get_response):
    """Not a MiddlewareMixin: fast_asgi must leave async views to Django's own chain."""

    def middleware(request):
        response = get_response(request)
        response["X-Function-Middleware"] = "1"
        return response

    return middleware


@pytest.mark.parametrize(
    "extra_middleware",
    [[], [f"{__name__}.Hooks"], [f"{__name__}.function_middleware"]],
    ids=["default", "hooks", "custom"],
)
def test_same_responses_as_djangos_asgi_handler(settings, extra_middleware):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE[:3], *extra_middleware, *settings.MIDDLEWARE[3:]]
    stock = run(ASGIHandler)
    fast = run(fast_asgi.FastASGIHandler)
    assert len(fast) == len(stock) > 30
    for ours, django in zip(fast, stock, strict=True):
        assert ours == django
    statuses = {status for _, _, _, (status, *_), _ in stock}
    assert {403, 302, 200, 404, 500, 301} <= statuses  # the session covered them all
    if "servestatic" in str(settings.MIDDLEWARE).lower():
        # ServeStatic's middleware is async-only: Django's chain serves such a project (speed.md).
        assert not fast_asgi.FastASGIHandler().fast
    else:
        assert (fast_asgi.FastASGIHandler().middleware is None) == (
            "function_middleware" in str(extra_middleware)
        )


@NEEDS_EXECUTOR_CONTEXTS
@NEEDS_FAST_PATH
def test_async_views_run_on_the_event_loop_and_sync_views_on_its_threads():
    async def where():
        browser = Browser(fast_asgi.FastASGIHandler(threads=2))
        seen = []
        for path in ["/async/where/", "/sync/where/"] * 4:
            status, _, _, body = await browser.request("GET", path)
            seen.append((path, status, body))
        return seen

    seen = asyncio.run(where())
    assert {body for path, _, body in seen if path == "/async/where/"} == {
        f'{{"on_loop": true, "thread": "{threading.current_thread().name}"}}'.encode()
    }
    sync_threads = {
        re.search(rb'"thread": "([^"]+)"', body).group(1) for p, _, body in seen if p == "/sync/where/"
    }
    assert sync_threads and all(
        name.startswith((b"django-sync-0", b"django-sync-1")) for name in sync_threads
    )
    assert all(b'"on_loop": false' in body for p, _, body in seen if p == "/sync/where/")


def test_database_access_in_async_views_still_needs_a_thread():
    """Django refuses sync ORM calls on the event loop (SynchronousOnlyOperation); the async ORM works."""
    status, _, _, body = asyncio.run(Browser(fast_asgi.FastASGIHandler()).request("GET", "/async/orm/"))
    assert (status, body) == (200, b'{"users": 0, "sync_call_refused": true}')


@NEEDS_EXECUTOR_CONTEXTS
@NEEDS_FAST_PATH
def test_sync_views_share_a_fixed_set_of_threads_however_many_requests():
    """No thread per request: the stock handler's main cost under load."""

    async def burst(app):
        browser = Browser(app)
        await asyncio.gather(*(browser.request("GET", "/sync/where/") for _ in range(50)))

    before = set(threading.enumerate())
    asyncio.run(burst(fast_asgi.FastASGIHandler(threads=3)))
    started = set(threading.enumerate()) - before
    assert 1 <= len(started) <= 3 and all(t.name.startswith("django-sync-") for t in started)


def test_asgi_fast_0_serves_with_djangos_own_handler(monkeypatch):
    monkeypatch.delenv("ASGI_FAST", raising=False)
    assert isinstance(fast_asgi.get_asgi_application(), fast_asgi.FastASGIHandler)
    monkeypatch.setenv("ASGI_FAST", "0")
    assert type(fast_asgi.get_asgi_application()) is ASGIHandler
    monkeypatch.setenv("ASGI_FAST", "1")
    monkeypatch.setenv("ASGI_THREADS", "6")
    app = fast_asgi.get_asgi_application()
    assert isinstance(app, fast_asgi.FastASGIHandler) and app.threads == 6


def test_request_started_and_finished_fire_once_per_request_on_the_requests_thread():
    """request_finished closes the database connections of the thread that used them."""
    from django.core import signals

    fired = []

    def started(**kwargs):
        fired.append(("started", threading.current_thread().name))

    def finished(**kwargs):
        fired.append(("finished", threading.current_thread().name))

    async def visit():
        browser = Browser(fast_asgi.FastASGIHandler())
        for path in ("/sync/orm/", "/async/orm/", "/async/template/", "/sync/missing/"):
            fired.append(("GET", path))
            await browser.request("GET", path)

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        asyncio.run(visit())
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    for index in range(0, len(fired), 3):
        (_, path), (first, thread), (last, same_thread) = fired[index : index + 3]
        assert (first, last) == ("started", "finished"), path
        assert thread == same_thread and thread != threading.current_thread().name, path
    assert len(fired) == 12
