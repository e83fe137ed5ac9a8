"""The two kinds of simulated attendee: a collab `/ws` client and a python-socketio client.

Both count events without parsing JSON. Only a sampled few also read the send timestamp out of each
event to measure publish->receive latency, so the cost of measuring does not grow with the audience.

collab: offsets make loss visible per client. A push line starts `{"ch":"announce:bench","o":17,"e":{`;
for each frame we read only the first and the last offset and count the lines: a frame is whole and
in order when first == previous + 1 and last - first + 1 == lines.
socketio: each event is one frame `42["ev",{...}]` with no offset, so loss is the per-client count.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from benchmarks.fanout.rawws import WsProtocol, upgrade_request

CHANNEL = "announce:bench"
PUSH_MARK = b',"e":{'  # once per push line, never inside an announcement event
STAMP = b'"body":"t='  # collab events carry the send time (ns) at the start of the body
SIO_STAMP = b'"t":'


class Attendee(WsProtocol):
    def __init__(self, request: bytes, sample: bool) -> None:
        super().__init__(request)
        self.joined: asyncio.Future = asyncio.get_running_loop().create_future()
        self.live = False
        self.received = 0
        self.gaps = 0
        # Sampled attendees only: (send time ns, latency ns) pairs, flat.
        self.latencies: list[int] | None = [] if sample else None
        self.event_bytes = 0

    def joined_ok(self) -> None:
        self.live = True
        if not self.joined.done():
            self.joined.set_result(None)

    def fail(self, reason: str) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(reason))
        super().fail(reason)

    def on_closed(self) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(f"closed {self.close_code}"))


class CollabAttendee(Attendee):
    def __init__(self, host: str, port: int, token: str, sample: bool) -> None:
        super().__init__(upgrade_request(host, port, "/ws"), sample)
        # connect and subscribe in one frame: the protocol runs a batch in order.
        self.hello = (
            b'{"id":1,"cmd":"connect","args":{"token":"' + token.encode() + b'"}}\n'
            b'{"id":2,"cmd":"subscribe","args":{"channel":"' + CHANNEL.encode() + b'"}}'
        )
        self.last = 0
        self.resyncs = 0

    def on_open(self) -> None:
        self.send_text(self.hello)

    def on_text(self, payload: bytes) -> None:
        if self.live:
            self._count(payload)
            return
        lines = payload.split(b"\n")
        for k, line in enumerate(lines):
            msg = orjson.loads(line)
            if "error" in msg:
                self.fail(f"{msg['error'].get('code')}")
                return
            if msg.get("id") == 2:
                self.last = msg["ok"]["offset"]
                self.joined_ok()
                if k + 1 < len(lines):
                    self._count(b"\n".join(lines[k + 1 :]))
                return

    def _count(self, payload: bytes) -> None:
        n = payload.count(PUSH_MARK)
        if not n:
            if b'"resync"' in payload:
                self.resyncs += 1
            return
        try:
            first = _offset(payload, payload.find(b'"o":'))
            last = first if n == 1 else _offset(payload, payload.rfind(b'"o":'))
        except ValueError:  # "o":null: delivered locally while the bus was down
            first = last = -1
        if first != self.last + 1 or last - first + 1 != n:
            self.gaps += 1
        self.last = last
        self.received += n
        if self.latencies is not None:
            now = time.time_ns()
            i = payload.find(STAMP)
            while i >= 0:
                sent = int(payload[i + 10 : i + 29])
                self.latencies += (sent, now - sent)
                i = payload.find(STAMP, i + 29)
            if not self.event_bytes:
                line = payload.split(b"\n", 1)[0]
                self.event_bytes = len(line) - line.find(PUSH_MARK) - len(PUSH_MARK)  # the {...} after "e":


def _offset(payload: bytes, i: int) -> int:
    return int(payload[i + 4 : payload.find(b",", i)])


class SioAttendee(Attendee):
    """engine.io v4 over a WebSocket, straight away (no polling), default namespace."""

    def __init__(self, host: str, port: int, token: str, sample: bool, sender: bool = False) -> None:
        super().__init__(upgrade_request(host, port, "/socket.io/?EIO=4&transport=websocket"), sample)
        self.auth = b"40" + orjson.dumps({"token": token, "sender": sender})

    def on_text(self, payload: bytes) -> None:
        head = payload[:2]
        if head == b"42":
            self.received += 1
            if self.latencies is not None:
                i = payload.find(SIO_STAMP)
                sent = int(payload[i + 4 : i + 23])
                self.latencies += (sent, time.time_ns() - sent)
                if not self.event_bytes:
                    self.event_bytes = len(payload) - len(b'42["ev",]')
        elif payload == b"2":  # engine.io ping: answer or be dropped
            self.send_text(b"3")
        elif head == b"40":
            self.joined_ok()
        elif payload[:1] == b"0":  # engine.io open packet: join the default namespace
            self.send_text(self.auth)
        elif head in (b"44", b"41"):
            self.fail(payload[:80].decode(errors="replace"))
        else:
            self.on_other(payload)

    def on_other(self, payload: bytes) -> None: ...
