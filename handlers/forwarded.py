"""Client address and scheme behind a reverse proxy, believed only from the proxies the operator lists.

`TONGBAN_TRUSTED_PROXIES` names the proxies (IPs or networks, comma-separated; empty = none). For a request
whose socket peer is one of them, the client is the rightmost X-Forwarded-For entry that is not a trusted
proxy (entries to its left were written by the client and can say anything), and the scheme is the last
X-Forwarded-Proto value. Anyone else's forwarded headers are ignored: the socket peer is the client. The
middleware rewrites the ASGI scope once, so the console's audit, the login backoff and every rate limit
read the same `request.client`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """'10.0.0.2, 172.30.0.0/24' -> networks; a bad entry is a configuration error (ValueError)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: list[str], networks: tuple[Network, ...]) -> str:
    """The client's address: the peer, unless the peer is trusted; then the rightmost untrusted hop."""
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    nearest = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop.strip("[]"))
        except ValueError:  # garbage where an address should be: stop at the last proxy we believe
            return nearest
        if not _trusted(hop, networks):
            return hop
        nearest = hop
    return nearest


class TrustedProxyMiddleware:
    """Sets scope["client"] and scope["scheme"] from X-Forwarded-For/-Proto of trusted proxies only."""

    def __init__(self, app: ASGIApp, trusted_proxies: str) -> None:
        self.app = app
        self.networks = parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.networks and scope.get("client"):
            peer, port = scope["client"]
            if _trusted(peer, self.networks):
                headers = [(name.lower(), value.decode("latin-1")) for name, value in scope["headers"]]
                forwarded = [value for name, value in headers if name == b"x-forwarded-for"]
                protos = [hop.strip() for name, value in headers if name == b"x-forwarded-proto"
                          for hop in value.split(",") if hop.strip()]
                scope = dict(scope, client=(client_address(peer, forwarded, self.networks), port))
                if protos and protos[-1] in ("http", "https"):
                    scheme = protos[-1] if scope["type"] == "http" else {"http": "ws", "https": "wss"}[protos[-1]]
                    scope["scheme"] = scheme
        await self.app(scope, receive, send)
