"""Account records: create, sign in, and map tokens (ours or an identity provider's) to actors."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from collab.auth.actor import Actor
from collab.auth.passwords import MIN_LENGTH, check_password, hash_password
from collab.auth.revocations import Revocations
from collab.auth.tokens import (
    ISSUER, Grant, TokenError, external_configured, unverified_issuer, verify_external, verify_own_grant,
)
from collab.errors import DomainError
from collab.settings import Settings
from collab.store.models import ROLES, User


def actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role, name=user.display_name, region=user.region)


async def create_user(
    db: AsyncSession,
    *,
    username: str,
    password: str,
    display_name: str,
    role: str = "teacher",
    school: str = "",
    region: str = "",
) -> User:
    if role not in ROLES:
        raise DomainError("invalid_role", f"role must be one of {', '.join(ROLES)}")
    if not (3 <= len(username) <= 64) or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise DomainError("invalid_username", "username: 3-64 letters, digits, '.', '-' or '_'")
    if len(password) < MIN_LENGTH:
        raise DomainError("weak_password", f"password must have at least {MIN_LENGTH} characters")
    if not display_name.strip() or len(display_name) > 100:
        raise DomainError("invalid_name", "display name: 1-100 characters")
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name.strip(),
        role=role,
        school=school[:200],
        region=region[:100],
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise DomainError("username_taken", "that username is taken") from None
    return user


async def authenticate(sessionmaker: async_sessionmaker[AsyncSession], username: str, password: str) -> User | None:
    """The account, if `password` is its own. The database connection goes back to the pool before
    Argon2 runs: a storm of sign-ins waiting for a core must not hold the pool's connections."""
    async with sessionmaker() as db:
        user = (await db.execute(select(User).where(User.username == username))).scalar_one_or_none()
    if not await check_password(user.password_hash if user else None, password):
        return None
    return user


class TokenResolver:
    """Turns a bearer token into an Actor. Own tokens need no I/O; external subjects are cached. A token
    that was revoked (signed out, sessions ended: the in-memory `revocations`) is refused, and the
    sessions of the tokens that pass are noted in `seen` (their "last seen", written once a minute)."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                 revocations: Revocations | None = None) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.revocations = revocations if revocations is not None else Revocations()
        self.seen: set[int] = set()
        self._external: dict[tuple[str, str], int] = {}

    async def resolve(self, token: str) -> Actor:
        return (await self.resolve_grant(token))[0]

    async def resolve_grant(self, token: str) -> tuple[Actor, Grant]:
        if not token or not isinstance(token, str):
            raise TokenError("token_missing", "a token is required")
        if token.startswith("collab_sk_"):  # collab.keys.PREFIX: a service is never a person
            raise TokenError("key_not_allowed", "a service key calls /api; it cannot open sockets or sign in")
        if not external_configured(self.settings) or unverified_issuer(token) == ISSUER:
            actor, grant = verify_own_grant(self.settings, token)
        else:
            ident = verify_external(self.settings, token)
            user_id = self._external.get((ident.issuer, ident.subject))
            if user_id is None:
                user_id = await self._provision(ident)
                self._external[(ident.issuer, ident.subject)] = user_id
            actor = Actor(user_id=user_id, role=ident.role, name=ident.name, region=ident.region)
            grant = Grant(None, ident.issued_at, ident.expires_at)
        if self.revocations.void(actor.user_id, grant):
            raise TokenError("token_revoked", "this sign-in was ended (signed out, or sessions ended); sign in again")
        if grant.session_id is not None:
            self.seen.add(grant.session_id)
        return actor, grant

    async def _provision(self, ident) -> int:
        """First sight of an external subject creates its local user (just-in-time provisioning)."""
        for _ in range(2):  # two nodes may race to create the same user: the loser reads the winner's
            async with self.sessionmaker() as db:
                found = (
                    await db.execute(
                        select(User.id).where(User.idp_issuer == ident.issuer, User.idp_subject == ident.subject)
                    )
                ).scalar_one_or_none()
                if found is not None:
                    return found
                user = User(
                    display_name=ident.name,
                    role=ident.role,
                    school=ident.school,
                    region=ident.region,
                    idp_issuer=ident.issuer,
                    idp_subject=ident.subject,
                )
                db.add(user)
                try:
                    await db.commit()
                    return user.id
                except IntegrityError:
                    await db.rollback()
        raise TokenError("token_invalid", "could not map the external subject to a user")
