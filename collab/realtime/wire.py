"""The WebSocket transport with a pre-framed fast path.

Server-to-client WebSocket frames are not masked, so a text frame built once is byte-for-byte the
same for every socket. `WireProtocol` extends uvicorn's sans-I/O websockets protocol with an ASGI
scope extension, ``collab.wire``, through which the hub writes such a frame straight to the socket's
transport: no per-socket encoding, no task switch, no await. Commands still arrive through ordinary
ASGI `receive`; the handshake, pings and close handshake stay uvicorn's.

Backpressure is the transport's own: when its buffer passes the high-water mark, asyncio calls
`pause_writing` and `Wire.paused` turns true; `resume_writing` calls the hub's drain callback.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol
from websockets.server import ServerProtocol

EXTENSION = "collab.wire"


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked, final text frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Wire:
    """What the hub sees of a socket. One per connection; lives on the protocol object."""

    __slots__ = ("_proto", "paused", "on_drain")

    def __init__(self, proto: "WireProtocol") -> None:
        self._proto = proto
        self.paused = False
        self.on_drain: Callable[[], None] | None = None

    @property
    def open(self) -> bool:
        p = self._proto
        return p.handshake_complete and not p.close_sent and not p.disconnected

    def write(self, frame: bytes) -> bool:
        """Write a pre-built frame. Never blocks; returns False when the socket is gone."""
        p = self._proto
        if p.close_sent or p.disconnected or not p.handshake_complete:
            return False
        p.transport.write(frame)
        return True

    @property
    def peer(self) -> str:
        """The client's address (for the audit log): read when asked, never kept per socket."""
        client = getattr(self._proto, "client", None)
        return client[0] if client else ""

    def buffered(self) -> int:
        return self._proto.transport.get_write_buffer_size()

    def set_limits(self, high: int) -> None:
        self._proto.transport.set_write_buffer_limits(high=high, low=high // 4)

    def close(self, code: int, reason: str = "") -> None:
        """Close now, even if the write buffer is full (a slow consumer): the close frame is queued
        behind what is buffered, and the connection is dropped if the peer does not answer soon."""
        p = self._proto
        if p.close_sent or p.disconnected:
            return
        p.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        p.conn.send_close(code, reason)
        p.transport.write(b"".join(p.conn.data_to_send()))
        p.close_sent = True
        if p.read_paused:
            p.read_paused = False
            p.transport.resume_reading()
        p.close_timer = p.loop.call_later(2.0, p.transport.abort)


class InboundQueue:
    """What uvicorn needs of its per-connection asyncio.Queue (put_nowait, get, empty), for one
    reader and no bound: one deque instead of three, about 1.5 KB less per idle socket."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque = deque()
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self):
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class WireProtocol(WebSocketsSansIOProtocol):
    """uvicorn `--ws` protocol class: `uvicorn.Config(ws=WireProtocol)`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.wire = Wire(self)
        self.queue = InboundQueue()

    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the app task has not run yet, so the extension is there in time
            scope["extensions"][EXTENSION] = self.wire

    async def send(self, message) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self._shed_handshake()

    def _shed_handshake(self) -> None:
        """Drop what the handshake left behind, ~3 KB an idle socket: uvicorn's request and response,
        and the websockets parser generator whose frame still holds the parsed request. The parser is
        replaced by the plain frame parser only while nothing is buffered: a client must not send
        before the 101 (RFC 6455 4.1), so the old one is idle at a frame boundary."""
        self.request = self.response = None
        shed_request_parser(self.conn)


    def pause_writing(self) -> None:
        super().pause_writing()
        self.wire.paused = True

    def resume_writing(self) -> None:
        super().resume_writing()
        self.wire.paused = False
        if self.wire.on_drain is not None:
            self.wire.on_drain()

    def connection_lost(self, exc) -> None:
        self.wire.on_drain = None
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """Server shutdown: tell clients to reconnect elsewhere (4012) rather than uvicorn's 1012."""
        if self.handshake_complete and not self.close_sent and not self.disconnected:
            self.stop_keepalive()
            self.wire.close(4012, "reconnect elsewhere")
            return
        super().shutdown()


def shed_request_parser(conn: ServerProtocol) -> bool:
    """Swap a websockets server connection's parser for the frame parser, if that loses nothing."""
    if conn.reader.buffer or conn.events:
        return False
    conn.parser = Protocol.parse(conn)
    next(conn.parser)
    return True
