"""iishost.winauth end to end through the project's ASGI stack (iishost.forwarded + the fast
handler + Django), with the pywin32 calls answered by a fake kernel (fakes/win32.py): who gets
signed in, which forwarded tokens are refused (header from outside, bogus handle, another
process's handle), that every token is closed, and that without the option the header is inert."""

import logging

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.urls import path

from iishost.asgi_handler import get_asgi_application
from iishost.forwarded import ForwardedHeaders
from iishost.testing import call, http_scope
from iishost.tests.fakes.win32 import File, Kernel, Token
from iishost.winauth.handles import Win32TokenResolver

pytestmark = [pytest.mark.urls("iishost.tests.test_winauth"), pytest.mark.django_db(transaction=True)]

MIDDLEWARE = "iishost.winauth.middleware.WindowsAuthMiddleware"
ALICE, BOB = "S-1-5-21-1-1001", "S-1-5-21-1-1002"
KERNEL = Kernel()


def whoami(request):
    return HttpResponse(request.user.get_username() if request.user.is_authenticated else "anonymous")


urlpatterns = [path("whoami/", whoami)]


class KernelResolver(Win32TokenResolver):
    """The pywin32 resolver over the fake kernel (settings.WINDOWS_AUTH_TOKEN_RESOLVER)."""

    def __init__(self):
        super().__init__(*KERNEL.modules())


@pytest.fixture
def kernel():
    global KERNEL
    KERNEL = Kernel({ALICE: ("Alice", "CONTOSO"), BOB: ("bob", "FABRIKAM")})
    return KERNEL


@pytest.fixture
def warnings():
    """The lines iishost.winauth logs (the project's LOGGING config owns the root logger)."""
    lines = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("iishost.winauth")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


@pytest.fixture
def windows_auth(settings, kernel):
    """The settings a windows_auth project has, whatever this project's answers were."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    at = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
    settings.MIDDLEWARE.insert(at, MIDDLEWARE)
    settings.AUTHENTICATION_BACKENDS = [
        "iishost.winauth.backend.WindowsUserBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.WINDOWS_AUTH_TOKEN_RESOLVER = "iishost.tests.test_winauth.KernelResolver"
    settings.WINDOWS_AUTH_STRIP_DOMAIN = True
    settings.WINDOWS_AUTH_LOWERCASE = True
    settings.WINDOWS_AUTH_CREATE_USERS = True
    settings.WINDOWS_AUTH_DOMAINS = []
    return settings


def get(token=None, peer=("127.0.0.1", 50000), forwarded_for="10.1.2.3:50123", cookie=None):
    headers = [(b"x-forwarded-for", forwarded_for.encode()), (b"x-forwarded-proto", b"http")]
    if token is not None:
        headers.append((b"x-iis-windowsauthtoken", token.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    app = ForwardedHeaders(get_asgi_application(), [])
    status, response_headers, body = __import__("asyncio").run(
        call(app, http_scope("/whoami/", headers, peer))
    )
    cookies = [v.decode().split(";")[0] for k, v in response_headers if k.lower() == b"set-cookie"]
    return status, body.decode(), cookies


def test_through_iis_the_windows_user_is_signed_in_and_the_token_closed(windows_auth, kernel):
    handle = kernel.open(Token(ALICE))
    # IIS is the peer (127.0.0.1); the client, from X-Forwarded-For, is elsewhere: still believed.
    status, body, cookies = get(f"{handle:x}")
    assert (status, body) == (200, "alice")
    assert User.objects.get(username="alice").has_usable_password() is False
    assert kernel.open_handles() == {}
    assert any(c.startswith("sessionid=") for c in cookies)


def test_a_header_from_outside_is_refused_and_logged(windows_auth, kernel, warnings):
    handle = kernel.open(Token(ALICE))
    # Straight to the backend's port, claiming to be IIS in X-Forwarded-For: the peer decides.
    status, body, _ = get(f"{handle:x}", peer=("10.0.0.5", 40000), forwarded_for="127.0.0.1:1")
    assert status == 403 and "refused" in body
    assert "from 10.0.0.5, not through IIS's loopback proxy" in " ".join(warnings)
    assert kernel.open_handles() == {handle: Token(ALICE)}  # not touched
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda k: f"{k.open(Token(ALICE)) + 4:x}", id="bogus-handle"),
        pytest.param(lambda k: f"{k.open(Token(ALICE), process=2):x}", id="another-process-handle"),
        pytest.param(lambda k: f"{k.open(File('django.log')):x}", id="our-own-file-handle"),
        pytest.param(lambda k: "0x1a4", id="not-hex"),
    ],
)
def test_spoofed_tokens_through_iis_are_refused(windows_auth, kernel, warnings, make):
    value = make(kernel)
    before = {p: dict(t) for p, t in kernel.tables.items()}
    status, _, _ = get(value)
    assert status == 403
    assert "is not a usable token" in " ".join(warnings)
    assert not User.objects.exists()
    # None of them names a token of this process: nothing is closed (it could be ours).
    assert kernel.tables == before and kernel.closed == []


def test_a_token_whose_account_cannot_be_found_is_refused_and_closed(windows_auth, kernel):
    handle = kernel.open(Token("S-1-5-21-7-7777"))
    status, _, _ = get(f"{handle:x}")
    assert status == 403
    assert kernel.open_handles() == {}


def test_no_handle_leaks_over_many_requests(windows_auth, kernel):
    for sid in [ALICE, BOB] * 10:
        assert get(f"{kernel.open(Token(sid)):x}")[0] == 200
    assert kernel.open_handles() == {}
    assert len(kernel.closed) == 20


def test_a_session_without_a_token_is_logged_out(windows_auth, kernel):
    _, _, cookies = get(f"{kernel.open(Token(ALICE)):x}")
    session = next(c for c in cookies if c.startswith("sessionid="))
    assert get(cookie=session)[1] == "anonymous"


def test_another_windows_user_on_the_same_session_replaces_the_first(windows_auth, kernel):
    _, _, cookies = get(f"{kernel.open(Token(ALICE)):x}")
    session = next(c for c in cookies if c.startswith("sessionid="))
    assert get(f"{kernel.open(Token(BOB)):x}", cookie=session)[1] == "bob"


def test_name_mapping_keeps_the_domain_and_case_when_asked(windows_auth, kernel):
    windows_auth.WINDOWS_AUTH_STRIP_DOMAIN = False
    windows_auth.WINDOWS_AUTH_LOWERCASE = False
    assert get(f"{kernel.open(Token(ALICE)):x}")[1] == "CONTOSO\\Alice"


def test_without_create_users_only_existing_users_sign_in(windows_auth, kernel):
    windows_auth.WINDOWS_AUTH_CREATE_USERS = False
    assert get(f"{kernel.open(Token(ALICE)):x}")[1] == "anonymous"
    User.objects.create_user("bob")
    assert get(f"{kernel.open(Token(BOB)):x}")[1] == "bob"
    assert kernel.open_handles() == {}


def test_only_the_listed_domains_sign_in(windows_auth, kernel):
    windows_auth.WINDOWS_AUTH_DOMAINS = ["contoso"]
    assert get(f"{kernel.open(Token(ALICE)):x}")[1] == "alice"
    assert get(f"{kernel.open(Token(BOB)):x}")[1] == "anonymous"


def test_without_the_option_the_header_has_no_effect(settings, kernel):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    settings.WINDOWS_AUTH_TOKEN_RESOLVER = "iishost.tests.test_winauth.KernelResolver"
    handle = kernel.open(Token(ALICE))
    assert get(f"{handle:x}")[:2] == (200, "anonymous")
    assert get(f"{handle:x}", peer=("10.0.0.5", 1))[:2] == (200, "anonymous")
    assert kernel.open_handles() == {handle: Token(ALICE)}  # never read, never closed
