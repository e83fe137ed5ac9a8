"""Known devices: the cookie a browser gets when someone signs in on it (OWASP's "device cookie").

It lets the sign-in throttle tell a teacher's own browser from everyone else: failures from unknown
devices lock out unknown devices only, so an attacker guessing a teacher's password from elsewhere
cannot stop that teacher signing in from the browser they used before. The cookie is signed
(`collab.auth.signed.seal`) for one username, so it vouches for nothing else; it holds a random device
number (its own failure counter) and an expiry, and no name in clear. Nothing is stored server-side.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from collab.auth.signed import seal, unseal

COOKIE = "collab_device"
PATH = "/api/auth"  # only the sign-in routes ever see it


def _purpose(username: str) -> str:
    # Hashed to a fixed length and closed by ":": no username's purpose is a prefix of another's.
    return "device:" + hashlib.sha256(username.encode()).hexdigest() + ":"


def issue(secret: str, username: str, days: int, now: float | None = None) -> str:
    expires_at = int((time.time() if now is None else now) + days * 86400)
    return seal(secret, _purpose(username), secrets.randbits(62), expires_at)


def known(secret: str, username: str, cookie: str | None, now: float | None = None) -> str | None:
    """The device's id if `cookie` was issued to `username` and has not expired; None otherwise."""
    if not cookie:
        return None
    opened = unseal(secret, _purpose(username), cookie, 2)
    if opened is None or opened[1] <= (time.time() if now is None else now):
        return None
    return str(opened[0])
