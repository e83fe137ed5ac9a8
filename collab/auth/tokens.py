"""Signed, expiring tokens.

Our own tokens are HS256 JWTs signed with the server secret; they carry the platform role and name so
that a `/ws` connect needs no database round trip (the join storm of a national activity is thousands of
connects a second), and the sign-in session they belong to (`sid`, collab/auth/signins.py), so that
signing out or an admin ending a user's sessions voids them (collab/auth/revocations.py). Tokens from an external identity provider are accepted when configured (HS256 secret
or RS256 public key, issuer and audience checked); their subjects map to local users on first sight.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import orjson

from collab.auth.actor import Actor
from collab.errors import DomainError
from collab.settings import Settings

ISSUER = "collab"
AUDIENCE = "collab"
EXTERNAL_ROLES = ("teacher", "expert", "organizer")  # never admin from outside


class TokenError(DomainError):
    """A token we will not accept. Its codes (token_*) answer 401 over HTTP; the `/ws` connect and the
    document socket catch it by this name."""


@dataclass(frozen=True)
class ExternalIdentity:
    issuer: str
    subject: str
    name: str
    role: str
    school: str
    region: str
    issued_at: float = 0.0
    expires_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token grants beyond who: its sign-in session (None: a token from before sessions, or an
    external provider's), when it was issued and until when (unix seconds). An open socket lives until
    `expires_at` unless it is refreshed, and ends early if the session or the user's tokens are revoked."""

    session_id: int | None
    issued_at: float
    expires_at: float


def issue_token(settings: Settings, actor: Actor, ttl: int | None = None, session_id: int | None = None) -> str:
    # iat to the millisecond: a cut-off ("tokens issued before T are void") must not void the token a
    # password change hands out in the same second
    now = round(time.time(), 3)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(actor.user_id),
        "role": actor.role,
        "name": actor.name,
        "region": actor.region,
        "iat": now,
        "exp": int(now) + (ttl if ttl is not None else settings.token_ttl),
    }
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, settings.secret, algorithm="HS256")


def _translate(exc: jwt.PyJWTError) -> TokenError:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return TokenError("token_expired", "token has expired; sign in again")
    if isinstance(exc, jwt.InvalidAudienceError):
        return TokenError("token_audience", "token was issued for another audience")
    if isinstance(exc, jwt.InvalidIssuerError):
        return TokenError("token_issuer", "token was issued by an unknown issuer")
    if isinstance(exc, jwt.InvalidSignatureError):
        return TokenError("token_signature", "token signature is not valid")
    return TokenError("token_invalid", f"token is not valid: {exc}")


# The header every token we issue carries. Our own tokens are verified without PyJWT's generality
# (a fifth of the CPU of a join storm): this exact header, an HMAC compared in constant time, then the
# claims. Anything else is refused, so no token can pick its own algorithm.
_OWN_HEADER = jwt.encode({}, "k" * 32, algorithm="HS256").split(".")[0]


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify_own(settings: Settings, token: str) -> Actor:
    return verify_own_grant(settings, token)[0]


def verify_own_grant(settings: Settings, token: str) -> tuple[Actor, Grant]:
    parts = token.split(".") if isinstance(token, str) else ()
    if len(parts) != 3:
        raise TokenError("token_invalid", "token is not valid: not a JWT")
    header, payload, signature = parts
    if header != _OWN_HEADER:
        raise TokenError("token_invalid", "token is not valid: unexpected header")
    expected = hmac.new(settings.secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    try:
        valid = hmac.compare_digest(_b64decode(signature), expected)
        claims = orjson.loads(_b64decode(payload)) if valid else None
    except (ValueError, orjson.JSONDecodeError):
        raise TokenError("token_invalid", "token is not valid: bad encoding") from None
    if not valid:
        raise TokenError("token_signature", "token signature is not valid")
    if not isinstance(claims, dict):
        raise TokenError("token_invalid", "token claims are not an object")
    exp = claims.get("exp")
    if type(exp) not in (int, float):
        raise TokenError("token_invalid", "token has no expiry")
    if exp <= time.time():
        raise TokenError("token_expired", "token has expired; sign in again")
    if claims.get("iss") != ISSUER:
        raise TokenError("token_issuer", "token was issued by an unknown issuer")
    if claims.get("aud") != AUDIENCE:
        raise TokenError("token_audience", "token was issued for another audience")
    role = claims.get("role")
    if role not in ("admin", "organizer", "expert", "teacher"):
        raise TokenError("token_invalid", "token carries no known role")
    try:
        user_id = int(claims["sub"])
    except (KeyError, TypeError, ValueError):
        raise TokenError("token_invalid", "token subject is not a user id") from None
    sid, iat = claims.get("sid"), claims.get("iat", 0)
    if (sid is not None and type(sid) is not int) or type(iat) not in (int, float):
        raise TokenError("token_invalid", "token session or issue time is malformed")
    actor = Actor(user_id=user_id, role=role, name=str(claims.get("name", "")), region=str(claims.get("region", "")))
    return actor, Grant(sid, float(iat), float(exp))


def external_configured(settings: Settings) -> bool:
    return bool(settings.external_jwt_secret or settings.external_jwt_public_key)


def _external_key(settings: Settings) -> tuple[str, str]:
    if settings.external_jwt_public_key:
        key = settings.external_jwt_public_key
        if not key.lstrip().startswith("-----BEGIN") and Path(key).exists():
            key = Path(key).read_text()
        return key, "RS256"
    return settings.external_jwt_secret, "HS256"


def verify_external(settings: Settings, token: str) -> ExternalIdentity:
    if not external_configured(settings):
        raise TokenError("token_issuer", "no external identity provider is configured")
    key, algorithm = _external_key(settings)
    required = ["exp", "sub"]
    if settings.external_jwt_issuer:
        required.append("iss")
    if settings.external_jwt_audience:
        required.append("aud")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],  # pinned: a token cannot choose its own algorithm
            audience=settings.external_jwt_audience or None,
            issuer=settings.external_jwt_issuer or None,
            options={"require": required, "verify_aud": bool(settings.external_jwt_audience)},
        )
    except jwt.PyJWTError as exc:
        raise _translate(exc) from None
    role = claims.get("role", "teacher")
    return ExternalIdentity(
        issuer=str(claims.get("iss", settings.external_jwt_issuer or "external")),
        subject=str(claims["sub"]),
        name=str(claims.get("name", ""))[:100] or f"user {claims['sub']}"[:100],
        role=role if role in EXTERNAL_ROLES else "teacher",
        school=str(claims.get("school", ""))[:200],
        region=str(claims.get("region", ""))[:100],
        issued_at=float(claims["iat"]) if type(claims.get("iat")) in (int, float) else 0.0,
        expires_at=float(claims["exp"]),
    )


def unverified_issuer(token: str) -> str | None:
    """Which verifier to try: read `iss` without trusting it (the signature is checked next)."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
