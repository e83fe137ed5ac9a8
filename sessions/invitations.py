"""Invitation links with an expiry: signed, so they need no table; a link admits whoever holds it
until it expires (rotate the server secret to void every link at once)."""

from __future__ import annotations

import time

from collab.auth import signed
from collab.errors import DomainError


class InvitationError(DomainError):
    """An invitation link that does not admit."""


def _purpose(kind: str) -> str:
    return f"invite:{kind}:"  # the kind is signed too: a link to activity 5 never opens studio 5


def make(secret: str, activity_id: int, expires_at: int, kind: str = "activity") -> str:
    """A link admitting to `activity_id` (or to another `kind` of place with that id)."""
    return signed.seal(secret, _purpose(kind), activity_id, expires_at)


def check(secret: str, token: str, activity_id: int, now: float | None = None, kind: str = "activity") -> int:
    """Returns the expiry if `token` admits to `activity_id` now; raises InvitationError otherwise."""
    opened = signed.unseal(secret, _purpose(kind), token, 2)
    if opened is None or opened[0] != activity_id:
        raise InvitationError("invitation_invalid", "that invitation link is not valid")
    expires_at = opened[1]
    if expires_at <= (now if now is not None else time.time()):
        raise InvitationError("invitation_expired", "that invitation link has expired; ask for a new one")
    return expires_at
