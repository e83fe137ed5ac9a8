"""A channel's order without a hub, a bus or sockets: publications in, actions out."""

from __future__ import annotations

from collab.realtime.bus import History, Position, Publication
from collab.realtime.ordering import (
    KICK, LOCAL_OFFSET, ChannelOrder, Deliver, Fill, Kick, Resync, recover,
)

CH = "announce:x"


def pub(offset: int, epoch: str = "e1", data: bytes = b'{"id":1}') -> Publication:
    return Publication(CH, epoch, offset, data)


def started(offset: int = 0, epoch: str = "e1") -> ChannelOrder:
    order = ChannelOrder(CH)
    order.start_at(Position(epoch, offset))
    return order


def test_in_order_is_delivered_and_duplicates_dropped():
    order = started()
    assert order.receive(pub(1)) == [Deliver(pub(1))]
    assert order.receive(pub(1)) == []
    assert order.offset == 1


def test_gap_holds_and_fills_then_releases_in_order():
    order = started(1)
    assert order.receive(pub(4)) == [Fill(1)]
    assert order.receive(pub(3)) == []  # held while the fill is out
    actions = order.filled(History([pub(2), pub(3)], Position("e1", 4), True))
    assert actions == [Deliver(pub(2)), Deliver(pub(3)), Deliver(pub(4))]


def test_new_epoch_resyncs_then_delivers():
    order = started(5)
    assert order.receive(pub(1, "e2")) == [Resync("e2", 0), Deliver(pub(1, "e2"))]


def test_lost_history_resyncs():
    order = started(1)
    order.receive(pub(9))
    actions = order.filled(History([], Position("e1", 9), False))
    assert actions == [Resync("e1", 9)]  # then the held 9 is a duplicate
    assert order.offset == 9


def test_failed_fill_holds_until_retry():
    order = started(1)
    order.receive(pub(3))
    assert order.fill_failed() == []
    assert order.receive(pub(4)) == []
    assert order.retry() == [Fill(1)]
    actions = order.filled(History([pub(2)], Position("e1", 4), True))
    assert actions == [Deliver(pub(2)), Deliver(pub(3)), Deliver(pub(4))]


def test_bus_reconnect_fills_a_started_channel_only():
    assert ChannelOrder(CH).bus_reconnected() == []
    assert started(3).bus_reconnected() == [Fill(3)]


def test_local_and_kick():
    order = started(2)
    assert order.local(b'{"id":7}') == Deliver(Publication(CH, "e1", LOCAL_OFFSET, b'{"id":7}'))
    kick = KICK + b'1,"reason":"x"}'
    assert order.local(kick) == Kick(kick)
    assert order.receive(pub(3, data=kick)) == [Kick(kick)] and order.offset == 3


def test_joining_subscriber_recovery():
    order = started(2)
    assert order.current(None) == Position("e1", 2)
    assert order.current(("e1", 1)) is None  # needs history
    hist = History([pub(2)], Position("e1", 2), True)
    result, pubs = recover(CH, ("e1", 1), hist, [pub(2), pub(3), Publication(CH, "e1", LOCAL_OFFSET, b"{}")])
    assert result == {"channel": CH, "epoch": "e1", "offset": 1, "recovered": True}
    assert [p.offset for p in pubs] == [2, 3, LOCAL_OFFSET]
    result, pubs = recover(CH, ("old", 1), hist, [])
    assert result["recovered"] is False and pubs == []
