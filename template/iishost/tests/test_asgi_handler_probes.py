"""Where a faster handler is most likely to differ from Django's: request-local state across thread
hops, streaming, errors while routing, disconnects and slow clients. Each probe runs against
Django's ASGIHandler and iishost's, over the ASGI protocol, and wants the same answer."""

import asyncio
import json
import time

import pytest
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.utils import timezone
from django.utils.deprecation import MiddlewareMixin

from iishost.asgi_handler import FastASGIHandler
from iishost.testing import http_scope

pytestmark = [pytest.mark.urls("iishost.tests.probe_urls"), pytest.mark.django_db(transaction=True)]
HANDLERS = pytest.mark.parametrize("handler", [ASGIHandler, FastASGIHandler], ids=["django", "iishost"])


class Zone(MiddlewareMixin):
    """Request-local state set by a middleware: a time zone, and a URLconf when asked."""

    def process_request(self, request):
        timezone.activate("Europe/Paris")
        if "urlconf" in request.GET:
            request.urlconf = "iishost.tests.probe_urls"


@pytest.fixture
def local_state(settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:2],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[2:],
        f"{__name__}.Zone",
    ]
    settings.USE_I18N = True


async def exchange(app, scope, *, disconnect=False, slow_send=0.0):
    """One request; the messages the application sent. `disconnect`: the client leaves right after
    its request; `slow_send`: seconds each message takes to reach a slow client."""
    inbox = asyncio.Queue()
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    if disconnect:
        inbox.put_nowait({"type": "http.disconnect"})
    sent = []

    async def send(message):
        await asyncio.sleep(slow_send)
        sent.append(message)

    await asyncio.wait_for(app(scope, inbox.get, send), 30)
    return sent


def answer(sent) -> tuple[int, bytes]:
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def under_app(path):
    """A request to an IIS sub-application /app: root_path is the script prefix."""
    return http_scope("/app" + path, headers=[(b"accept-language", b"fr")]) | {"root_path": "/app"}


def both(scope_or_scopes, **kwargs):
    """The same exchange(s) against Django's handler and iishost's."""

    async def run(handler_class):
        app = handler_class()
        scopes = scope_or_scopes if isinstance(scope_or_scopes, list) else [scope_or_scopes]
        return [answer(await exchange(app, scope, **kwargs)) for scope in scopes]

    return asyncio.run(run(ASGIHandler)), asyncio.run(run(FastASGIHandler))


@pytest.mark.usefixtures("local_state")
@pytest.mark.parametrize("view", ["sync", "async"])
def test_request_local_state_reaches_the_view(view):
    scopes = [under_app(f"/{view}/state/"), under_app(f"/{view}/state/?urlconf")]
    django, ours = both(scopes)
    assert ours == django
    (status, body), (_, with_urlconf) = django
    assert status == 200
    expected = {"reverse": "/app/sync/state/", "language": "fr", "yes": "Oui", "timezone": "Europe/Paris"}
    assert json.loads(body) == {**expected, "urlconf": None}
    assert json.loads(with_urlconf)["urlconf"] == "iishost.tests.probe_urls"


@pytest.mark.usefixtures("local_state")
def test_a_sync_stream_iterates_in_the_requests_context():
    django, ours = both(under_app("/sync/stream/"))
    assert ours == django == [(200, b"/app/sync/state/ Oui")]


def test_sync_streams_do_not_wait_for_each_other():
    async def two_streams():
        app = FastASGIHandler()
        scope = http_scope("/sync/stream/?sleep=0.5")
        started = time.perf_counter()
        await asyncio.gather(exchange(app, scope), exchange(app, scope))
        return time.perf_counter() - started

    assert asyncio.run(two_streams()) < 0.9


@HANDLERS
def test_a_quick_request_does_not_wait_behind_slow_downloads(handler):
    async def quick_among_slow():
        app = handler()
        slow = [asyncio.create_task(exchange(app, http_scope("/sync/big/"), slow_send=0.3)) for _ in range(4)]
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        await exchange(app, http_scope("/sync/quick/"))
        waited = time.perf_counter() - started
        await asyncio.gather(*slow)
        return waited

    assert asyncio.run(quick_among_slow()) < 1.0


def finished_count(function) -> tuple:
    fired = []

    def finished(**kwargs):
        fired.append(1)

    signals.request_finished.connect(finished)
    try:
        return function(), len(fired)
    finally:
        signals.request_finished.disconnect(finished)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/refused/abc/", 404), ("/nowhere/", 404), ("/async/view/", 200), ("/sync/quick/", 200)],
)
def test_routing_errors_answer_as_django(path, status):
    (django, ours), finished = finished_count(lambda: both(http_scope(path)))
    assert ours == django and django[0][0] == status
    assert finished == 2, "request_finished once per request"


@pytest.mark.parametrize("path", ["/async/view/", "/sync/quick/"])
def test_an_atomic_async_view_and_an_empty_urlconf_fail_as_django(settings, path):
    settings.DATABASES["default"]["ATOMIC_REQUESTS"] = True
    (django, ours), finished = finished_count(lambda: both(http_scope(path)))
    assert ours == django and django[0][0] == (500 if path.startswith("/async") else 200)
    assert finished == 2
    settings.DATABASES["default"]["ATOMIC_REQUESTS"] = False
    settings.ROOT_URLCONF = "iishost.tests"  # a module without urlpatterns
    (django, ours), finished = finished_count(lambda: both(http_scope(path)))
    assert ours == django and django[0][0] == 500 and finished == 2


@HANDLERS
def test_nothing_is_sent_to_a_client_that_left(handler):
    (sent, finished) = finished_count(
        lambda: asyncio.run(exchange(handler(), http_scope("/sync/slow/?sleep=0.3"), disconnect=True))
    )
    assert sent == [] and finished == 1
