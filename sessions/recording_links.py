"""Signed, expiring links to a stage recording. A `<video src>` cannot send a bearer token, so the
replay hands each viewer a key for (recording, viewer) that the recording route accepts instead.

Signed like invitation links (`sessions.invitations`): the body in base64, then an HMAC-SHA256 of it
with the server secret, the purpose signed too so no other signed link can pass for one of these. No
table is needed; rotating the secret voids every link. A key names its viewer (0: not signed in), and
the route asks the policy again for that viewer on every request, so a link stops working when its
holder loses access to the replay, even before it expires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

TTL = 6 * 3600  # long enough to watch a long activity and seek in it; the replay page fetches new links


class LinkError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _sign(secret: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), b"recording:" + body, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


def make(secret: str, recording_id: int, user_id: int | None, expires_at: int | None = None) -> str:
    """A key letting `user_id` (None: an anonymous viewer of a public replay) fetch `recording_id`."""
    if expires_at is None:
        expires_at = int(time.time()) + TTL
    body = f"{recording_id}.{user_id or 0}.{expires_at}".encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + _sign(secret, body)


def check(secret: str, key: str, recording_id: int, now: float | None = None) -> int | None:
    """The viewer's user id (None: anonymous) if `key` opens `recording_id` now; LinkError otherwise."""
    try:
        encoded, signature = key.split(".")
        body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        rid, user_id, expires_at = (int(x) for x in body.decode("ascii").split("."))
    except (ValueError, UnicodeDecodeError):
        raise LinkError("link_invalid", "that recording link is not valid") from None
    if not hmac.compare_digest(signature.encode(), _sign(secret, body).encode()) or rid != recording_id:
        raise LinkError("link_invalid", "that recording link is not valid")
    if expires_at <= (now if now is not None else time.time()):
        raise LinkError("link_expired", "that recording link has expired; open the replay again")
    return user_id or None
