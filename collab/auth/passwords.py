"""Password hashing with Argon2id (argon2-cffi's tuned defaults)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# What a name without an account (or an account without a password: one made by an identity
# provider) is checked against: the same Argon2 verification a wrong password gets, with the same
# parameters, so a missing account and a wrong password cost the same and answer alike. Made at import,
# not on first use: a first unknown name slower than the rest would tell it apart.
_DUMMY_HASH = _hasher.hash("no account has this password")


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


# Sign-ins verify on threads of their own (argon2's C code runs without the GIL), at most one per core
# (the sign-in throttle's turns queue the rest): a storm of sign-ins does not stall the node's event
# loop, and with it every socket the node serves, and holds one 64 MiB Argon2 buffer per core at most.
_THREADS = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")


async def check_password(password_hash: str | None, password: str) -> bool:
    """`verify_password` off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_THREADS, verify_password, password_hash, password)
