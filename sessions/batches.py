"""Group commit for the commands a whole room sends at once: ten thousand upvotes or poll answers in ten
seconds are a few hundred transactions, not ten thousand.

Each command waits for its own outcome, so nothing is acknowledged before it is stored. There is no
fixed delay: when the writer is idle the first item goes at the next loop turn, and whatever arrives
while a batch is being written forms the next one. Under light load a batch is one item and costs what
the single-row path did; under a storm batches grow and the cost per item falls.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Generic, TypeVar

from collab.errors import DomainError

log = logging.getLogger("collab.batches")

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
# write(items) -> one outcome per item, in order: a value, or the DomainError that item earns
Writer = Callable[[list[Item]], Awaitable[list["Outcome | DomainError"]]]


class Batcher(Generic[Item, Outcome]):
    def __init__(self, write: Writer, max_batch: int = 500) -> None:
        self.write = write
        self.max_batch = max_batch
        self._queue: list[tuple[Item, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        self.batches = 0  # for tests and metrics: how many transactions carried the items

    async def submit(self, item: Item) -> Outcome:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._run())
        outcome = await future
        if isinstance(outcome, DomainError):  # a rule's refusal of this item: the refusal of its command
            raise outcome
        return outcome

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let the items of this loop turn join the first batch
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            self.batches += 1
            try:
                outcomes = await self.write([item for item, _ in batch])
            except DomainError as exc:
                outcomes = [exc] * len(batch)
            except Exception as exc:  # the transaction failed: nobody's item was stored
                log.exception("batch write failed")
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue  # its command was cancelled (the socket went away)
                if isinstance(outcome, Exception) and not isinstance(outcome, DomainError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)


def upsert(db, table):
    """An INSERT that knows ON CONFLICT, for the dialect `db` speaks (PostgreSQL or SQLite)."""
    if db.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
