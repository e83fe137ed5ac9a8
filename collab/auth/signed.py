"""Every signed link the server hands out, in one place: invitation links (to an activity, or to a
studio in a role), program keys and recording links (neither an HLS player nor a `<video src>` can send
a bearer token) and calendar feed keys (nor can a calendar app). No table to keep: a link is a few
numbers and an HMAC-SHA256 of them under the server secret, with a purpose in front, so a link made
for one purpose never passes for another. Rotating the secret voids every link at once. Document
tickets (`collab/docs/tickets.py`) are sealed here too and add a single-use claim of their own.

A refused link is a `DomainError` whose code says why (invalid or expired), so the page can tell the
person holding an old link what to do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from collab.errors import DomainError

RECORDING_TTL = 6 * 3600  # long enough to watch a long activity and seek in it; the replay fetches new links


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


def _now(now: float | None) -> float:
    return time.time() if now is None else now


# -- invitation links: admit whoever holds one until it expires ---------------------------------------

def _invitation_purpose(kind: str) -> str:
    return f"invite:{kind}:"  # the kind is signed too: a link to activity 5 never opens studio 5


def invitation(secret: str, place_id: int, expires_at: int, kind: str = "activity") -> str:
    """A link admitting to activity `place_id` (or to another `kind` of place, e.g. "studio-member")."""
    return seal(secret, _invitation_purpose(kind), place_id, expires_at)


def check_invitation(secret: str, token: str, place_id: int, now: float | None = None,
                     kind: str = "activity") -> int:
    """The expiry if `token` admits to `place_id` now; a DomainError saying why not otherwise."""
    opened = unseal(secret, _invitation_purpose(kind), token, 2)
    if opened is None or opened[0] != place_id:
        raise DomainError("invitation_invalid", "that invitation link is not valid")
    if opened[1] <= _now(now):
        raise DomainError("invitation_expired", "that invitation link has expired; ask for a new one")
    return opened[1]


# -- recording links: one viewer, one recording -------------------------------------------------------
# A key names its viewer (0: not signed in); the recording route asks the policy again for that viewer
# on every request, so a link stops working when its holder loses access, even before it expires.

RECORDING = "recording:"


def recording_link(secret: str, recording_id: int, user_id: int | None, expires_at: int | None = None) -> str:
    """A key letting `user_id` (None: an anonymous viewer of a public replay) fetch `recording_id`."""
    if expires_at is None:
        expires_at = int(time.time()) + RECORDING_TTL
    return seal(secret, RECORDING, recording_id, user_id or 0, expires_at)


def check_recording_link(secret: str, key: str, recording_id: int, now: float | None = None) -> int | None:
    """The viewer's user id (None: anonymous) if `key` opens `recording_id` now; a 403 otherwise."""
    return _viewer(secret, RECORDING, key, recording_id, now, "recording", "open the replay again")


def _viewer(secret: str, purpose: str, key: str, thing_id: int, now: float | None, what: str, then: str) -> int | None:
    """A viewer link's user id, once it opens `thing_id` now (recordings and programs: id, viewer, expiry)."""
    opened = unseal(secret, purpose, key, 3)
    if opened is None or opened[0] != thing_id:
        raise DomainError("link_invalid", f"that {what} link is not valid", status=403)
    _, user_id, expires_at = opened
    if expires_at <= _now(now):
        raise DomainError("link_expired", f"that {what} link has expired; {then}", status=403)
    return user_id or None


# -- program keys: one viewer, one activity's live program -------------------------------------------
# The key sits in the URL's path above the playlists (`/live/<activity>/k/<key>/...`), so the playlists
# and parts below it are the same bytes for every viewer and a CDN caches one copy, keyed without the
# key. Checking one is an HMAC and a clock: no database, since a national audience's players ask every
# half second; the policy was asked when the key was handed out, and a key lasts `PROGRAM_TTL`.

PROGRAM = "program:"
PROGRAM_TTL = 4 * 3600  # a long activity, watched to its end; the room hands out a new key on reconnect


def program_key(secret: str, activity_id: int, user_id: int | None, expires_at: int | None = None) -> str:
    if expires_at is None:
        expires_at = int(time.time()) + PROGRAM_TTL
    return seal(secret, PROGRAM, activity_id, user_id or 0, expires_at)


def check_program_key(secret: str, key: str, activity_id: int, now: float | None = None) -> int | None:
    """The viewer's user id (None: anonymous) if `key` opens `activity_id`'s program now; a 403 otherwise."""
    return _viewer(secret, PROGRAM, key, activity_id, now, "program", "open the activity again")


# -- calendar feed keys: a teacher's feed URL, for calendar apps --------------------------------------

def feed_key(secret: str, user_id: int) -> str:
    return hmac.new(secret.encode(), f"calendar-feed:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def check_feed_key(secret: str, user_id: int, key: str) -> None:
    if not hmac.compare_digest(key.encode(), feed_key(secret, user_id).encode()):
        raise DomainError("forbidden", "that feed key is not valid")
