"""Sign-in throttling: failed sign-ins are counted, and past a limit the next try is refused (429,
`signin_throttled`, `Retry-After`) before any password is checked.

Four counters, each a moving window of the `limits` package, in Redis when the node has one (every
node counts into the same windows) and in memory otherwise:

- per address and account: one source guessing one account's password; the tightest rule;
- per address: one source spraying passwords over many accounts; it counts failures, not sign-ins, so
  a school's hundreds of teachers behind one NAT address signing in correctly never reach it. It has
  a pace as well as a total, so the total's guesses (each an Argon2 verification) cannot all be spent
  in the first seconds of a join storm;
- per account: many sources guessing one account; the loosest rule, since it is the one an attacker
  could aim at a teacher to lock them out;
- per known device: a browser holding a device cookie for the name tried (`collab.auth.devices`) is
  counted on its own and by no other rule, so an attack on an account or an address does not stop its
  owner signing in from the browser they used before (OWASP's device cookies).

The throttle is the same for every name: counters are keyed by a digest of the name tried, whether an
account has it or not, and the decision is made before the account is looked up. A throttled unknown
name and a throttled real one get the same answer after the same work, and nothing in it says which
rule fired (its wait is the longest of the windows that are full).

A try holds one of the node's turns (one per core) from its check to its count, so however many
guesses arrive at once, at most one per core per node is past the check and not yet counted: a limit
is overshot by no more than that. Waiting for a turn is waiting for a core to verify a password on,
which a sign-in does anyway; a try whose windows are already full is answered before it queues for one,
so a throttled attacker's tries never stand in front of a teacher's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter
from redis.asyncio import ConnectionPool

from collab.errors import DomainError
from collab.settings import Settings

log = logging.getLogger("collab.signin")

THROTTLED = Counter("collab_signin_throttled_total", "Sign-ins refused by the throttle (429)")
FAILED = Counter("collab_signin_failures_total", "Sign-ins with a wrong username or password")


class SigninThrottled(DomainError):
    """429: too many failed sign-ins; `retry_after` seconds until the fullest window has room again."""

    code = "signin_throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(None, "too many failed sign-ins; wait before trying again")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """One sign-in try, as the counters see it."""

    address: str
    account: str  # a digest of the name tried: the same for a real account and an unknown name
    device: str | None  # the known device's id, if the browser holds a valid cookie for this name


@dataclass(frozen=True)
class Rules:
    """Each rule is one or more windows ("30 per minute; 100 per 10 minutes": a pace and a total)."""

    address_account: tuple[RateLimitItem, ...]
    address: tuple[RateLimitItem, ...]
    account: tuple[RateLimitItem, ...]
    device: tuple[RateLimitItem, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> "Rules":
        def rule(name: str) -> tuple[RateLimitItem, ...]:
            value = getattr(settings, name)
            try:
                return tuple(parse_many(value))
            except ValueError:
                flag = name.replace("_", "-")
                raise ValueError(f"--{flag} / COLLAB_{name.upper()}: {value!r} is not a limit such as '5 per 5 minutes'") from None

        return cls(rule("signin_failures_per_address_account"), rule("signin_failures_per_address"),
                   rule("signin_failures_per_account"), rule("signin_failures_per_device"))


class SigninThrottle:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.signin_throttle
        self.rules = Rules.from_settings(settings)
        self._pool: ConnectionPool | None = None
        self.storage: Storage
        if settings.redis_url:
            # redis-py's asyncio client, as the bus uses (limits defaults to coredis), on a pool we close
            self._pool = ConnectionPool.from_url(settings.redis_url)
            self.storage = RedisStorage("async+" + settings.redis_url, implementation="redispy",
                                        key_prefix="collab:signin", wrap_exceptions=True, connection_pool=self._pool)
        else:
            self.storage = MemoryStorage()
        self.windows = MovingWindowRateLimiter(self.storage)
        self._turns = asyncio.Semaphore(os.cpu_count() or 2)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()

    @staticmethod
    def attempt(address: str, username: str, device: str | None) -> Attempt:
        return Attempt(address, hashlib.sha256(username.encode()).hexdigest()[:32], device)

    def _counters(self, a: Attempt) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        if a.device is not None:
            rules = [(self.rules.device, ("device", a.device))]
        else:
            rules = [(self.rules.address_account, ("address-account", a.address, a.account)),
                     (self.rules.address, ("address", a.address)),
                     (self.rules.account, ("account", a.account))]
        return [(window, key) for windows, key in rules for window in windows]

    @contextlib.asynccontextmanager
    async def turn(self, a: Attempt) -> AsyncIterator[None]:
        """Hold a turn, check the attempt's windows (raising `SigninThrottled` if one is full), and keep
        the turn while the password is checked and a failure counted."""
        if self._turns.locked():
            await self.check(a)  # full already: answered now, not after the queue
        async with self._turns:
            await self.check(a)
            yield

    async def check(self, a: Attempt) -> None:
        """Raise `SigninThrottled` if any of the attempt's windows is full."""
        if not self.enabled:
            return
        counters = self._counters(a)
        try:
            stats = await asyncio.gather(*(self.windows.get_window_stats(item, *key) for item, key in counters))
        except StorageError as exc:
            # Open, not shut: a Redis outage must not stop a national activity's teachers signing in;
            # every try still costs an Argon2 verification.
            log.warning("sign-in throttle unavailable, not throttling: %s", exc)
            return
        now = time.time()
        waits = [s.reset_time - now for s in stats if s.remaining <= 0]
        if waits:
            THROTTLED.inc()
            raise SigninThrottled(max(1, math.ceil(max(waits))))

    async def failed(self, a: Attempt) -> None:
        """Count a wrong username or password in each of the attempt's windows."""
        FAILED.inc()
        if not self.enabled:
            return
        try:
            await asyncio.gather(*(self.windows.hit(item, *key) for item, key in self._counters(a)))
        except StorageError as exc:
            log.warning("sign-in throttle unavailable, failure not counted: %s", exc)
