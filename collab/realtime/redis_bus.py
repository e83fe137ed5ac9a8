"""The Redis bus: fan-out between nodes, bounded history in Streams, presence with per-node expiry.

Keys for channel C (the braces keep one channel's keys on one Redis Cluster slot):

    collab:m:{C}   hash: e = epoch, o = newest offset
    collab:s:{C}   stream: one entry per publication, id "<offset>-0", field d = event bytes
    collab:p:<db>:{C}  pub/sub channel: "<epoch>:<offset>:" + event bytes. Pub/sub ignores Redis's
                   database numbers, so the number is in the name: two deployments (or a test run
                   and a benchmark) on one Redis server never hear each other.
    collab:pr:{C}  hash: node id -> "<clients> <users> <expires-at-ms>"
    collab:once:K  a claimed single-use key (claim_once), expiring with what it guards
    collab:lease:K a lease (hold): the holder's name, expiring unless renewed
    collab:blob:K  bytes for other nodes to fetch (put_blobs), expiring

Publishing is one Lua script, so the offset, the history entry and the pub/sub message can never
disagree. When Redis goes away the bus reports `on_state(False)`, retries with capped exponential
backoff, resubscribes every channel, and reports `on_state(True)`; the hub then asks history for
whatever each channel may have missed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, TimeoutError as RedisTimeoutError

from collab.realtime.bus import (
    Bus,
    BusUnavailable,
    History,
    OnPublication,
    OnStateChange,
    Position,
    PresenceCounts,
    Publication,
)

log = logging.getLogger("collab.bus")

POOL = 64  # connections to Redis per node (the subscriber holds one more of its own)
POOL_WAIT = 5.0  # seconds a command waits for one of them before the bus counts as away

PUBLISH = """
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[4]
  redis.call('hset', KEYS[1], 'e', epoch)
end
local offset = redis.call('hincrby', KEYS[1], 'o', 1)
redis.call('xadd', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-0', 'd', ARGV[1])
redis.call('expire', KEYS[1], ARGV[3])
redis.call('expire', KEYS[2], ARGV[3])
redis.call('publish', KEYS[3], epoch .. ':' .. offset .. ':' .. ARGV[1])
return {epoch, offset}
"""

# Position and history read together, so "covered" is judged on one consistent view.
HISTORY = """
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[3]
  redis.call('hset', KEYS[1], 'e', epoch, 'o', 0)
  redis.call('expire', KEYS[1], ARGV[4])
end
local offset = tonumber(redis.call('hget', KEYS[1], 'o') or '0')
local first = redis.call('xrange', KEYS[2], '-', '+', 'COUNT', 1)
local entries = {}
if tonumber(ARGV[2]) > 0 then
  entries = redis.call('xrange', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
end
local oldest = offset + 1
if #first > 0 then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
return {epoch, offset, oldest, entries}
"""

# A lease: taken when free, renewed when ours; answers the holder.
HOLD = """
local holder = redis.call('get', KEYS[1])
if not holder or holder == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return holder
"""

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return 0
"""


def _keys(channel: str) -> tuple[str, str, str]:
    """The channel's position hash, history stream and presence hash (its pub/sub name is per bus)."""
    tag = "{" + channel + "}"
    return f"collab:m:{tag}", f"collab:s:{tag}", f"collab:pr:{tag}"


def _pubsub_prefix(url: str) -> str:
    db = redis.connection.parse_url(url).get("db", 0) or 0
    return f"collab:p:{db}:"


class RedisBus(Bus):
    def __init__(
        self,
        url: str,
        node_id: str,
        history_size: int = 1000,
        history_ttl: int = 86400,
        presence_ttl: float = 30.0,
        max_backoff: float = 5.0,
    ) -> None:
        self.url = url
        self.node_id = node_id
        self.history_size = history_size
        self.history_ttl = history_ttl
        self.presence_ttl = presence_ttl
        self.max_backoff = max_backoff
        # Fail fast when Redis is away (the hub degrades to local delivery and retries on its own),
        # instead of redis-py's default of ten retries of up to a second each.
        # A burst (a storm of subscribes to new channels, each reading history) waits its turn for one of
        # POOL connections: redis-py's default pool refuses the 101st at once ("Too many connections"),
        # which the hub would report as the bus being away.
        self._redis = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
            url, max_connections=POOL, timeout=POOL_WAIT, socket_timeout=5, socket_connect_timeout=2,
            retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.2), retries=2),
        ))
        self._publish = self._redis.register_script(PUBLISH)
        self._history = self._redis.register_script(HISTORY)
        self._hold = self._redis.register_script(HOLD)
        self._release = self._redis.register_script(RELEASE)
        self._channels: set[str] = set()
        self._prefix = _pubsub_prefix(url)
        self._pubsub: redis.client.PubSub | None = None
        self._reader: asyncio.Task | None = None
        self._healthy = False
        self._on_pub: OnPublication | None = None
        self._on_state: OnStateChange | None = None
        self._closing = False
        self._sub_lock = asyncio.Lock()

    def _pubsub_name(self, channel: str) -> str:
        return self._prefix + "{" + channel + "}"

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, on_publication: OnPublication, on_state: OnStateChange) -> None:
        self._on_pub = on_publication
        self._on_state = on_state
        await self._connect()  # the first connection must work: a node that never saw Redis is misconfigured
        self._reader = asyncio.create_task(self._read_loop(), name="redis-bus-reader")

    async def close(self) -> None:
        self._closing = True
        if self._reader:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except Exception:
                pass
        await self._redis.aclose()

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def _connect(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        async with self._sub_lock:
            channels = [self._pubsub_name(c) for c in self._channels]
            # Subscribing to a dummy channel opens the connection even when no channel is wanted yet.
            await pubsub.subscribe(f"collab:node:{self.node_id}", *channels)
            self._pubsub = pubsub
        self._set_healthy(True)

    def _set_healthy(self, value: bool) -> None:
        if value != self._healthy:
            self._healthy = value
            log.info("bus %s", "connected" if value else "lost", extra={"node": self.node_id})
            if self._on_state:
                self._on_state(value)

    async def _read_loop(self) -> None:
        backoff = 0.1
        while not self._closing:
            try:
                assert self._pubsub is not None
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg is None or msg["type"] != "message":
                    continue
                backoff = 0.1
                self._dispatch(msg["channel"], msg["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._set_healthy(False)
                log.warning("bus read failed: %s; reconnecting in %.1fs", exc, backoff)
                old, self._pubsub = self._pubsub, None
                if old is not None:
                    try:
                        await old.aclose()
                    except Exception:
                        pass
                while not self._closing:
                    await asyncio.sleep(backoff * (0.5 + random.random()))
                    backoff = min(backoff * 2, self.max_backoff)
                    try:
                        await self._connect()
                        break
                    except (RedisError, OSError) as exc2:
                        log.warning("bus reconnect failed: %s", exc2)

    def _dispatch(self, name: bytes, payload: bytes) -> None:
        epoch, _, rest = payload.partition(b":")
        offset, _, data = rest.partition(b":")
        pub = Publication(name.decode()[len(self._prefix) + 1 : -1], epoch.decode(), int(offset), data)
        if self._on_pub is not None:
            self._on_pub(pub)

    # -- the interface -----------------------------------------------------------------------------

    async def publish(self, channel: str, data: bytes) -> Publication:
        m, s, _ = _keys(channel)
        p = self._pubsub_name(channel)
        try:
            epoch, offset = await self._publish(
                keys=[m, s, p], args=[data, self.history_size, self.history_ttl, secrets.token_hex(4)]
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc
        return Publication(channel, epoch.decode(), int(offset), data)

    async def broadcast(self, channel: str, data: bytes) -> None:
        try:
            await self._redis.publish(self._pubsub_name(channel), b":0:" + data)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def subscribe(self, channel: str) -> None:
        async with self._sub_lock:
            self._channels.add(channel)
            if self._pubsub is not None:
                try:
                    await self._pubsub.subscribe(self._pubsub_name(channel))
                except (RedisError, OSError):
                    pass  # the reader notices the broken connection and resubscribes everything

    async def unsubscribe(self, channel: str) -> None:
        async with self._sub_lock:
            self._channels.discard(channel)
            if self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(self._pubsub_name(channel))
                except (RedisError, OSError):
                    pass

    async def history(self, channel: str, since: int, limit: int = 1000) -> History:
        m, s, _ = _keys(channel)
        try:
            epoch, offset, oldest, entries = await self._history(
                keys=[m, s], args=[max(since, 0), limit, secrets.token_hex(4), self.history_ttl]
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc
        ep = epoch.decode()
        pubs = [Publication(channel, ep, int(eid.split(b"-")[0]), dict_fields(fields)[b"d"]) for eid, fields in entries]
        offset = int(offset)
        covered = int(oldest) - 1 <= since <= offset and offset - since <= limit
        return History(pubs, Position(ep, offset), covered)

    async def position(self, channel: str) -> Position:
        h = await self.history(channel, since=0, limit=0)
        return h.position

    async def set_presence(self, channel: str, clients: int, users: int) -> None:
        key = _keys(channel)[2]
        try:
            if clients:
                expires = int((time.time() + self.presence_ttl) * 1000)
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hset(key, self.node_id, f"{clients} {users} {expires}")
                    pipe.pexpire(key, int(self.presence_ttl * 2000))
                    await pipe.execute()
            else:
                await self._redis.hdel(key, self.node_id)
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def presence(self, channel: str) -> PresenceCounts:
        key = _keys(channel)[2]
        try:
            entries = await self._redis.hgetall(key)
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc
        now = int(time.time() * 1000)
        clients = users = 0
        stale = []
        for node, value in entries.items():
            c, u, exp = (int(x) for x in value.split())
            if exp < now:
                stale.append(node)  # a node that died: its entry no longer counts
                continue
            clients += c
            users += u
        if stale:
            try:
                await self._redis.hdel(key, *stale)
            except (RedisError, OSError):
                pass
        return PresenceCounts(clients, users)

    async def claim_once(self, key: str, ttl: float) -> bool:
        try:  # SET NX: one Redis command, so two nodes can never both win
            return bool(await self._redis.set(f"collab:once:{key}", b"1", nx=True, px=max(1, int(ttl * 1000))))
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def hold(self, key: str, owner: str, ttl: float) -> str | None:
        try:  # one script: take it if free, renew it if ours, or say who has it
            holder = await self._hold(keys=[f"collab:lease:{key}"], args=[owner, max(1, int(ttl * 1000))])
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc
        return holder.decode() if isinstance(holder, bytes) else holder

    async def release(self, key: str, owner: str) -> None:
        try:
            await self._release(keys=[f"collab:lease:{key}"], args=[owner])
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def put_blobs(self, blobs: dict[str, bytes], ttl: float) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, data in blobs.items():
                    pipe.set(f"collab:blob:{key}", data, px=max(1, int(ttl * 1000)))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def get_blob(self, key: str) -> bytes | None:
        try:
            return await self._redis.get(f"collab:blob:{key}")
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False


def dict_fields(fields) -> dict:
    if isinstance(fields, dict):
        return fields
    it = iter(fields)
    return dict(zip(it, it))
