"""Service API keys: what a teacher-management system or a provincial platform calls the API with.

As GitHub's and Stripe's: an admin makes a key (CLI `collab keys create`, or `POST /api/keys`), the
secret is shown once, and only its SHA-256 is stored beside a short visible prefix for the admin's list.
A key reads `collab_sk_` and 43 base62 characters (256 random bits), so secret scanners can find a
leaked one by its shape. A key is scoped (collab.policy.SCOPES), may expire, and is revoked, never
deleted: its row stays for the audit log.

Why SHA-256 and not a slow password hash: a slow KDF protects low-entropy secrets (passwords) against
guessing from a stolen hash. A 256-bit random key cannot be guessed whatever the hash costs, and a
fast hash lets every call be checked in microseconds.

Each node keeps a cache of hash -> key for `CACHE_SECONDS`; a key revoked on any node (or with the
CLI) is refused everywhere once the other nodes' entries age out, within that time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from collab import audit
from collab.auth.actor import SERVICE, Actor
from collab.errors import DomainError
from collab.policy import SCOPES
from collab.store.models import ServiceKey

PREFIX = "collab_sk_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_LENGTH = 43  # 62**43 > 2**256: every 32-byte secret fits
SHAPE = re.compile(rf"^{PREFIX}[0-9A-Za-z]{{{_LENGTH}}}$")
VISIBLE = len(PREFIX) + 6  # what the admin's list shows of a key

CACHE_SECONDS = 2.0  # how stale a node's view of a key may be: the time a revocation takes everywhere
LAST_USED_EVERY = 60.0  # last-used is written at most this often per key, not per call
_CACHE_MAX = 10_000  # entries (keys and refused guesses) before the cache starts afresh


class KeyRefused(DomainError):
    """A key that does not authenticate (key_invalid, key_revoked, key_expired): 401. `key_id` names a
    known key (revoked or expired), so the refused call can still be put in the audit log."""

    def __init__(self, code: str, message: str, key_id: int | None = None) -> None:
        super().__init__(code, message)
        self.key_id = key_id


def new_secret() -> str:
    n = int.from_bytes(secrets.token_bytes(32), "big")
    digits = []
    for _ in range(_LENGTH):
        n, d = divmod(n, 62)
        digits.append(_ALPHABET[d])
    return PREFIX + "".join(reversed(digits))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_key(token: str) -> bool:
    """Whether a bearer token is meant as a service key (by its prefix; its shape is checked later)."""
    return token.startswith(PREFIX)


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def key_json(k: ServiceKey) -> dict[str, Any]:
    """What the admin's list shows: never the secret, nor its hash."""
    expires, used, revoked = _utc(k.expires_at), _utc(k.last_used_at), _utc(k.revoked_at)
    return {"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes),
            "created_by": k.created_by, "created_at": _utc(k.created_at).isoformat(),
            "expires_at": expires.isoformat() if expires else None,
            "last_used_at": used.isoformat() if used else None,
            "revoked_at": revoked.isoformat() if revoked else None,
            "state": "revoked" if revoked else "expired" if expires and expires <= datetime.now(timezone.utc) else "active"}


# -- an admin's changes ----------------------------------------------------------------------------


def check_request(name: Any, scopes: Any, expires_in_days: Any = None) -> tuple[str, list[str], datetime | None]:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise DomainError("invalid", "name: 1-100 characters")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise DomainError("invalid_scope", f"scopes: one or more of {', '.join(SCOPES)}")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise DomainError("invalid_scope", f"unknown scope {unknown[0][:40]!r}; scopes are {', '.join(SCOPES)}")
    expires = None
    if expires_in_days is not None:
        if type(expires_in_days) is not int or not 1 <= expires_in_days <= 3660:
            raise DomainError("invalid", "expires_in_days: a whole number from 1 to 3660")
        expires = datetime.now(timezone.utc) + timedelta(days=expires_in_days)
    return name.strip(), sorted(set(scopes)), expires


async def create(db: AsyncSession, actor: Actor | None, name: Any, scopes: Any,
                 expires_in_days: Any = None) -> tuple[ServiceKey, str]:
    """A new key and its secret (to be shown once). `actor` None: made with the CLI. Audited in the
    same transaction."""
    name, scopes, expires = check_request(name, scopes, expires_in_days)
    secret = new_secret()
    row = ServiceKey(name=name, prefix=secret[:VISIBLE], secret_hash=digest(secret), scopes=scopes,
                     created_by=actor.user_id if actor is not None else None,
                     created_at=datetime.now(timezone.utc), expires_at=expires)
    db.add(row)
    await db.flush()
    audit.record(db, actor, "key.create", "service_key", row.id,
                 {"name": name, "scopes": scopes, "prefix": row.prefix,
                  "expires_at": expires.isoformat() if expires else None},
                 actor_name=None if actor is not None else audit.CLI_NAME)
    await db.commit()
    return row, secret


async def revoke(db: AsyncSession, actor: Actor | None, key_id: int) -> ServiceKey:
    row = await db.get(ServiceKey, key_id)
    if row is None:
        raise DomainError("not_found", "no such key")
    if row.revoked_at is None:  # revoking twice changes nothing and is not audited twice
        row.revoked_at = datetime.now(timezone.utc)
        audit.record(db, actor, "key.revoke", "service_key", row.id, {"name": row.name, "prefix": row.prefix},
                     actor_name=None if actor is not None else audit.CLI_NAME)
        await db.commit()
    return row


async def listing(db: AsyncSession) -> list[ServiceKey]:
    return list((await db.execute(select(ServiceKey).order_by(ServiceKey.id))).scalars())


# -- checking a key on each call -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Known:
    id: int
    name: str
    scopes: frozenset[str]
    expires_at: datetime | None
    revoked: bool


class KeyResolver:
    """Bearer key -> service actor, with a short cache so a busy integration costs a hash and a dict
    lookup per call, and one query per key every `CACHE_SECONDS`."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cache_seconds: float = CACHE_SECONDS) -> None:
        self.sessionmaker = sessionmaker
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, _Known | None]] = {}
        self._used: dict[int, float] = {}  # key id -> when this node last wrote its last-used time

    async def resolve(self, secret: str) -> Actor:
        if not SHAPE.match(secret):
            raise KeyRefused("key_invalid", "not a service key")
        known = await self._lookup(digest(secret))
        if known is None:
            raise KeyRefused("key_invalid", "no such service key")
        if known.revoked:
            raise KeyRefused("key_revoked", "this service key was revoked", known.id)
        if known.expires_at is not None and known.expires_at <= datetime.now(timezone.utc):
            raise KeyRefused("key_expired", "this service key has expired", known.id)
        await self._touch(known.id)
        return Actor(user_id=0, role=SERVICE, name=known.name, key_id=known.id, scopes=known.scopes)

    def forget(self, key_id: int) -> None:
        """Drop a key this node changed (revoked) at once; other nodes follow within CACHE_SECONDS."""
        self._cache = {h: v for h, v in self._cache.items() if v[1] is None or v[1].id != key_id}

    async def _lookup(self, hashed: str) -> _Known | None:
        now = time.monotonic()
        cached = self._cache.get(hashed)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        async with self.sessionmaker() as db:
            row = (await db.execute(select(ServiceKey).where(ServiceKey.secret_hash == hashed))).scalar_one_or_none()
        known = None if row is None else _Known(row.id, row.name, frozenset(row.scopes), _utc(row.expires_at),
                                                row.revoked_at is not None)
        if len(self._cache) >= _CACHE_MAX:  # garbage keys cannot grow it without bound
            self._cache.clear()
        self._cache[hashed] = (now, known)
        return known

    async def _touch(self, key_id: int) -> None:
        """Last-used, written at most once a minute per key: by this node (its own clock) and across
        nodes (the update only moves a time older than a minute)."""
        now = time.monotonic()
        if now - self._used.get(key_id, -LAST_USED_EVERY) < LAST_USED_EVERY:
            return
        self._used[key_id] = now
        at = datetime.now(timezone.utc)
        async with self.sessionmaker() as db:
            await db.execute(update(ServiceKey).where(
                ServiceKey.id == key_id,
                or_(ServiceKey.last_used_at.is_(None), ServiceKey.last_used_at < at - timedelta(seconds=LAST_USED_EVERY)))
                .values(last_used_at=at))
            await db.commit()
