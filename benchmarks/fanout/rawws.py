"""A minimal WebSocket client over an asyncio Protocol: just enough for a load generator.

The benchmark must not be the bottleneck, so a client pays for nothing it does not need: no per-frame
objects, no UTF-8 validation, no JSON parsing of pushes. The handshake is one request; server frames
(never masked, never fragmented by the servers measured here) are sliced out of the read buffer and
handed to `on_text`; pings are answered. Client frames are masked as RFC 6455 requires.
"""

from __future__ import annotations

import asyncio
import base64
import os


def upgrade_request(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked, final frame. XOR over one big integer is far cheaper than a per-byte loop."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    if n:
        key = (mask * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return head + mask + payload


class WsProtocol(asyncio.Protocol):
    """Subclasses implement `on_open()` and `on_text(payload, now_ns)`; `opened` resolves on 101."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.close_code: int | None = None
        self.lost = False
        self.frames = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def send_text(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(payload))

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
                self.fail("handshake refused: " + data[:60].decode(errors="replace"))
                return
            self.upgraded = True
            data = data[end + 4 :]
            self.on_open()
        self._frames(data)

    def _frames(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while n - pos >= 2:
            b0, length = data[pos], data[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > n:
                break
            opcode = b0 & 0x0F
            if opcode == 0x1:
                self.frames += 1
                self.on_text(data[pos + head : end])
            elif opcode == 0x9:  # ping: the servers close sockets that never answer
                if self.transport is not None and not self.transport.is_closing():
                    self.transport.write(client_frame(data[pos + head : end], 0xA))
            elif opcode == 0x8:
                body = data[pos + head : end]
                self.close_code = int.from_bytes(body[:2], "big") if len(body) >= 2 else 1005
                self.transport.close()
                return
            pos = end
        if pos < n:
            self.buf = data[pos:]

    def connection_lost(self, exc) -> None:
        self.lost = True
        if self.close_code is None:
            self.close_code = 1006
        self.on_closed()

    # -- for subclasses ----------------------------------------------------------------------------

    def on_open(self) -> None: ...

    def on_text(self, payload: bytes) -> None: ...

    def on_closed(self) -> None: ...

    def fail(self, reason: str) -> None:
        if self.transport is not None:
            self.transport.abort()
