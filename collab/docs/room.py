"""One open document on one node: its pycrdt Doc, the sockets editing it, their awareness.

The path of an edit:

    socket -> apply to the node's Doc (a malformed update fails here: nothing stored, socket closed)
           -> group commit: every update queued meanwhile is merged into one row and stored
           -> the other local sockets get it -> other nodes get it over the bus (`docsync:<id>`)

Other nodes apply what they hear and pass it to their sockets without storing it again. The bus
carries no history for documents: the database is the record, so a node that may have missed
something (the bus dropped, or came back) reloads the stored document, which is idempotent, and sends
its sockets whatever was new. A store that fails closes every socket of the room: y-websocket clients
reconnect and re-sync, pushing back whatever the server did not keep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from pycrdt import Doc, Text, merge_updates

from collab.docs import metrics, store, sync
from collab.docs.template import CONTENT
from collab.realtime.protocol import Close

if TYPE_CHECKING:
    from collab.docs.rooms import DocRooms

log = logging.getLogger("collab.docs")

UPDATE_TAG, AWARENESS_TAG, QUERY_TAG, DELETED_TAG, EVICTED_TAG = b"u", b"a", b"q", b"x", b"r"
CLOSED_TAG = b"c"  # every socket closes with a code and reason (2-byte code, then the reason): access ended
TOUCH_EVERY = 5.0  # seconds between updates of a document's "last edited" time


def closed_message(code: int, reason: str) -> bytes:
    """CLOSED_TAG's payload: the close code, then the reason cut to fit a close frame (123 bytes)."""
    return code.to_bytes(2, "big") + reason.encode()[:120]


def closed_of(payload: bytes) -> tuple[int, str]:
    return int.from_bytes(payload[:2], "big"), payload[2:].decode(errors="ignore")


def channel_of(doc_id: int) -> str:
    """The nodes' channel for a document (clients cannot subscribe to `docsync:`)."""
    return f"docsync:{doc_id}"


def merge_all(updates: list[bytes], fan_in: int = 64) -> bytes:
    """One update for many. Yrs's merge grows with the square of how many it merges at once (80,000
    keystrokes: 31 s), so merge in groups of `fan_in`, then merge the results (the same: 0.24 s).
    Not the room Doc's diff since the batch began: that would leave out updates still waiting for
    their dependencies, which the Doc holds aside."""
    while len(updates) > 1:
        updates = [merge_updates(*updates[i:i + fan_in]) if len(updates[i:i + fan_in]) > 1 else updates[i]
                   for i in range(0, len(updates), fan_in)]
    return updates[0]


class Peer:
    """One socket on a document: what it may do, and its outbox. Updates waiting in the outbox are
    merged into one message, so a slow reader gets fewer, larger frames instead of a queue."""

    def __init__(self, send, user_id: int, name: str, can_edit: bool, max_queued: int) -> None:
        self._send = send  # async (bytes) -> None
        self.user_id, self.name, self.can_edit = user_id, name, can_edit
        self.max_queued = max_queued
        self.frames: deque[bytes] = deque()
        self.updates: list[bytes] = []
        self.queued = 0
        self.awareness_ids: set[int] = set()  # awareness client ids this socket announced
        self._wake = asyncio.Event()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()

    def push(self, frame: bytes) -> None:
        self.frames.append(frame)
        self._queued(len(frame))

    def push_update(self, data: bytes) -> None:
        self.updates.append(data)
        self._queued(len(data))

    def _queued(self, n: int) -> None:
        self.queued += n
        if self.queued > self.max_queued and not self.closed.done():
            self.closed.set_result((Close.SLOW_CONSUMER, "too far behind; reconnect to re-sync"))
        self._wake.set()

    def fail(self, code: int, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result((code, reason))
        self._wake.set()

    async def run(self) -> None:
        """Write the outbox until the socket closes."""
        while not self.closed.done():
            await self._wake.wait()
            self._wake.clear()
            while (self.frames or self.updates) and not self.closed.done():
                frames, self.frames = list(self.frames), deque()
                if self.updates:
                    ups, self.updates = self.updates, []
                    frames.append(sync.update(merge_all(ups)))
                self.queued = 0
                for f in frames:
                    await self._send(f)


def _edits_by(batch: list[tuple[bytes, "Peer | None"]]) -> dict[int, int]:
    """How many of a batch's updates each person sent (the server's own edits, peer None, are nobody's)."""
    out: dict[int, int] = {}
    for _, peer in batch:
        if peer is not None:
            out[peer.user_id] = out.get(peer.user_id, 0) + 1
    return out


class DocRoom:
    def __init__(self, doc_id: int, rooms: DocRooms) -> None:
        self.doc_id = doc_id
        self.rooms = rooms
        self.channel = channel_of(doc_id)
        self.doc = Doc()
        self.peers: set[Peer] = set()
        self.awareness: dict[int, sync.AwarenessEntry] = {}
        self.owner: dict[int, bytes] = {}  # client id -> the node its state came through (remote ones)
        self.withdrawn: dict[int, int] = {}  # client id -> the clock this node withdrew its state at
        self._pending: list[tuple[bytes, Peer | None]] = []
        self._writer: asyncio.Task | None = None
        self._compacting = False
        self._rows_since = 0
        self._bytes_since = 0
        self._snapshot_bytes = 0
        self._touched = float("-inf")
        self.idle_since: float | None = time.monotonic()

    # -- opening and closing -----------------------------------------------------------------------

    async def start(self) -> bool:
        """Listen first, then load: whatever is stored after the load is heard on the bus. Then ask
        the other nodes who is there, so the first socket here sees their cursors at once."""
        await self.rooms.hub.watch(self.channel, self._heard)
        if not await self.reload():
            return False
        await self.ask_others()
        return True

    async def reload(self) -> bool:
        async with self.rooms.sessionmaker() as db:
            stored = await store.load(db, self.doc_id)
        if stored is None:
            return False
        before = self.doc.get_state()
        if stored.snapshot:
            self.doc.apply_update(stored.snapshot)
        for u in stored.updates:
            self.doc.apply_update(u)
        self._snapshot_bytes = len(stored.snapshot)
        self._rows_since, self._bytes_since = len(stored.updates), stored.updates_bytes()
        if self.peers:
            news = self.doc.get_update(before)
            if news != sync.EMPTY_UPDATE:
                for p in self.peers:
                    p.push_update(news)
        return True

    async def stop(self) -> None:
        await self.flush()
        await self.rooms.hub.unwatch(self.channel, self._heard)

    async def flush(self) -> None:
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    # -- peers -------------------------------------------------------------------------------------

    def join(self, peer: Peer) -> None:
        """The server speaks first: its state vector (the client answers with what the server lacks)
        and everyone's awareness."""
        self.peers.add(peer)
        self.idle_since = None
        peer.push(sync.step1(self.doc.get_state()))
        if self.awareness:
            peer.push(sync.awareness(sync.encode_awareness(list(self.awareness.values()))))

    def leave(self, peer: Peer) -> None:
        self.peers.discard(peer)
        gone = self._withdraw(peer.awareness_ids)
        if gone:
            self._share_awareness(sync.encode_awareness(gone), None)
        if not self.peers:
            self.idle_since = time.monotonic()

    def node_gone(self, node: bytes) -> None:
        """`node` stopped beating: withdraw the states that came through it from the sockets here, as
        y-protocols' removeAwarenessStates does (state null, clock + 1). Every surviving node does this
        for its own sockets, so nothing goes on the bus."""
        gone = self._withdraw([cid for cid, n in self.owner.items() if n == node])
        if gone:
            metrics.WITHDRAWN.inc(len(gone))
            frame = sync.awareness(sync.encode_awareness(gone))
            for p in self.peers:
                p.push(frame)

    def _withdraw(self, client_ids) -> list[sync.AwarenessEntry]:
        """Forget these clients' states; the removals to send. Each is kept as a tombstone: a client
        coming back with a clock at or below it would be ignored by everyone who got the removal, so it
        is told it was removed, and y-protocols answers that by announcing itself with a higher clock."""
        gone = []
        for cid in list(client_ids):
            self.owner.pop(cid, None)
            e = self.awareness.pop(cid, None)
            if e is not None:
                gone.append(sync.AwarenessEntry(cid, e.clock + 1, "null"))
                self.withdrawn[cid] = e.clock + 1
        while len(self.withdrawn) > 1000:
            del self.withdrawn[next(iter(self.withdrawn))]
        return gone

    # -- messages from a socket ----------------------------------------------------------------------

    def step1(self, peer: Peer, state_vector: bytes) -> None:
        try:
            diff = self.doc.get_update(state_vector)
        except ValueError:
            raise sync.ProtocolError("malformed state vector") from None
        peer.push(sync.step2(diff))

    def edit(self, peer: Peer | None, data: bytes) -> None:
        """An update from a socket (or from the server itself, peer None), already allowed to edit."""
        if data == sync.EMPTY_UPDATE:
            return
        try:
            self.doc.apply_update(data)
        except ValueError:
            raise sync.ProtocolError("malformed update") from None
        metrics.MERGED.inc()
        self._queue(data, peer)

    def change(self, edit) -> bytes:
        """An edit the server makes (a restore): `edit(text)` runs in one transaction on the room's
        Doc; the resulting update is stored and reaches every socket like anyone's edit."""
        before = self.doc.get_state()
        with self.doc.transaction():
            edit(self.text)
        update = self.doc.get_update(before)
        if update != sync.EMPTY_UPDATE:
            self._queue(update, None)
        return update

    def _queue(self, update: bytes, origin: Peer | None) -> None:
        """For the group commit: stored with whatever else arrives before the current write ends."""
        self._pending.append((update, origin))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    @property
    def text(self):
        return self.doc.get(CONTENT, type=Text)

    def awareness_from(self, peer: Peer, payload: bytes) -> None:
        entries = sync.decode_awareness(payload)
        news, stale = self._remember_awareness(entries, peer, None)
        if stale:
            peer.push(sync.awareness(sync.encode_awareness(stale)))
        if news:
            self._share_awareness(payload if len(news) == len(entries) else sync.encode_awareness(news), peer)

    def _remember_awareness(self, entries: list[sync.AwarenessEntry], peer: Peer | None, node: bytes | None
                            ) -> tuple[list[sync.AwarenessEntry], list[sync.AwarenessEntry]]:
        """Keep the newest state of each client by y-protocols' rule (a higher clock wins; a removal
        wins at an equal one). `peer`: the socket here that sent them, or `node`: the node they came
        through. Returns the entries that are news, the only ones passed on: stock y-websocket sends
        back every state it receives, and that echo (an equal clock) is neither news nor a claim to
        own the state. And returns, for clients that come back at or below the clock this node
        withdrew them at, that removal again."""
        news, stale = [], []
        for e in entries:
            cid = e.client_id
            known = self.awareness.get(cid)
            if e.state == "null":
                if known is None or e.clock < known.clock:
                    continue
                del self.awareness[cid]
                self.owner.pop(cid, None)
                if peer is not None:
                    peer.awareness_ids.discard(cid)
                news.append(e)
                continue
            if known is not None and e.clock <= known.clock:
                continue
            self.awareness[cid] = e
            news.append(e)
            if peer is not None:
                peer.awareness_ids.add(cid)
                self.owner.pop(cid, None)
            else:
                self.owner[cid] = node
            if self.withdrawn and cid in self.withdrawn:
                if e.clock <= self.withdrawn[cid]:
                    stale.append(sync.AwarenessEntry(cid, self.withdrawn[cid], "null"))
                else:
                    del self.withdrawn[cid]
        return news, stale

    def _share_awareness(self, payload: bytes, origin: Peer | None) -> None:
        frame = sync.awareness(payload)
        for p in self.peers:
            if p is not origin:
                p.push(frame)
        self.rooms.spawn(self._broadcast(AWARENESS_TAG, payload))

    # -- storing and sharing -----------------------------------------------------------------------

    async def _write(self) -> None:
        await asyncio.sleep(0)  # the updates of this loop turn join the first batch
        while self._pending:
            batch, self._pending = self._pending, []
            merged = merge_all([u for u, _ in batch])
            now = time.monotonic()
            touch = now - self._touched >= TOUCH_EVERY
            try:
                async with self.rooms.sessionmaker() as db:
                    await store.append(db, self.doc_id, merged, touch, edits=_edits_by(batch))
                if touch:
                    self._touched = now
            except Exception:
                log.exception("storing a document update failed", extra={"doc": self.doc_id})
                self._fail()
                return
            metrics.STORED.inc()
            self._rows_since += 1
            self._bytes_since += len(merged)
            origins = {p for _, p in batch}
            only = next(iter(origins)) if len(origins) == 1 else None
            for p in self.peers:
                if p is not only:  # a socket's own edits do not come back to it
                    p.push_update(merged)
            await self._broadcast(UPDATE_TAG, merged)
            if store.needs_compaction(self._rows_since, self._bytes_since, self._snapshot_bytes):
                self.rooms.spawn(self._compact())

    def evict(self, user_id: int, reason: str = "removed_from_studio") -> None:
        """The user lost access to the document: their sockets here close as a stranger's would (4003)."""
        for p in [p for p in self.peers if p.user_id == user_id]:
            p.fail(Close.FORBIDDEN, reason)

    def close_sockets(self, code: int, reason: str) -> None:
        """Access ended for everyone (the owning part said so): the sockets close, and what they sent is
        still stored as usual (unlike a deletion); the room is then released when idle."""
        for p in list(self.peers):
            p.fail(code, reason)

    def _close_all(self, code: int, reason: str) -> None:
        self._pending.clear()
        for p in list(self.peers):
            p.fail(code, reason)
        self.rooms.discard(self)

    def _fail(self) -> None:
        """The room's memory is ahead of the database: drop it. Clients reconnect and re-sync, pushing
        back what was not stored."""
        self._close_all(Close.INTERNAL, "the document could not be saved; reconnecting")

    async def _compact(self) -> None:
        if self._compacting:
            return
        self._compacting = True
        try:
            async with self.rooms.sessionmaker() as db:
                result = await store.compact(db, self.doc_id)
            if result is not None:
                self._snapshot_bytes, self._rows_since, self._bytes_since = result[1], 0, 0
                metrics.COMPACTIONS.inc()
        except Exception:
            log.exception("compacting a document failed", extra={"doc": self.doc_id})
        finally:
            self._compacting = False

    async def ask_others(self) -> None:
        """Ask the other nodes for their sockets' awareness states (answered with AWARENESS_TAG)."""
        await self._broadcast(QUERY_TAG, b"")

    async def _broadcast(self, tag: bytes, payload: bytes) -> None:
        if not await self.rooms.hub.broadcast(self.channel, tag + self.rooms.node_tag + payload):
            log.warning("document broadcast failed", extra={"doc": self.doc_id})  # others reload on reconnect

    def _heard(self, data: bytes | None) -> None:
        if data is None:  # the bus dropped or came back: what was missed is in the database
            self.rooms.spawn(self.reload())
            return
        tag, rest = data[:1], data[1:]
        node_len = rest[0] if rest else 0
        if rest[1 : 1 + node_len] == self.rooms.node_id_bytes:
            return  # our own broadcast
        node, payload = rest[1 : 1 + node_len], rest[1 + node_len :]
        if tag == UPDATE_TAG:
            try:
                self.doc.apply_update(payload)
            except ValueError:
                log.warning("a malformed update on the bus", extra={"doc": self.doc_id})
                return
            for p in self.peers:
                p.push_update(payload)
        elif tag == DELETED_TAG:
            self._close_all(Close.NOT_FOUND, "the document was deleted")
        elif tag == CLOSED_TAG:
            if len(payload) >= 2:
                self.close_sockets(*closed_of(payload))
        elif tag == EVICTED_TAG:
            try:
                user_id, _, reason = payload.decode().partition(":")
                self.evict(int(user_id), reason or "removed_from_studio")
            except ValueError:
                log.warning("a malformed eviction on the bus", extra={"doc": self.doc_id})
        elif tag == QUERY_TAG:
            mine = [e for p in self.peers for cid in p.awareness_ids if (e := self.awareness.get(cid))]
            if mine:
                self.rooms.spawn(self._broadcast(AWARENESS_TAG, sync.encode_awareness(mine)))
        elif tag == AWARENESS_TAG:
            try:
                entries = sync.decode_awareness(payload)
            except sync.ProtocolError:
                return
            news, stale = self._remember_awareness(entries, None, node)
            self.rooms.saw(node)
            if stale:  # its node relays our removal to it, and it announces itself again
                self.rooms.spawn(self._broadcast(AWARENESS_TAG, sync.encode_awareness(stale)))
            if news:
                frame = sync.awareness(payload if len(news) == len(entries) else sync.encode_awareness(news))
                for p in self.peers:
                    p.push(frame)
