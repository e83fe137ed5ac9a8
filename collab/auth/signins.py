"""Sign-in sessions: each sign-in is a row (`auth_sessions`), and every token issued to it carries its id.

Ending sessions is written to the database first, then known on every node at once: the node that
ends them applies it, then broadcasts it on `node:revocations` (awaited before the answer, like every
node broadcast), and each node adds it to its in-memory `Revocations` and ends the sockets it holds
for it (`Lifetimes`). A node starting, or whose bus came back (it may have missed broadcasts), loads
from the database what can still void a living token. Nothing here runs on a `/ws` connect.

"Last seen" is coarse on purpose: the token resolver notes the sessions it saw, and once a minute a
node writes them (and those of its open sockets) in one statement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from collab.auth.accounts import TokenResolver, actor_of
from collab.auth.revocations import FOREVER, Cutoff, Revocations
from collab.auth.tokens import Grant, TokenError, issue_token
from collab.errors import DomainError
from collab.realtime.lifetimes import Lifetimes
from collab.settings import Settings
from collab.store.models import AuthSession, User

log = logging.getLogger("collab.signins")

CHANNEL = "node:revocations"  # clients cannot subscribe: the policy knows no "node" channels
SEEN_EVERY = 60.0  # seconds: how coarse "last seen" is
SEEN_BATCH = 500


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _stamp(value: datetime) -> float:
    return aware(value).timestamp()


def refresh_in(expires_in: float) -> int:
    """When a client should renew a token that expires in `expires_in` seconds: a fifth of its life
    early, at most five minutes, at least a second (a 4 s token: after 3 s; 12 h: 5 min before)."""
    return max(int(expires_in - min(300.0, max(1.0, expires_in / 5))), 0)


def terms(grant: Grant) -> dict[str, int]:
    """What a client is told of its token's lifetime (the `/ws` connect and refresh replies)."""
    left = max(grant.expires_at - time.time(), 0.0)
    return {"expires_in": int(left), "refresh_in": refresh_in(left)}


def _cutoff_json(c: Cutoff | None) -> dict | None:
    if c is None:
        return None
    forever = c.before == FOREVER  # JSON has no infinity: a disabled account's cut-off is said so
    return {"before": None if forever else c.before, "spared": c.spared,
            "until": None if forever else c.until, "at": c.at}


def _cutoff_from(c: dict | None) -> Cutoff | None:
    if c is None:
        return None
    if c["before"] is None:
        return Cutoff(FOREVER, None, FOREVER, float(c["at"]))
    spared = None if c["spared"] is None else int(c["spared"])
    return Cutoff(float(c["before"]), spared, float(c["until"]), float(c["at"]))


@dataclass(frozen=True)
class Ended:
    """What was revoked, to announce after the commit: sessions, and maybe a cut-off for the user."""

    user_id: int
    sessions: tuple[int, ...] = ()
    cutoff: Cutoff | None = None


class SignIns:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], hub,
                 tokens: TokenResolver) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.hub = hub
        self.tokens = tokens
        self.revocations: Revocations = tokens.revocations
        self.lifetimes = Lifetimes(self.revocations)
        self._task: asyncio.Task | None = None
        self._reloading: asyncio.Task | None = None

    # -- the node's side ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.hub.watch(CHANNEL, self._heard)  # listen first, then load: nothing falls between
        await self.reload()
        self._task = asyncio.create_task(self._every_minute(), name="sign-ins")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        try:
            await self.write_seen()  # the last minute's "last seen", before the node goes
        except Exception:
            log.exception("could not write sessions' last seen")

    async def reload(self) -> None:
        """What in the database can still void a living token, merged into what this node knows."""
        ttl = self.settings.token_ttl
        now = time.time()
        since = datetime.fromtimestamp(now - ttl, timezone.utc)
        async with self.sessionmaker() as db:
            rows = (await db.execute(select(AuthSession.id, AuthSession.revoked_at)
                                     .where(AuthSession.revoked_at > since))).all()
            users = (await db.execute(select(User).where(or_(User.disabled_at.is_not(None),
                                                             User.tokens_void_before > now - ttl)))).scalars().all()
        self.revocations.load({sid: _stamp(at) + ttl for sid, at in rows},
                              {u.id: c for u in users if (c := self.cutoff_of(u)) is not None})

    def cutoff_of(self, user: User) -> Cutoff | None:
        if user.disabled_at is not None:
            return Cutoff(FOREVER, None, FOREVER, _stamp(user.disabled_at))
        if user.tokens_void_before is not None:
            b = user.tokens_void_before
            return Cutoff(b, user.tokens_void_spared, b + self.settings.token_ttl, b)
        return None

    def _heard(self, data: bytes | None) -> None:
        if data is None:  # the bus was lost or came back: a revocation may have gone unheard
            if self._reloading is None or self._reloading.done():
                self._reloading = asyncio.get_running_loop().create_task(self._reload_and_recheck())
            return
        try:
            msg = orjson.loads(data)
            self._apply(Ended(int(msg["u"]), tuple(int(s) for s in msg["s"]), _cutoff_from(msg["c"])), float(msg["t"]))
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable revocation notice; reloading")
            self._heard(None)

    async def _reload_and_recheck(self) -> None:
        try:
            await self.reload()
        except Exception:
            log.exception("could not reload revocations")
            return
        self.lifetimes.recheck()

    def _apply(self, ended: Ended, until: float) -> None:
        for sid in ended.sessions:
            self.revocations.revoke_session(sid, until)
        if ended.cutoff is not None:
            self.revocations.cut_off(ended.user_id, ended.cutoff)
        self.lifetimes.revoked(ended.user_id)

    async def announce(self, ended: Ended) -> None:
        """After the commit: this node knows at once, every other node within a bus round trip. If the
        bus is down, the others load it from the database when it returns."""
        until = time.time() + self.settings.token_ttl
        self._apply(ended, until)
        await self.hub.broadcast(CHANNEL, orjson.dumps({"u": ended.user_id, "s": list(ended.sessions),
                                                        "c": _cutoff_json(ended.cutoff), "t": until}))

    async def _every_minute(self) -> None:
        while True:
            await asyncio.sleep(SEEN_EVERY)
            try:
                await self.write_seen()
            except Exception:
                log.exception("could not write sessions' last seen")
            self.revocations.forget_older(time.time())

    async def write_seen(self) -> None:
        seen = self.tokens.seen
        self.tokens.seen = set()
        seen.update(h.grant.session_id for h in self.lifetimes.all() if h.grant and h.grant.session_id)
        if not seen:
            return
        ids, now = sorted(seen), datetime.now(timezone.utc)
        async with self.sessionmaker() as db:
            for i in range(0, len(ids), SEEN_BATCH):
                await db.execute(update(AuthSession).where(AuthSession.id.in_(ids[i:i + SEEN_BATCH]))
                                 .values(last_seen_at=now))
            await db.commit()

    # -- records -----------------------------------------------------------------------------------

    async def open(self, db: AsyncSession, user: User, user_agent: str, address: str) -> str:
        """A new sign-in for `user` (already authenticated): its row, committed, and its first token."""
        if user.disabled_at is not None:
            raise DomainError("account_disabled", "this account is disabled; ask an administrator")
        now = datetime.now(timezone.utc)
        row = AuthSession(user_id=user.id, created_at=now, last_seen_at=now,
                          expires_at=now + timedelta(seconds=self.settings.token_ttl),
                          user_agent=user_agent[:255], client_address=address[:64])
        db.add(row)
        await db.commit()
        return issue_token(self.settings, actor_of(user), session_id=row.id)

    async def renew(self, user_id: int, grant: Grant) -> str:
        """A new token for the same session, with the account as it is now (role, name). The session
        must still be open: the UPDATE only matches an unrevoked row, so a token is never renewed
        past a revocation, whichever node made it."""
        if grant.session_id is None:
            raise TokenError("token_not_renewable", "this token has no sign-in session to renew; sign in again")
        now = datetime.now(timezone.utc)
        async with self.sessionmaker() as db:
            user = await db.get(User, user_id)
            if user is None or user.disabled_at is not None:
                raise TokenError("token_revoked", "this account can no longer sign in")
            done = await db.execute(update(AuthSession)
                                    .where(AuthSession.id == grant.session_id, AuthSession.user_id == user_id,
                                           AuthSession.revoked_at.is_(None))
                                    .values(expires_at=now + timedelta(seconds=self.settings.token_ttl),
                                            last_seen_at=now))
            if done.rowcount != 1:
                raise TokenError("token_revoked", "this sign-in was ended; sign in again")
            await db.commit()
        return issue_token(self.settings, actor_of(user), session_id=grant.session_id)

    async def active(self, db: AsyncSession, user_id: int) -> list[AuthSession]:
        now = datetime.now(timezone.utc)
        return list((await db.execute(
            select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None),
                                      AuthSession.expires_at > now)
            .order_by(AuthSession.last_seen_at.desc(), AuthSession.id.desc()))).scalars())

    async def revoke(self, db: AsyncSession, user_id: int, why: str, only: int | None = None,
                     sparing: int | None = None) -> Ended:
        """Mark the user's open sessions revoked (just `only`, or all but `sparing`); the caller commits,
        then `announce`s what this returns."""
        q = (update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
             .values(revoked_at=datetime.now(timezone.utc), revoked_why=why[:32]).returning(AuthSession.id))
        if only is not None:
            q = q.where(AuthSession.id == only)
        if sparing is not None:
            q = q.where(AuthSession.id != sparing)
        return Ended(user_id, tuple((await db.execute(q)).scalars()))

    async def cut_off(self, db: AsyncSession, user: User, why: str, sparing: int | None = None) -> Ended:
        """Every token of `user` issued until now is void (but those of session `sparing`), and their
        sessions are ended: password changed, role changed, disabled, all sessions ended by an admin.
        The caller commits, then `announce`s what this returns."""
        now = time.time()
        user.tokens_void_before, user.tokens_void_spared = now, sparing
        ended = await self.revoke(db, user.id, why, sparing=sparing)
        cutoff = (Cutoff(FOREVER, None, FOREVER, now) if user.disabled_at is not None
                  else Cutoff(now, sparing, now + self.settings.token_ttl, now))
        return Ended(user.id, ended.sessions, cutoff)

    def reenabled(self, user: User) -> Ended:
        """An account enabled again: its cut-off goes back from FOREVER to when it was disabled."""
        before = user.tokens_void_before or time.time()
        return Ended(user.id, (), Cutoff(before, None, before + self.settings.token_ttl, time.time()))
