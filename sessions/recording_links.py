"""Signed, expiring links to a stage recording. A `<video src>` cannot send a bearer token, so the
replay hands each viewer a key for (recording, viewer) that the recording route accepts instead.

Signed like invitation links (`collab.auth.signed`, with a purpose of its own, so no other signed
link can pass for one of these). A key names its viewer (0: not signed in), and the route asks the
policy again for that viewer on every request, so a link stops working when its holder loses access
to the replay, even before it expires."""

from __future__ import annotations

import time

from collab.auth import signed
from collab.errors import DomainError

TTL = 6 * 3600  # long enough to watch a long activity and seek in it; the replay page fetches new links
PURPOSE = "recording:"


class LinkError(DomainError):
    """A recording link that does not open the recording."""


def make(secret: str, recording_id: int, user_id: int | None, expires_at: int | None = None) -> str:
    """A key letting `user_id` (None: an anonymous viewer of a public replay) fetch `recording_id`."""
    if expires_at is None:
        expires_at = int(time.time()) + TTL
    return signed.seal(secret, PURPOSE, recording_id, user_id or 0, expires_at)


def check(secret: str, key: str, recording_id: int, now: float | None = None) -> int | None:
    """The viewer's user id (None: anonymous) if `key` opens `recording_id` now; LinkError otherwise."""
    opened = signed.unseal(secret, PURPOSE, key, 3)
    if opened is None or opened[0] != recording_id:
        raise LinkError("link_invalid", "that recording link is not valid")
    _, user_id, expires_at = opened
    if expires_at <= (now if now is not None else time.time()):
        raise LinkError("link_expired", "that recording link has expired; open the replay again")
    return user_id or None
