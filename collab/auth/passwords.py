"""Password hashing with Argon2id (argon2-cffi's tuned defaults)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# What a name without an account (or an account without a password: one made by an identity
# provider) is checked against: the same Argon2 verification a wrong password gets, with the same
# parameters, so a missing account and a wrong password cost the same and answer alike.
_DUMMY_HASH = _hasher.hash("no account has this password")


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
