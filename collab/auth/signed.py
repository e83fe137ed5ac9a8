"""Signed tokens made of a few numbers (invitation links, recording links): no table to keep.

A token is the numbers, dot-separated and in base64, then an HMAC-SHA256 of them under the server
secret with a purpose in front, so a token made for one purpose never passes for another. Rotating
the secret voids every token at once. Expiry is one of the numbers, checked by the caller, which
knows what to tell the person holding an old link."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _mac(secret: str, purpose: str, body: bytes) -> bytes:
    digest = hmac.new(secret.encode(), purpose.encode() + body, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest)


def seal(secret: str, purpose: str, *numbers: int) -> str:
    body = ".".join(str(n) for n in numbers).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + _mac(secret, purpose, body).decode()


def unseal(secret: str, purpose: str, token: str, count: int) -> tuple[int, ...] | None:
    """The `count` numbers of a token signed for `purpose`; None for anything else (malformed,
    forged, another purpose or secret)."""
    try:
        encoded, signature = token.split(".")
        body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        numbers = tuple(int(x) for x in body.decode("ascii").split("."))
        signature_bytes = signature.encode("ascii")
    except (ValueError, UnicodeError):
        return None
    if len(numbers) != count or not hmac.compare_digest(signature_bytes, _mac(secret, purpose, body)):
        return None
    return numbers
