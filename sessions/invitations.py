"""Invitation links with an expiry: signed, so they need no table; a link admits whoever holds it
until it expires (rotate the server secret to void every link at once)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


class InvitationError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _sign(secret: str, body: bytes, kind: str) -> str:
    # The kind is signed too: a link to activity 5 never opens studio 5.
    mac = hmac.new(secret.encode(), b"invite:" + kind.encode() + b":" + body, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


def make(secret: str, activity_id: int, expires_at: int, kind: str = "activity") -> str:
    """A link admitting to `activity_id` (or to another `kind` of place with that id)."""
    body = f"{activity_id}.{expires_at}".encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + _sign(secret, body, kind)


def check(secret: str, token: str, activity_id: int, now: float | None = None, kind: str = "activity") -> int:
    """Returns the expiry if `token` admits to `activity_id` now; raises InvitationError otherwise."""
    try:
        encoded, signature = token.split(".")
        body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        aid, expires_at = (int(x) for x in body.decode().split("."))
    except (ValueError, UnicodeDecodeError):
        raise InvitationError("invitation_invalid", "that invitation link is not valid") from None
    if not hmac.compare_digest(signature, _sign(secret, body, kind)) or aid != activity_id:
        raise InvitationError("invitation_invalid", "that invitation link is not valid")
    if expires_at <= (now if now is not None else time.time()):
        raise InvitationError("invitation_expired", "that invitation link has expired; ask for a new one")
    return expires_at
