"""The publishing side: a few organizer connections post events at a fixed total rate.

The schedule is open-loop (event i leaves at t0 + i/rate, round-robin over the senders) so a slow
server cannot slow the offered load down; a late scheduler shows as `max_send_lag_ms`. Each event
carries its send time in nanoseconds, which attendees subtract from their receive time.
Each sender stays under the server's default per-connection command rate (20/s), so the servers run
with default limits.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from benchmarks.fanout.attendees import CHANNEL, SioAttendee
from benchmarks.fanout.rawws import WsProtocol, upgrade_request
from benchmarks.fanout.tokens import mint

PER_SENDER_RATE = 15.0  # below the default 20 commands/s per connection


@dataclass
class SenderSpec:
    system: str
    targets: list[tuple[str, int]]  # (host, port) of each sender connection
    secret: str
    user_id: int  # the organizer (a real row: announcements reference their author)
    name: str
    event_bytes: int = 200


class _Replies:
    """Reply bookkeeping shared by both sender kinds."""

    def init_replies(self) -> None:
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self.ids = itertools.count(2)
        self.pending: dict[int, int] = {}
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.reply_ns: list[int] = []

    def replied(self, cid: int, error: str | None) -> None:
        sent = self.pending.pop(cid, None)
        if sent is None:
            return
        if error:
            self.errors[error] += 1
        else:
            self.ok += 1
            self.reply_ns.append(time.time_ns() - sent)


class CollabSender(WsProtocol, _Replies):
    def __init__(self, host: str, port: int, token: str, pad: str) -> None:
        super().__init__(upgrade_request(host, port, "/ws"))
        self.init_replies()
        self.token = token
        self.pad = pad
        self.prefix = b'{"id":%d,"cmd":"announce.post","args":{"channel":"' + CHANNEL.encode() + b'","body":"t=%d '

    def on_open(self) -> None:
        self.send_text(orjson.dumps({"id": 1, "cmd": "connect", "args": {"token": self.token}}))

    def on_text(self, payload: bytes) -> None:
        for line in payload.split(b"\n"):
            msg = orjson.loads(line)
            cid = msg.get("id")
            if cid == 1:
                if "ok" in msg:
                    self.ready.set_result(None)
                else:
                    self.ready.set_exception(ConnectionError(str(msg)))
            elif cid is not None:
                self.replied(cid, msg["error"]["code"] if "error" in msg else None)

    def post(self) -> None:
        cid, now = next(self.ids), time.time_ns()
        self.pending[cid] = now
        self.send_text(self.prefix % (cid, now) + self.pad.encode() + b'"}}')


class SioSender(SioAttendee, _Replies):
    """Emits `publish` with an ack id; the server's handler emits to the room via the Redis manager."""

    def __init__(self, host: str, port: int, token: str, pad: str) -> None:
        super().__init__(host, port, token, sample=False, sender=True)
        self.init_replies()
        self.joined.add_done_callback(
            lambda f: self.ready.set_exception(f.exception()) if f.exception() else self.ready.set_result(None)
        )
        self.pad = pad

    def on_other(self, payload: bytes) -> None:
        if payload[:2] == b"43":  # ack: 43<id>[true]
            self.replied(int(payload[2 : payload.index(b"[")]), None)

    def post(self) -> None:
        cid, now = next(self.ids), time.time_ns()
        self.pending[cid] = now
        self.send_text(b'42%d["publish",{"t":%d,"pad":"%s"}]' % (cid, now, self.pad.encode()))


def padding(system: str, event_bytes: int, user_id: int, name: str) -> str:
    """Filler that brings the event as attendees receive it to about `event_bytes`."""
    if system == "collab":
        shape = {"type": "announcement", "id": "announcement:100000", "body": "t=" + "0" * 19 + " ",
                 "author": {"id": user_id, "name": name}, "at": datetime.now(UTC).isoformat()}
    else:
        shape = {"t": 10**18, "pad": ""}
    return "x" * max(0, event_bytes - len(orjson.dumps(shape)))


def sender_main(pipe, spec: SenderSpec) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(pipe, spec))


async def _serve(pipe, spec: SenderSpec) -> None:
    loop = asyncio.get_running_loop()
    pad = padding(spec.system, spec.event_bytes, spec.user_id, spec.name)
    token = mint(spec.secret, spec.user_id, "organizer", spec.name)
    kind = CollabSender if spec.system == "collab" else SioSender
    senders = []
    for host, port in spec.targets:
        s = kind(host, port, token, pad)
        await loop.create_connection(lambda s=s: s, host, port)
        await asyncio.wait_for(s.ready, 30)
        senders.append(s)
    pipe.send(len(senders))
    while True:
        cmd, arg = await loop.run_in_executor(None, pipe.recv)
        if cmd == "close":
            for s in senders:
                s.transport.abort()
            pipe.send(None)
            return
        pipe.send(await _publish(senders, *arg))


async def _publish(senders: list, rate: float, duration: float) -> dict:
    loop = asyncio.get_running_loop()
    total = round(rate * duration)
    cpu0, wall0 = time.process_time(), time.time()
    t0, max_lag = loop.time(), 0.0
    for i in range(total):  # bounded: exactly `total` events
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            max_lag = max(max_lag, -delay)
        senders[i % len(senders)].post()
    sent_end = time.time()
    deadline = loop.time() + 10.0  # replies may trail the last send; never wait forever
    while any(s.pending for s in senders) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    reply = sorted(ns for s in senders for ns in s.reply_ns)
    errors: Counter[str] = Counter()
    for s in senders:
        errors.update(s.errors)
    return {
        "offered": total,
        "acknowledged": sum(s.ok for s in senders),
        "errors": dict(errors),
        "unanswered": sum(len(s.pending) for s in senders),
        "start": wall0,
        "sent_end": sent_end,
        "max_send_lag_ms": round(max_lag * 1000, 1),
        "reply_p50_ms": round(reply[len(reply) // 2] / 1e6, 2) if reply else None,
        "reply_p99_ms": round(reply[int(len(reply) * 0.99)] / 1e6, 2) if reply else None,
        "cpu": time.process_time() - cpu0,
    }
