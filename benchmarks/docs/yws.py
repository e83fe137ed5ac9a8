"""A y-websocket client as a raw asyncio Protocol, holding a pycrdt replica of the document.

It speaks what a stock y-websocket provider speaks on `/ws/docs/{id}`: it answers the server's
step 1 with a step 2 (what the server lacks), sends its own step 1, applies every step 2 and update
it receives, and sends its edits as sync update messages. Binary frames are sliced out of the read
buffer (the server never masks or fragments them); client frames are masked (RFC 6455). Writes obey
the transport's flow control: `drain()` waits while the kernel and transport buffers are full, so a
client that edits faster than the server reads is slowed down to the server's pace.

Each replica keeps, for the waiting logic of the concurrent scenario, its state vector and (when
asked) the set of item ids it has seen deleted, both read from pycrdt's transaction events.
"""

from __future__ import annotations

import asyncio
import time

from pycrdt import Doc, Text

from benchmarks.docs.traces import CONTENT, decode_delete_set, decode_state_vector
from benchmarks.fanout.rawws import client_frame, upgrade_request
from collab.docs import sync

HOST = "127.0.0.1"


def _uint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


class YClient(asyncio.Protocol):
    def __init__(self, port: int, doc_id: int, token: str, client_id: int | None = None,
                 track: bool = True, track_deletes: bool = False) -> None:
        self.request = upgrade_request(HOST, port, f"/ws/docs/{doc_id}?token={token}")
        self.port = port
        self.doc = Doc(client_id=client_id) if client_id is not None else Doc()
        self.text = self.doc.get(CONTENT, type=Text)
        self.state: dict[int, int] = {}
        self.deleted: set[int] | None = set() if track_deletes else None
        if track:
            self.doc.observe(self._observed)
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()
        self.synced = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._writable = asyncio.Event()
        self._writable.set()
        self.frames_in = self.bytes_in = self.updates_in = 0
        self.denials: list[str] = []
        self.last_in = time.monotonic()
        self.on_update = None  # called after every applied step 2 or update

    # -- the replica --------------------------------------------------------------------------------

    def _observed(self, event) -> None:
        self.state = decode_state_vector(event.after_state)
        if self.deleted is not None:
            ds = event.delete_set
            if ds != b"\x00":
                for client, clock, n in decode_delete_set(ds):
                    base = client << 32
                    self.deleted.update(range(base + clock, base + clock + n))

    def apply_local(self, update: bytes) -> None:
        """An edit made here (its update already computed): into the replica, then onto the wire."""
        self.doc.apply_update(update)

    # -- the wire -----------------------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def drain(self) -> None:
        await self._writable.wait()

    def write_frames(self, messages: list[bytes]) -> None:
        """Several y-websocket messages, one WebSocket frame each, in one socket write."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(client_frame(m, 0x2) for m in messages))

    def send(self, message: bytes) -> None:
        self.write_frames([message])

    def data_received(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
            self.buf = b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self._fail(ConnectionError("handshake refused: " + data[:60].decode(errors="replace")))
                return
            self.upgraded = True
            data = data[end + 4:]
            self.send(sync.step1(self.doc.get_state()))
            if not self.opened.done():
                self.opened.set_result(None)
        self._frames(data)

    def _frames(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while n - pos >= 2:
            b0, length = data[pos], data[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
            end = pos + head + length
            if end > n:
                break
            opcode = b0 & 0x0F
            body = data[pos + head:end]
            if opcode == 0x2:
                self.frames_in += 1
                self.bytes_in += len(body)
                self._message(body)
            elif opcode == 0x9:
                if self.transport is not None and not self.transport.is_closing():
                    self.transport.write(client_frame(body, 0xA))
            elif opcode == 0x8:
                self.close_code = int.from_bytes(body[:2], "big") if len(body) >= 2 else 1005
                self.close_reason = body[2:].decode(errors="replace")
                self.transport.close()
                return
            pos = end
        if pos < n:
            self.buf = data[pos:]
        self.last_in = time.monotonic()

    def _message(self, msg: bytes) -> None:
        kind, pos = _uint(msg, 0)
        if kind == sync.SYNC:
            step, pos = _uint(msg, pos)
            size, pos = _uint(msg, pos)
            payload = msg[pos:pos + size]
            if step == sync.STEP1:
                self.send(sync.step2(self.doc.get_update(payload)))
                return
            self.doc.apply_update(payload)
            self.updates_in += 1
            if step == sync.STEP2 and not self.synced.done():
                self.synced.set_result(None)
            if self.on_update is not None:
                self.on_update()
        elif kind == sync.AUTH:
            _, pos = _uint(msg, pos)
            size, pos = _uint(msg, pos)
            self.denials.append(msg[pos:pos + size].decode(errors="replace"))
        # awareness and query-awareness: not used by these clients

    def _fail(self, exc: Exception) -> None:
        for f in (self.opened, self.synced):
            if not f.done():
                f.set_exception(exc)
                f.exception()
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc) -> None:
        if self.close_code is None:
            self.close_code = 1006
        self._writable.set()
        self._fail(ConnectionError(f"connection closed ({self.close_code} {self.close_reason})"))
        if self.on_update is not None:
            self.on_update()

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame((1000).to_bytes(2, "big"), 0x8))
            self.transport.close()


async def connect(port: int, doc_id: int, token: str, timeout: float = 30.0, **kw) -> YClient:
    """Open and sync (the server's step 2 received)."""
    loop = asyncio.get_running_loop()
    client: YClient | None = None

    def factory():
        nonlocal client
        client = YClient(port, doc_id, token, **kw)
        return client

    await loop.create_connection(factory, HOST, port)
    await asyncio.wait_for(asyncio.shield(client.synced), timeout)
    return client
