"""The address a request came from, as the sign-in throttle counts it.

By default that is the socket peer: uvicorn runs with `proxy_headers=False`, so nobody can choose
their own address by sending an `X-Forwarded-For` header. Behind a reverse proxy or load balancer,
the `trusted_proxies` setting lists the proxies' addresses (IPs or CIDR networks); then, and only
for a peer among them, `X-Forwarded-For` is read from the right, skipping trusted hops, and the first
address no trusted proxy owns is the client's (the left part of the header is whatever the client
sent, so it is never believed).

An IPv6 client is counted by its /64: one subscriber (or one attacker) gets a whole /64, and counting
each of its 2^64 addresses apart would count nothing.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=4)  # read from the setting on every sign-in; parsed once
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """`trusted_proxies` ("10.0.0.0/8, 192.168.1.7") as networks; a ValueError names a bad entry."""
    networks = []
    for entry in (e.strip() for e in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxies / COLLAB_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:1.2.3.4 is 1.2.3.4
    return mapped or address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address as the throttle keys it: IPv4 as is, IPv6 as its /64 network."""
    address = _parse(peer or "")
    if address is None:
        return peer or "unknown"  # a unix socket or a test transport: one source
    if trusted and forwarded_for and _trusted(address, trusted):
        for hop in reversed(forwarded_for.split(",")):
            parsed = _parse(hop)
            if parsed is None:
                break  # garbage in the header: the last trusted hop is as far as we can see
            address = parsed
            if not _trusted(parsed, trusted):
                break
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
