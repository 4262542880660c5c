"""iishost.forwarded: the client and scheme from HttpPlatformHandler's appended X-Forwarded-* lists,
in both topologies (IIS facing the clients; IIS behind a load balancer)."""

import asyncio

import pytest

from iishost.forwarded import ForwardedHeaders, TrustedProxies, resolve, split_host_port

BALANCER = "10.0.0.5"


def scope(xff=None, xfp=None, client=("127.0.0.1", 50000), kind="http"):
    headers = []
    if xff is not None:
        headers.append((b"x-forwarded-for", xff.encode()))
    if xfp is not None:
        headers.append((b"x-forwarded-proto", xfp.encode()))
    return {"type": kind, "scheme": "http" if kind == "http" else "ws", "client": client, "headers": headers}


@pytest.mark.parametrize(
    ("xff", "xfp", "trusted", "expected"),
    [
        # IIS faces the clients: HPH's own entry (last) is the truth, whatever the client sent.
        ("198.51.100.7:4000", "https", [], (("198.51.100.7", 4000), "https")),
        ("198.51.100.7:4000", "http", [], (("198.51.100.7", 4000), "http")),
        ("203.0.113.9, 198.51.100.7:4000", "https, http", [], (("198.51.100.7", 4000), "http")),
        ("[2001:db8::1]:4000", "https", [], (("2001:db8::1", 4000), "https")),
        # Behind a balancer that terminates TLS, trusted: its entries (before HPH's) count.
        (f"198.51.100.7, {BALANCER}:4000", "https, https", [BALANCER], (("198.51.100.7", 0), "https")),
        (f"198.51.100.7, {BALANCER}:4000", "https, http", ["10.0.0.0/8"], (("198.51.100.7", 0), "https")),
        # ... and a client's forgery before the balancer's entry is still not believed.
        (
            f"1.2.3.4, 198.51.100.7, {BALANCER}:1",
            "https, http, http",
            [BALANCER],
            (("198.51.100.7", 0), "http"),
        ),
        # The same headers from an untrusted peer of IIS: only IIS's entry counts.
        (f"198.51.100.7, {BALANCER}:4000", "https, http", [], ((BALANCER, 4000), "http")),
    ],
)
def test_entries_are_believed_from_the_right_while_hops_are_trusted(xff, xfp, trusted, expected):
    assert resolve(scope(xff, xfp), TrustedProxies(trusted)) == expected


def test_a_request_not_from_iis_is_left_alone():
    direct = scope("1.2.3.4", "https", client=("192.0.2.1", 5000))
    assert resolve(direct, TrustedProxies(["0.0.0.0/0"])) == (("192.0.2.1", 5000), "http")
    assert resolve(scope(), TrustedProxies([])) == (("127.0.0.1", 50000), "http")


def test_websocket_scheme_and_bad_values():
    assert resolve(scope("1.1.1.1:1", "https", kind="websocket"), TrustedProxies([]))[1] == "wss"
    assert resolve(scope("1.1.1.1:1", "javascript"), TrustedProxies([]))[1] == "http"


def test_split_host_port():
    assert split_host_port("1.2.3.4:80") == ("1.2.3.4", 80)
    assert split_host_port("[::1]:80") == ("::1", 80)
    assert split_host_port("::1") == ("::1", 0)
    assert split_host_port("1.2.3.4") == ("1.2.3.4", 0)


def test_middleware_rewrites_the_scope():
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    middleware = ForwardedHeaders(app, [BALANCER])
    asyncio.run(middleware(scope(f"198.51.100.7, {BALANCER}:1", "https, https"), None, None))
    assert seen["client"] == ("198.51.100.7", 0) and seen["scheme"] == "https"


def test_a_trusted_proxy_that_is_not_an_address_is_named():
    with pytest.raises(ValueError, match="DJANGO_TRUSTED_PROXIES: 'balancer.local' is not an IP address"):
        TrustedProxies(["10.0.0.5", "balancer.local"])
