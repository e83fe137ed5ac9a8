"""A channel's order on one node, sans I/O: publications in, actions out.

The bus delivers a channel's publications by pub/sub, which can lose or repeat them (a reconnect, a
slow subscriber). `ChannelOrder` remembers the epoch and the last offset this node passed on and
decides what each input means, as websockets' `Protocol` decides what bytes mean: no awaits, no
timers, no sockets. The hub feeds it and carries out what it returns:

- `Deliver(pub)`: the next publication in order (or one delivered locally while the bus was away,
  `offset == LOCAL_OFFSET`): a push line for the channel's sockets and for those still joining.
- `Kick(data)`: a directive to the hubs travelling in order with the events, not an event for clients.
- `Fill(since)`: fetch history after `since`, then call `filled(history)` or `fill_failed()`.
  Publications received meanwhile are held and released, in order, after the fill.
- `Resync(epoch, offset)`: history cannot cover the gap (lost, or a new epoch): clients reload.

`recover()` is the other half: what a joining subscriber is told and replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from collab.realtime.bus import History, Position, Publication

KICK = b'{"$kick":'  # a publication that is a directive to the hubs, not an event for clients
LOCAL_OFFSET = -1  # a publication delivered locally while the bus was unreachable (sent as "o": null)


@dataclass(slots=True, frozen=True)
class Deliver:
    pub: Publication


@dataclass(slots=True, frozen=True)
class Kick:
    data: bytes


@dataclass(slots=True, frozen=True)
class Fill:
    since: int


@dataclass(slots=True, frozen=True)
class Resync:
    epoch: str
    offset: int


Action = Union[Deliver, Kick, Fill, Resync]


class ChannelOrder:
    __slots__ = ("channel", "epoch", "offset", "filling", "failed", "held")

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.epoch: str | None = None
        self.offset: int | None = None  # the last offset passed on; None until the channel has a start
        self.filling = False  # a Fill is out
        self.failed = False  # the last Fill failed: hold everything until `retry()`
        self.held: list[Publication] = []

    # -- inputs ------------------------------------------------------------------------------------

    def receive(self, pub: Publication) -> list[Action]:
        """A publication from the bus."""
        if self.filling or self.failed:
            self.held.append(pub)
            return []
        if self.epoch is not None and pub.epoch != self.epoch:
            return [self._resync(pub.epoch, pub.offset - 1), self._accept(pub)]
        if self.offset is not None:
            if pub.offset <= self.offset:
                return []  # already delivered (a history fill got there first)
            if pub.offset > self.offset + 1:
                self.held.append(pub)
                return self._fill()
        return [self._accept(pub)]

    def local(self, data: bytes) -> Action:
        """A publication this node could not put on the bus: delivered here at once, with no offset."""
        if data.startswith(KICK):
            return Kick(data)
        return Deliver(Publication(self.channel, self.epoch or "", LOCAL_OFFSET, data))

    def filled(self, hist: History) -> list[Action]:
        """The history a `Fill` asked for; then what was held, in offset order."""
        pos = hist.position
        if self.epoch is not None and pos.epoch != self.epoch or not hist.covered:
            actions: list[Action] = [self._resync(pos.epoch, pos.offset)]
        else:
            actions = [self._accept(p) for p in hist.pubs if self.offset is None or p.offset > self.offset]
        self.filling = False
        self.failed = False
        held, self.held = self.held, []
        for pub in sorted(held, key=lambda p: p.offset):
            actions.extend(self.receive(pub))
        return actions

    def fill_failed(self) -> list[Action]:
        """The bus was away for the `Fill`: what is held stays held, in order, until `retry()`."""
        self.filling = False
        self.failed = True
        return []

    def retry(self) -> list[Action]:
        """The bus is healthy again: a failed fill is tried again."""
        if self.failed and not self.filling:
            self.failed = False
            return self._fill()
        return []

    def bus_reconnected(self) -> list[Action]:
        """Pub/sub was down for a while: whatever it carried meanwhile is fetched from history."""
        return self._fill() if self.offset is not None else []

    def start_at(self, pos: Position) -> None:
        """The node's starting point, from a first subscriber's history read. Publications at or below
        it that still arrive by pub/sub are dropped: every client was told it starts at or after them."""
        if self.offset is None and self.epoch is None:
            self.epoch, self.offset = pos.epoch, pos.offset

    def current(self, since: tuple[str, int] | None) -> Position | None:
        """Where a joining subscriber can start without a history read: the channel is live here and
        the subscriber needs nothing from history (the join storm of a big activity). None: read it."""
        if self.offset is None or self.epoch is None or self.filling:
            return None
        if since is not None and since != (self.epoch, self.offset):
            return None
        return Position(self.epoch, self.offset)

    # -- transitions -------------------------------------------------------------------------------

    def _accept(self, pub: Publication) -> Action:
        self.epoch = pub.epoch
        self.offset = pub.offset
        return Kick(pub.data) if pub.data.startswith(KICK) else Deliver(pub)

    def _resync(self, epoch: str, offset: int) -> Resync:
        self.epoch = epoch
        self.offset = offset
        return Resync(epoch, offset)

    def _fill(self) -> list[Action]:
        if self.filling:
            return []
        self.filling = True
        return [Fill(self.offset if self.offset is not None else 0)]


def recover(
    channel: str, since: tuple[str, int] | None, hist: History, buffered: list[Publication]
) -> tuple[dict[str, Any], list[Publication]]:
    """A joining subscriber's reply and the publications written right after it: recovered history
    (when it asked with `since`) and what reached the channel while it joined (`buffered`), each once.
    With `since`, the reply says whether the gap could be covered ("recovered"): never a silent gap."""
    pos = hist.position
    result: dict[str, Any] = {"channel": channel, "epoch": pos.epoch, "offset": pos.offset}
    pubs: list[Publication] = []
    if since is not None:
        recovered = since[0] == pos.epoch and hist.covered
        result["recovered"] = recovered
        if recovered:
            # The reply says where the client stands before the replay that follows it (its own
            # offset): every push after the reply is above it, so "drop what is <= where you stand"
            # never drops a replayed event (docs/protocol.md, Recovery).
            result["offset"] = since[1]
            pubs = hist.pubs
    top = pubs[-1].offset if pubs else pos.offset
    later = [p for p in buffered if p.offset > top or p.offset == LOCAL_OFFSET]
    return result, [p for p in pubs + later if not p.data.startswith(KICK)]  # directives, not events
