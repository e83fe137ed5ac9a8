"""The in-process bus: the embedded default for one server process."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque

from collab.realtime.bus import Bus, History, OnPublication, OnStateChange, Position, PresenceCounts, Publication


class _Stream:
    __slots__ = ("epoch", "offset", "pubs")

    def __init__(self, size: int) -> None:
        self.epoch = secrets.token_hex(4)
        self.offset = 0
        self.pubs: deque[Publication] = deque(maxlen=size)


class MemoryBus(Bus):
    def __init__(self, node_id: str = "local", history_size: int = 1000) -> None:
        self.node_id = node_id
        self.history_size = history_size
        self._streams: dict[str, _Stream] = {}
        self._subscribed: set[str] = set()
        self._presence: dict[str, PresenceCounts] = {}
        self._claims: dict[str, float] = {}  # claim_once: key -> when it may be claimed again
        self._leases: dict[str, tuple[str, float]] = {}  # key -> (owner, until)
        self._blobs: dict[str, tuple[bytes, float]] = {}  # key -> (data, until)
        self._on_pub: OnPublication | None = None

    async def start(self, on_publication: OnPublication, on_state: OnStateChange) -> None:
        self._on_pub = on_publication
        on_state(True)

    async def close(self) -> None:
        self._on_pub = None

    @property
    def healthy(self) -> bool:
        return True

    def _stream(self, channel: str) -> _Stream:
        s = self._streams.get(channel)
        if s is None:
            s = self._streams[channel] = _Stream(self.history_size)
        return s

    async def publish(self, channel: str, data: bytes) -> Publication:
        s = self._stream(channel)
        s.offset += 1
        pub = Publication(channel, s.epoch, s.offset, data)
        s.pubs.append(pub)
        if channel in self._subscribed and self._on_pub is not None:
            # Delivered on the next loop turn, as a network bus would: the publisher's reply goes first.
            asyncio.get_running_loop().call_soon(self._on_pub, pub)
        return pub

    async def broadcast(self, channel: str, data: bytes) -> None:
        if channel in self._subscribed and self._on_pub is not None:
            asyncio.get_running_loop().call_soon(self._on_pub, Publication(channel, "", 0, data))

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)

    async def history(self, channel: str, since: int, limit: int = 1000) -> History:
        s = self._stream(channel)
        pubs = [p for p in s.pubs if p.offset > since]
        oldest = s.pubs[0].offset if s.pubs else s.offset + 1
        covered = oldest - 1 <= since <= s.offset and s.offset - since <= limit
        return History(pubs[:limit], Position(s.epoch, s.offset), covered)

    async def position(self, channel: str) -> Position:
        s = self._stream(channel)
        return Position(s.epoch, s.offset)

    async def set_presence(self, channel: str, clients: int, users: int) -> None:
        if clients:
            self._presence[channel] = PresenceCounts(clients, users)
        else:
            self._presence.pop(channel, None)

    async def presence(self, channel: str) -> PresenceCounts:
        return self._presence.get(channel, PresenceCounts(0, 0))

    async def claim_once(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        if len(self._claims) > 10_000:  # forget the expired ones now and then, not on every claim
            self._claims = {k: t for k, t in self._claims.items() if t > now}
        if self._claims.get(key, 0.0) > now:
            return False
        self._claims[key] = now + ttl
        return True

    async def hold(self, key: str, owner: str, ttl: float) -> str | None:
        now = time.monotonic()
        holder, until = self._leases.get(key, ("", 0.0))
        if holder == owner or until <= now:
            self._leases[key] = (owner, now + ttl)
            return owner
        return holder

    async def release(self, key: str, owner: str) -> None:
        if self._leases.get(key, ("",))[0] == owner:
            del self._leases[key]

    async def put_blobs(self, blobs: dict[str, bytes], ttl: float) -> None:
        now = time.monotonic()
        if len(self._blobs) > 2000:  # forget the expired ones now and then
            self._blobs = {k: v for k, v in self._blobs.items() if v[1] > now}
        for key, data in blobs.items():
            self._blobs[key] = (data, now + ttl)

    async def get_blob(self, key: str) -> bytes | None:
        data, until = self._blobs.get(key, (None, 0.0))
        return data if until > time.monotonic() else None

    async def ping(self) -> bool:
        return True
