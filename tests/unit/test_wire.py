"""The parts of the wire that lean on websockets' sans-I/O internals, checked against the real thing."""

from __future__ import annotations

import asyncio
import base64
import os

from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from collab.realtime.wire import InboundQueue, shed_request_parser

REQUEST = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def masked(payload: bytes) -> bytes:
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def handshake(conn: ServerProtocol, extra: bytes = b"") -> None:
    conn.receive_data(REQUEST + extra)
    request = conn.events_received()[0]
    conn.send_response(conn.accept(request))


def test_parser_is_swapped_after_a_clean_handshake_and_frames_still_parse():
    conn = ServerProtocol()
    handshake(conn)
    assert shed_request_parser(conn) is True
    conn.receive_data(masked(b'{"id":1}'))
    [frame] = conn.events_received()
    assert isinstance(frame, Frame) and frame.opcode == Opcode.TEXT and frame.data == b'{"id":1}'


def test_parser_is_kept_when_part_of_a_frame_came_with_the_request():
    frame = masked(b"early")
    conn = ServerProtocol()
    handshake(conn, extra=frame[:1])  # a client that did not wait for the 101
    assert shed_request_parser(conn) is False  # swapping now would lose that byte
    conn.receive_data(frame[1:])
    [got] = conn.events_received()
    assert got.data == b"early"


async def test_inbound_queue_hands_items_out_in_order_and_wakes_its_reader():
    q = InboundQueue()
    q.put_nowait(1)
    assert await q.get() == 1 and q.empty()
    reader = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.put_nowait(2)
    q.put_nowait(3)
    assert await reader == 2 and q.qsize() == 1 and await q.get() == 3
