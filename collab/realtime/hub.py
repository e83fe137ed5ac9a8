"""Per-node fan-out: one bus subscription per channel, encode once, coalesce, never wait for a socket.

The hub keeps, for each channel some local socket listens to, the sockets that are *live* (receiving
pushes as they come) and those still *joining* (their subscribe reply, with any recovered history, is
being prepared; pushes that arrive meanwhile are buffered for them). Publications from the bus become
push lines; every `flush_interval` each channel's pending lines are joined into one frame, framed
once, and written to every live socket of the channel (a channel with many sockets on this node
waits longer, `flush_interval_large`, so that each write carries more events). A socket whose
transport is backed up gets the payload queued in its outbox instead (`Client.push`); it is closed as
a slow consumer if it stays behind.

Node-level order (duplicates, gaps filled from history, held publications, epochs and resyncs) is
decided by each channel's `ChannelOrder` (collab/realtime/ordering.py, no I/O); the hub feeds it
publications and history and carries out the actions it returns. Who is on a channel (counts, user
hooks, what the bus is told) is `NodePresence`'s (presence.py), fed as sockets join and leave; the
node's own listeners and messages between nodes are `NodeChannels`' (node_channels.py), given every
publication before the sockets are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

import orjson

from collab.realtime import metrics
from collab.realtime.bus import Bus, BusUnavailable, History, PresenceCounts, Publication
from collab.realtime.node_channels import NodeChannels, Watcher
from collab.realtime.ordering import (
    KICK, LOCAL_OFFSET, Action, ChannelOrder, Deliver, Fill, Kick, Resync, recover,
)
from collab.realtime.presence import ChannelPresence, NodePresence, PresenceHook
from collab.realtime.presence_feed import PresenceFeed
from collab.realtime.protocol import control_line, push_line
from collab.realtime.wire import text_frame

if TYPE_CHECKING:
    from collab.realtime.client import Client

log = logging.getLogger("collab.hub")

GoLive = Callable[[dict[str, Any], list[Publication]], None]


class RecoveryError(Exception):
    pass


class ChannelState:
    __slots__ = (
        "name", "name_json", "live", "joining", "lines", "events", "order", "presence",
        "ready", "dirty_since", "writing", "written",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.name_json = orjson.dumps(name)
        self.live: dict[Client, None] = {}  # insertion-ordered set
        self.joining: dict[Client, list[Publication]] = {}
        self.lines: list[bytes] = []
        self.events = 0
        self.order = ChannelOrder(name)
        self.presence = ChannelPresence(name)
        self.ready: asyncio.Future | None = None
        self.dirty_since = 0.0
        self.writing = False  # a sliced frame of this channel is still being written
        self.written: list[asyncio.Future] = []


class Hub:
    def __init__(self, bus: Bus, *, flush_interval: float = 0.02, flush_interval_large: float = 0.1,
                 large_channel: int = 500, write_slice: int = 1000, history_limit: int = 1000,
                 presence_ttl: float = 30.0, presence_interval: float = 2.0) -> None:
        self.bus = bus
        self.flush_interval = flush_interval
        self.flush_interval_large = max(flush_interval_large, flush_interval)
        self.large_channel = large_channel
        self.write_slice = write_slice
        self.history_limit = history_limit
        self.channels: dict[str, ChannelState] = {}
        self.clients: set[Client] = set()
        self.backlogged: set[Client] = set()
        self._dirty: set[ChannelState] = set()
        self._flush_handle: asyncio.Handle | None = None
        self._pending: deque[tuple[str, bytes]] = deque(maxlen=100_000)  # publishes waiting for the bus
        self._tasks: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self._bus_up = False
        self._draining = False
        self._jobs: deque[list] = deque()  # [channel, frame, payload, clients, next index]: sliced fan-out
        self.node_presence = NodePresence(bus, presence_ttl)
        self.presence_feed = PresenceFeed(self, presence_interval)
        self.node_channels = NodeChannels(bus, self.channels)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.bus.start(self._on_publication, self._on_bus_state)
        self._loop_task = asyncio.create_task(self._housekeeping(), name="hub-housekeeping")
        self.presence_feed.start()

    async def stop(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
        self.presence_feed.stop()
        for t in list(self._tasks):
            t.cancel()
        while self._dirty or self._jobs:  # what is queued still goes out
            self._write_jobs(budget=10**9)
            self._flush(force=True)
        for st in list(self.channels.values()):
            await self.node_presence.withdraw(st.name)
        await self.bus.close()

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def add_client(self, client: Client) -> None:
        self.clients.add(client)
        metrics.CONNECTIONS.set(len(self.clients))

    def remove_client(self, client: Client) -> None:
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        self.clients.discard(client)
        self.backlogged.discard(client)
        metrics.CONNECTIONS.set(len(self.clients))

    # -- subscriptions -----------------------------------------------------------------------------

    async def subscribe(
        self, client: Client, channel: str, since: tuple[str, int] | None, go_live: GoLive
    ) -> dict[str, Any]:
        """Make `client` a subscriber. With `since` = (epoch, offset), recover what it missed or say
        it cannot ("recovered": false): never a silent gap. `go_live(result, pubs)` runs at the one
        moment the client joins the live set, so it can write its reply and the recovered
        publications ahead of every later push."""
        st = self.channels.get(channel)
        if st is None:
            st = self.channels[channel] = ChannelState(channel)
            st.ready = self._loop.create_future()
            self._spawn(self._bus_subscribe(st))
        st.joining[client] = []
        self.node_presence.join(st.presence, client.user_id)
        try:
            await asyncio.shield(st.ready)
            here = st.order.current(since)
            if here is not None:  # no bus round trip: the join storm of a big activity
                hist = History([], here, True)
            else:
                hist = await self.bus.history(channel, since[1] if since else 0,
                                              self.history_limit if since else 0)
        except BaseException:
            self._remove(st, client)
            raise
        if st.writing:  # a frame still on its way to the live sockets: go live after it
            await self._until_written(st)
        buffered = st.joining.pop(client, None)
        if buffered is None:  # unsubscribed while we waited
            raise RecoveryError("subscription ended while joining")
        st.order.start_at(hist.position)
        result, pubs = recover(channel, since, hist, buffered)
        self._flush_channel(st)  # what is pending now is in `pubs`: it must not reach this client twice
        go_live(result, pubs)
        st.live[client] = None
        return result

    async def _bus_subscribe(self, st: ChannelState) -> None:
        try:
            await self.bus.subscribe(st.name)
        except BaseException as exc:
            if st.ready and not st.ready.done():
                st.ready.set_exception(BusUnavailable(str(exc)))
            if self.channels.get(st.name) is st and not st.live:
                del self.channels[st.name]
            return
        if st.ready and not st.ready.done():
            st.ready.set_result(None)

    def unsubscribe(self, client: Client, channel: str) -> None:
        st = self.channels.get(channel)
        if st is not None:
            self._remove(st, client)

    def _remove(self, st: ChannelState, client: Client) -> None:
        in_live = st.live.pop(client, 0) is None
        in_joining = st.joining.pop(client, None) is not None
        if not (in_live or in_joining):
            return
        self.node_presence.leave(st.presence, client.user_id)
        if not st.live and not st.joining and self.channels.get(st.name) is st:
            del self.channels[st.name]
            self._dirty.discard(st)
            self._spawn(self._bus_unsubscribe(st.name))

    async def _bus_unsubscribe(self, channel: str) -> None:
        await self.node_presence.withdraw(channel)
        if channel not in self.channels and channel not in self.node_channels:
            await self.bus.unsubscribe(channel)

    # -- publishing --------------------------------------------------------------------------------

    async def publish(self, channel: str, event: dict[str, Any] | bytes) -> int | None:
        """Publish an event (already persisted by the caller). Returns its offset, or None when the bus
        is down: then local sockets get it at once (offset null) and it is published when the bus
        returns, so other nodes and history get it too. Events carry an "id" so clients can drop the
        second copy."""
        data = event if isinstance(event, bytes) else orjson.dumps(event)
        if self._pending:
            await self._drain_pending()  # what waits goes first: publications keep their order
        if not self._pending:
            try:
                pub = await self.bus.publish(channel, data)
                metrics.PUBLISHED.inc()
                return pub.offset
            except BusUnavailable:
                pass
        self._deliver_local(channel, data)
        if len(self._pending) == self._pending.maxlen:
            # Hours of outage at full chat rate: the oldest leave only the database (they were recorded),
            # and other nodes' clients will not see them live. Say so loudly.
            metrics.PENDING_DROPPED.inc()
            log.error("bus outage queue full; oldest queued event dropped", extra={"channel": channel})
        self._pending.append((channel, data))
        return None

    async def _drain_pending(self) -> None:
        """Publish, in order, what was delivered only locally while the bus was away. Retries while
        the bus reports itself up (a first command on a stale connection can still fail); stops when
        it is down again: the next reconnect, or the housekeeping loop, starts it again."""
        if self._draining:
            return
        self._draining = True
        delay = 0.05
        try:
            while self._pending:
                channel, data = self._pending[0]
                try:
                    await self.bus.publish(channel, data)
                except BusUnavailable:
                    if not self.bus.healthy:
                        return
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                metrics.PUBLISHED.inc()
                self._pending.popleft()
        finally:
            self._draining = False

    def _deliver_local(self, channel: str, data: bytes) -> None:
        self.node_channels.heard(channel, data)
        st = self.channels.get(channel)
        if st is None:
            return
        self._act(st, st.order.local(data))

    async def kick(self, channel: str, user_id: int, reason: str) -> None:
        """End every subscription of `user_id` to `channel`, on every node: a directive that travels the
        bus in order with the channel's events. Keeping them out afterwards is the policy's job."""
        await self.publish(channel, KICK + orjson.dumps(user_id) + b',"reason":' + orjson.dumps(reason) + b"}")

    def _kick_local(self, st: ChannelState, data: bytes) -> None:
        directive = orjson.loads(data)
        user_id, reason = directive["$kick"], directive.get("reason", "")
        line = control_line(st.name, "unsubscribed", {"reason": reason})
        for client in [c for c in (*st.live, *st.joining) if c.user_id == user_id]:
            client.channels.pop(st.name, None)
            self._remove(st, client)
            client.send(line)

    # -- receiving from the bus --------------------------------------------------------------------

    def _on_publication(self, pub: Publication) -> None:
        self.node_channels.heard(pub.channel, pub.data)
        st = self.channels.get(pub.channel)
        if st is not None and pub.epoch:  # no epoch: a broadcast between nodes, never for clients
            for action in st.order.receive(pub):
                self._act(st, action)

    def _act(self, st: ChannelState, action: Action) -> None:
        """Carry out what the channel's order decided."""
        if type(action) is Deliver:
            pub = action.pub
            st.lines.append(push_line(st.name_json, None if pub.offset == LOCAL_OFFSET else pub.offset, pub.data))
            st.events += 1
            for buf in st.joining.values():
                buf.append(pub)
            self._mark(st)
        elif type(action) is Kick:
            self._kick_local(st, action.data)
        elif type(action) is Fill:
            self._spawn(self._fill(st, action.since))
        elif type(action) is Resync:
            # History cannot cover what clients of this channel missed: tell them to reload it.
            st.lines.append(control_line(st.name, "resync", {"epoch": action.epoch, "offset": action.offset}))
            for buf in st.joining.values():
                buf.clear()
            self._mark(st)
            metrics.RESYNCS.inc()
            log.info("resync", extra={"channel": st.name, "epoch": action.epoch})

    def _act_all(self, st: ChannelState, actions: list[Action]) -> None:
        for action in actions:
            self._act(st, action)

    async def _fill(self, st: ChannelState, since: int) -> None:
        """Fetch what this node missed from history; the order releases what it held after it."""
        try:
            hist = await self.bus.history(st.name, since, self.history_limit)
        except BusUnavailable:
            # Held publications stay held, in order; housekeeping tries again once the bus is up.
            self._act_all(st, st.order.fill_failed())
            return
        metrics.GAP_FILLS.inc()
        self._act_all(st, st.order.filled(hist))

    def _on_bus_state(self, up: bool) -> None:
        was_up, self._bus_up = self._bus_up, up
        if up != was_up:
            self.node_channels.bus_changed()
        if up and not was_up:
            metrics.BUS_RECONNECTS.inc()
            self._spawn(self._after_reconnect())

    async def _after_reconnect(self) -> None:
        await self._drain_pending()  # first what was published locally while the bus was away
        for st in list(self.channels.values()):
            self._act_all(st, st.order.bus_reconnected())
            st.presence.changed = True  # the bus may have restarted without this node's counts

    # -- flushing ----------------------------------------------------------------------------------

    def push_line(self, st: ChannelState, line: bytes) -> None:
        """A line for the channel's live sockets with its next frame that is no event of the channel
        (no offset, not in history, not given to sockets still joining): a presence count."""
        st.lines.append(line)
        self._mark(st)

    def _mark(self, st: ChannelState) -> None:
        if st not in self._dirty:
            self._dirty.add(st)
            st.dirty_since = self._loop.time()
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_later(self.flush_interval, self._flush)

    def _flush(self, force: bool = False) -> None:
        """Small channels go out every `flush_interval`; a channel with thousands of sockets here waits
        up to `flush_interval_large`, so each of its (costly) socket writes carries more events. A
        channel whose previous frame is still being written waits for it: under load, frames grow
        instead of queues, so the cost per event falls as the rate rises."""
        self._flush_handle = None
        now = self._loop.time()
        dirty, self._dirty = self._dirty, set()
        for st in dirty:
            large = len(st.live) >= self.large_channel
            if not force and (st.writing or large and now - st.dirty_since < self.flush_interval_large - 0.001):
                self._dirty.add(st)  # not yet: keeps its dirty_since
                continue
            self._flush_channel(st)
        if self._dirty and not force:
            self._flush_handle = self._loop.call_later(self.flush_interval, self._flush)

    def _flush_channel(self, st: ChannelState) -> None:
        if not st.lines:
            return
        assert not st.writing, "one frame of a channel at a time keeps its order"
        payload = b"\n".join(st.lines) if len(st.lines) > 1 else st.lines[0]
        events, n = st.events, len(st.live)
        st.lines = []
        st.events = 0
        if not n:
            return
        frame = text_frame(payload)  # framed once for every socket of this node
        if n <= self.write_slice:
            for client in st.live:
                client.push(frame, payload)
        else:
            # Thousands of socket writes in one go would stall the loop (commands, other channels) for
            # tens of ms: hand them out a slice per loop turn.
            st.writing = True
            self._jobs.append([st, frame, payload, list(st.live), 0])
            if len(self._jobs) == 1:
                self._loop.call_soon(self._write_jobs)
        metrics.FRAMES.inc(n)
        metrics.DELIVERIES.inc(events * n)
        if events > 1:
            metrics.COALESCED.inc(events * n)

    def _write_jobs(self, budget: int | None = None) -> None:
        budget = self.write_slice if budget is None else budget
        jobs = self._jobs
        while jobs and budget > 0:
            job = jobs[0]
            st, frame, payload, clients, start = job
            end = min(len(clients), start + budget)
            for i in range(start, end):
                clients[i].push(frame, payload)
            budget -= end - start
            if end < len(clients):
                job[4] = end
                continue
            jobs.popleft()
            st.writing = False
            for waiter in st.written:
                if not waiter.done():
                    waiter.set_result(None)
            st.written.clear()
            if st.lines and self._flush_handle is None:
                self._flush_handle = self._loop.call_later(self.flush_interval, self._flush)
        if jobs:
            self._loop.call_soon(self._write_jobs)

    async def _until_written(self, st: ChannelState) -> None:
        while st.writing:
            waiter = self._loop.create_future()
            st.written.append(waiter)
            await waiter

    # -- presence and node channels (presence.py, node_channels.py) --------------------------------

    def on_user_presence(self, namespace: str, hook: PresenceHook) -> None:
        """`hook(channel, user_id, present)` when a user's first socket on this node joins a channel of
        `namespace`, and when their last one leaves. Synchronous: the hook queues, never waits."""
        self.node_presence.on_user(namespace, hook)

    async def presence(self, channel: str) -> PresenceCounts:
        """The channel's counts over all nodes, read from the bus at most once a second per node; never
        fewer than this node has itself (its own write may not have reached the bus yet, or the read
        may be older than the socket asking: a teacher who just came in is not told the room is empty)."""
        counts = await self.node_presence.counts(channel)
        clients, users = self.local_presence(channel)
        if clients <= counts.clients and users <= counts.users:
            return counts
        return PresenceCounts(max(clients, counts.clients), max(users, counts.users))

    def local_presence(self, channel: str) -> tuple[int, int]:
        """(sockets, distinct users) on `channel` on this node."""
        st = self.channels.get(channel)
        return (0, 0) if st is None else st.presence.counts

    async def watch(self, channel: str, watcher: Watcher) -> None:
        """Call `watcher(data)` for every publication on `channel`, and `watcher(None)` whenever the
        bus is lost or comes back: for the node itself (per-node caches), not for clients."""
        await self.node_channels.watch(channel, watcher)

    async def unwatch(self, channel: str, watcher: Watcher) -> None:
        await self.node_channels.unwatch(channel, watcher)

    async def broadcast(self, channel: str, data: bytes) -> bool:
        """To every node's watchers of `channel` (this one too), with no history: for messages between
        nodes that are useless late (a cache to forget, a link to negotiate). False if the bus is down."""
        return await self.node_channels.broadcast(channel, data)

    # -- housekeeping ------------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Once a second: close slow consumers, retry what the bus refused, write changed presence
        (and all of it every `presence_ttl / 3`)."""
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for client in list(self.backlogged):
                client.check_backlog(now)
            if self.bus.healthy:  # retry what an earlier attempt could not finish
                if self._pending and not self._draining:
                    self._spawn(self._drain_pending())
                for st in list(self.channels.values()):
                    self._act_all(st, st.order.retry())
            metrics.SUBSCRIPTIONS.set(sum(len(st.live) for st in self.channels.values()))
            await self.node_presence.write([st.presence for st in self.channels.values()], now)
