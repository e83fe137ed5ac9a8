"""The y-websocket wire protocol, no I/O: what a stock Yjs client (`y-websocket`'s WebsocketProvider)
sends and understands. Each WebSocket message is one binary frame:

    [0 sync]      [0 step1][varbytes state vector]   "here is what I have; send me the rest"
                  [1 step2][varbytes update]         the reply: everything the other side lacked
                  [2 update][varbytes update]        a live edit
    [1 awareness] [varbytes awareness update]        cursors, names, colors: never stored
    [2 auth]      [0 permission denied][varstring reason]   server -> client only
    [3 query awareness]                              "send me everyone's awareness"

Parsing is strict: a frame that does not decode to exactly one message is a `ProtocolError`, so
nothing malformed reaches the document or the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

SYNC, AWARENESS, AUTH, QUERY_AWARENESS = 0, 1, 2, 3
STEP1, STEP2, UPDATE = 0, 1, 2
PERMISSION_DENIED = 0
EMPTY_UPDATE = b"\x00\x00"  # a Yjs update with no structs and an empty delete set
MAX_AWARENESS_STATE = 8 * 1024  # bytes of one client's JSON state (a name, a color, a cursor)


class ProtocolError(Exception):
    """The frame is not the protocol. Not recoverable on this connection."""


@dataclass(frozen=True, slots=True)
class Message:
    kind: str  # step1, step2, update, awareness, query_awareness
    payload: bytes = b""


class Reader:
    """lib0 decoding with bounds checks: every read past the end is a ProtocolError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uint(self) -> int:
        value = shift = 0
        while True:
            if self.pos >= len(self.data):
                raise ProtocolError("truncated number")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 53:  # lib0 numbers are JavaScript-safe integers
                raise ProtocolError("number too large")

    def bytes_(self) -> bytes:
        n = self.uint()
        if n > len(self.data) - self.pos:
            raise ProtocolError("truncated payload")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError("trailing bytes after the message")


def parse(frame: bytes) -> Message:
    r = Reader(frame)
    kind = r.uint()
    if kind == SYNC:
        step = r.uint()
        payload = r.bytes_()
        r.end()
        if step == STEP1:
            return Message("step1", payload)
        if step == STEP2:
            return Message("step2", payload)
        if step == UPDATE:
            return Message("update", payload)
        raise ProtocolError(f"unknown sync step {step}")
    if kind == AWARENESS:
        payload = r.bytes_()
        r.end()
        return Message("awareness", payload)
    if kind == QUERY_AWARENESS:
        r.end()
        return Message("query_awareness")
    raise ProtocolError(f"unknown message type {kind}")


def uint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def _varbytes(b: bytes) -> bytes:
    return uint(len(b)) + b


def step1(state_vector: bytes) -> bytes:
    return bytes((SYNC, STEP1)) + _varbytes(state_vector)


def step2(update: bytes) -> bytes:
    return bytes((SYNC, STEP2)) + _varbytes(update)


def update(data: bytes) -> bytes:
    return bytes((SYNC, UPDATE)) + _varbytes(data)


def awareness(data: bytes) -> bytes:
    return bytes((AWARENESS,)) + _varbytes(data)


def permission_denied(reason: str) -> bytes:
    return bytes((AUTH, PERMISSION_DENIED)) + _varbytes(reason.encode())


# -- awareness updates: [n] then n × [client id][clock][JSON state as a string] ---------------------


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: str  # JSON text; "null" means the client left


def decode_awareness(data: bytes) -> list[AwarenessEntry]:
    r = Reader(data)
    n = r.uint()
    if n > 1000:
        raise ProtocolError("too many awareness entries")
    out = []
    for _ in range(n):
        client_id, clock = r.uint(), r.uint()
        raw = r.bytes_()
        if len(raw) > MAX_AWARENESS_STATE:
            raise ProtocolError("awareness state too large")
        try:
            text = raw.decode()
            orjson.loads(raw)
        except (UnicodeDecodeError, orjson.JSONDecodeError):
            raise ProtocolError("awareness state is not JSON") from None
        out.append(AwarenessEntry(client_id, clock, text))
    r.end()
    return out


def encode_awareness(entries: list[AwarenessEntry]) -> bytes:
    return uint(len(entries)) + b"".join(
        uint(e.client_id) + uint(e.clock) + _varbytes(e.state.encode()) for e in entries)
