"""Which receivers a node will connect to.

An admin's URL must not turn the server into a probe of its own network (SSRF): by default a receiver
must be http(s) and every address its name resolves to must be a public one (not loopback, private,
link-local, shared, multicast or reserved). The check runs when the URL is configured and again at each
delivery, and the delivery connects to the address that was checked (the name's certificate is still
verified, by SNI), so a name re-pointed between the check and the connection (DNS rebinding) gains
nothing. `--webhook-allow-private` lifts the address rule for tests and a developer's machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from collab.errors import DomainError

MAX_URL = 2000


class AddressRefused(DomainError):
    code = "webhook_url_refused"


def parse(url: str) -> httpx.URL:
    """The URL if it is one a receiver may have; `AddressRefused` says why not."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise AddressRefused(message=f"url must be an http(s) URL of at most {MAX_URL} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise AddressRefused(message="url is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise AddressRefused(message="url must start with http:// or https:// and name a host")
    if parsed.userinfo:
        raise AddressRefused(message="url must not carry a user name or password")
    return parsed


def public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_config(url: str, allow_private: bool) -> str:
    """At configuration: the scheme and host; an address given as such (or localhost) must be public.
    A name is resolved at each delivery (it may not resolve yet when the receiver is being set up)."""
    parsed = parse(url)
    if not allow_private:
        ip = literal(parsed.host)
        if parsed.host.lower() in ("localhost", "localhost.") or parsed.host.lower().endswith(".localhost") \
                or (ip is not None and not public(ip)):
            raise AddressRefused(message="url names a loopback or private address (see --webhook-allow-private)")
    return str(parsed)


async def pinned(url: str, allow_private: bool) -> tuple[httpx.URL, httpx.URL]:
    """For a delivery: the URL to connect to (its host replaced by the checked address), and the URL
    as configured (its host goes in the Host header and the TLS handshake's SNI). `AddressRefused` when the name does not resolve or resolves to an
    address the rule refuses."""
    parsed = parse(url)
    host = parsed.host
    if literal(host) is not None:
        addresses = [literal(host)]
    else:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise AddressRefused(message=f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise AddressRefused(message=f"cannot resolve {host}")
    if not allow_private and not all(public(a) for a in addresses):
        raise AddressRefused(message=f"{host} resolves to a loopback or private address")
    return parsed.copy_with(host=addresses[0]), parsed
