"""The client's address and scheme from the X-Forwarded-* headers HttpPlatformHandler sends.

HttpPlatformHandler APPENDS `ip:port` to X-Forwarded-For and its scheme to X-Forwarded-Proto
(forwardinghandler.cpp in lextudio/httpplatformhandlerv2; iishost/docs/iis-facts.md), so each
header is a list with IIS's own entry last. Read from the right, an entry is believed only while
every hop after it is trusted: IIS itself (the request comes from 127.0.0.1), then the proxies in
`trusted` (settings.TRUSTED_PROXIES: the load balancers in front of IIS). So a client that forges
`X-Forwarded-Proto: https` gets nowhere, and behind a balancer `https, https` means https.
uvicorn's own proxy-headers handling believes only a single value (no list), and Django's
SECURE_PROXY_SSL_HEADER believes the leftmost value (the client's): neither fits, hence this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

LOOPBACK = {"127.0.0.1", "::1"}  # HPH connects to the backend over 127.0.0.1
# The scope key keeping the TCP peer (who connected) once `client` names the forwarded client:
# what iishost.winauth checks before it believes a forwarded Windows token.
PEER = "iishost.peer"


def _entries(scope: dict, name: bytes) -> list[str]:
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == name]
    return [item.strip() for item in ",".join(values).split(",") if item.strip()]


def split_host_port(entry: str) -> tuple[str, int]:
    """`1.2.3.4:5678`, `[::1]:5678`, `1.2.3.4` or `::1` -> (host, port); port 0 when absent."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 0
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else 0
    return entry, 0


class TrustedProxies:
    """Addresses and networks (`10.0.0.0/8`) allowed to speak for the client."""

    def __init__(self, items: Iterable[str]):
        self.networks = []
        for item in filter(None, (i.strip() for i in items)):
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"DJANGO_TRUSTED_PROXIES: {item!r} is not an IP address or network "
                    "(e.g. 10.0.0.5 or 10.0.0.0/8); host names are not accepted"
                ) from None

    def __contains__(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def resolve(scope: dict, trusted: TrustedProxies) -> tuple[tuple[str, int] | None, str]:
    """(client, scheme) as the headers prove them: IIS's entries, then each trusted hop's."""
    client, scheme = scope.get("client"), scope.get("scheme", "http")
    if not client or client[0] not in LOOPBACK:
        return client, scheme  # not through HttpPlatformHandler (e.g. `invoke run`)
    addresses = _entries(scope, b"x-forwarded-for")
    schemes = _entries(scope, b"x-forwarded-proto")
    websocket = scope.get("type") == "websocket"
    for depth in range(1, min(len(addresses), len(schemes)) + 1):
        proto = schemes[-depth].lower()
        if proto not in ("http", "https"):
            break
        client, scheme = split_host_port(addresses[-depth]), proto
        if client[0] not in trusted:
            break
    if websocket:
        scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return client, scheme


class ForwardedHeaders:
    """ASGI middleware: the scope's `client` and `scheme` from resolve()."""

    def __init__(self, app, trusted: Iterable[str] = ()):
        self.app, self.trusted = app, TrustedProxies(trusted)

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            client, scheme = resolve(scope, self.trusted)
            scope = {**scope, "client": client, "scheme": scheme, PEER: scope.get("client")}
        await self.app(scope, receive, send)
