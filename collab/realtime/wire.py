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

from typing import Callable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

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


class WireProtocol(WebSocketsSansIOProtocol):
    """uvicorn `--ws` protocol class: `uvicorn.Config(ws=WireProtocol)`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.wire = Wire(self)

    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the app task has not run yet, so the extension is there in time
            scope["extensions"][EXTENSION] = self.wire

    async def send(self, message) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # uvicorn keeps the handshake's request and response (and their headers) for the life of
            # the connection; nothing needs them after the accept. ~2 KB per idle socket.
            self.request = self.response = None

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
