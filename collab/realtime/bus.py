"""The bus interface: publish, node-level subscribe, bounded history with offset and epoch, presence.

A channel's stream has an *epoch* (a random id born with its history) and a monotonically increasing
*offset*. Together they let a reconnecting client ask for "everything after offset N of epoch E" and
get either every missed publication or a clear "cannot recover" answer. An epoch changes when the
history is lost (for example a Redis restart without persistence): offsets of two epochs never mix.

Implementations: `collab.realtime.memory_bus.MemoryBus` (embedded, one process) and
`collab.realtime.redis_bus.RedisBus` (many nodes). Both pass tests/integration/test_bus_contract.py.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable


@dataclass(slots=True, frozen=True)
class Publication:
    channel: str
    epoch: str
    offset: int
    data: bytes  # the event, serialized once by the publisher (a JSON object)


@dataclass(slots=True, frozen=True)
class Position:
    epoch: str
    offset: int  # offset of the newest publication, 0 when none


@dataclass(slots=True, frozen=True)
class History:
    pubs: list[Publication]
    position: Position
    # False when publications after `since` have already left the bounded history.
    covered: bool


@dataclass(slots=True, frozen=True)
class PresenceCounts:
    clients: int
    users: int


class BusUnavailable(Exception):
    """The shared bus cannot be reached right now; the caller decides what degrades."""


OnPublication = Callable[[Publication], None]
OnStateChange = Callable[[bool], None]  # True when the bus (re)connects, False when it is lost


class Bus(abc.ABC):
    node_id: str

    @abc.abstractmethod
    async def start(self, on_publication: OnPublication, on_state: OnStateChange) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @property
    @abc.abstractmethod
    def healthy(self) -> bool: ...

    @abc.abstractmethod
    async def publish(self, channel: str, data: bytes) -> Publication:
        """Append to history and deliver to every node subscribed to the channel, atomically."""

    @abc.abstractmethod
    async def broadcast(self, channel: str, data: bytes) -> None:
        """Deliver to every node subscribed to the channel, with no offset and no history
        (`Publication.offset` 0): for listeners that tolerate loss and reorder, such as document
        updates, whose records are in the database."""

    @abc.abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Node-level: called once per channel, however many local sockets listen."""

    @abc.abstractmethod
    async def unsubscribe(self, channel: str) -> None: ...

    @abc.abstractmethod
    async def history(self, channel: str, since: int, limit: int = 1000) -> History:
        """Publications with offset > since (oldest first), and the current position."""

    @abc.abstractmethod
    async def position(self, channel: str) -> Position: ...

    @abc.abstractmethod
    async def set_presence(self, channel: str, clients: int, users: int) -> None:
        """This node's counts for a channel; entries expire if the node stops refreshing them."""

    @abc.abstractmethod
    async def presence(self, channel: str) -> PresenceCounts:
        """Counts summed over live nodes."""

    @abc.abstractmethod
    async def claim_once(self, key: str, ttl: float) -> bool:
        """True the first time `key` is claimed on any node within `ttl` seconds, False after: for
        single-use tokens (a document socket's ticket)."""

    @abc.abstractmethod
    async def hold(self, key: str, owner: str, ttl: float) -> str | None:
        """Take or keep a lease: `owner` holds `key` for `ttl` seconds more if nobody else holds it.
        Returns the holder now (`owner` when taken or renewed); a lease not renewed in time lapses, so
        a node that died hands its job on (the program of an activity is made by one node at a time)."""

    @abc.abstractmethod
    async def release(self, key: str, owner: str) -> None:
        """Give a lease up at once, if `owner` still holds it."""

    @abc.abstractmethod
    async def put_blobs(self, blobs: dict[str, bytes], ttl: float) -> None:
        """Store bytes for other nodes to fetch, each expiring after `ttl` seconds (a program's parts)."""

    @abc.abstractmethod
    async def get_blob(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def ping(self) -> bool: ...
