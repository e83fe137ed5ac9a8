"""Concurrent asks for one thing share one load: the storm after a change (ten thousand pages asking
at once for a room a node has just forgotten) costs one query per node, not one per page."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedLoads(Generic[K, V]):
    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Future] = {}

    def pending(self, key: K) -> bool:
        """A load of `key` is under way (a change heard now may be older than what it reads)."""
        return key in self._pending

    def keys(self) -> list[K]:
        return list(self._pending)

    async def load(self, key: K, make: Callable[[], Awaitable[V]]) -> V:
        """`make()`'s value, or that of the load of `key` already under way. A failure reaches every
        asker of that load; the next ask tries again."""
        waiting = self._pending.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await make()
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a waiter re-raises it, nobody else must log it
            raise
        finally:
            del self._pending[key]
