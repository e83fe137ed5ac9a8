"""Which peers may tell us about the original request (X-Forwarded-Proto, X-Forwarded-For).

Anyone can send those headers; only a proxy we run in front of the nodes is believed. The setting
`trusted_proxies` lists its addresses or networks (`10.0.0.0/8, 127.0.0.1`); empty trusts nobody, so
by default the socket's own peer and scheme are the truth."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from collab.api.client_address import Network, trusted_networks


class TrustedProxies:
    def __init__(self, spec: str) -> None:
        self.networks: tuple[Network, ...] = trusted_networks(spec)  # parsed as the sign-in throttle does
        self.trusts = lru_cache(maxsize=1024)(self._trusts)  # a few proxies ask again and again

    def _trusts(self, host: str | None) -> bool:
        if not self.networks or not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:  # a unix socket's peer, or a name: not an address we listed
            return False
        return any(address in network for network in self.networks)

    def scheme(self, scope) -> str:
        """The scheme the client used: the socket's, or what a trusted proxy says it received."""
        client = scope.get("client")
        if client and self.trusts(client[0]):
            for name, value in scope["headers"]:
                if name == b"x-forwarded-proto":
                    # a proxy in a chain appends its own: the last one is what our neighbour saw
                    return value.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
        return scope.get("scheme", "http")
