"""The national benchmark's group phase (benchmarks/national/groups.py): the plan of the group chat, the
deliveries it expects, and how a simulated teacher reads its group's chat (what the leak count and the
latency rows are made of)."""

from __future__ import annotations

import time
from collections import defaultdict
from types import SimpleNamespace

import orjson

from benchmarks.national.groups import GroupSeat, chat_plan, chatting, expected_deliveries, per_item_kb
from collab.realtime.protocol import push_line
from sessions.discussion import MIN_INTERVAL

GROUPS = {gid: [gid * 10 + k for k in range(8)] for gid in range(101, 126)}  # 25 groups of 8


def test_one_group_in_four_chats_and_the_others_stay_idle():
    talk = chatting(GROUPS, 4)
    assert talk == [101, 105, 109, 113, 117, 121, 125]
    plan = chat_plan(GROUPS, 4, 2.0, 20.0)
    assert {gid for _, _, gid in plan} == set(talk)
    assert all(sum(1 for _, _, g in plan if g == gid) == 10 for gid in talk)  # a message every 2 s for 20 s
    assert chatting(GROUPS, 0) == []


def test_every_poster_is_a_member_and_never_posts_faster_than_the_server_allows():
    plan = chat_plan(GROUPS, 4, 1.0, 30.0)
    times = defaultdict(list)
    for delay, uid, gid in plan:
        assert uid in GROUPS[gid]
        times[uid].append(delay)
    for ts in times.values():
        assert all(b - a >= MIN_INTERVAL for a, b in zip(ts, ts[1:]))
    assert [d for d, _, _ in plan] == sorted(d for d, _, _ in plan)
    assert len(times) == 7 * 8  # members take turns: everyone of a chatting group speaks


def test_a_post_is_expected_by_every_other_subscribed_member_of_its_group():
    subscribed = {101: {1010, 1011, 1012}, 105: {1050}}
    assert expected_deliveries([(1010, 101)], subscribed) == 2  # not to the poster
    assert expected_deliveries([(1013, 101)], subscribed) == 3  # a poster not subscribed hears nothing
    assert expected_deliveries([(1050, 105), (1010, 101)], subscribed) == 2
    assert per_item_kb(0, 3 << 20, 24) == 128.0 and per_item_kb(0, 1, 0) is None


def line(channel: str, group_id: int, author: int, body: str) -> bytes:
    event = {"type": "group_chat", "id": "group-chat:1", "message": {
        "id": 1, "group_id": group_id, "user": {"id": author, "name": "教师"}, "body": body, "status": "visible",
        "at": "2027-05-01T06:00:00+00:00"}}
    return push_line(orjson.dumps(channel), 7, orjson.dumps(event))


def seat() -> GroupSeat:
    s = GroupSeat(SimpleNamespace(uid=1010, activity_id=9))
    s.group_id, s.channel = 101, b"activity:9:group:101"
    return s


def test_a_group_mates_message_is_timed_from_its_stamp_and_the_teachers_own_is_not_a_delivery():
    s = seat()
    sent = time.time_ns() - 40_000_000
    s.seen(line("activity:9:group:101", 101, 1011, f"g={sent} from 1011") + b"\n"
           + line("activity:9:group:101", 101, 1010, f"g={sent} from 1010"))
    assert (s.received, s.own, s.leaks) == (1, 1, 0)
    assert 40_000_000 <= s.latencies[0] < 10_000_000_000


def test_a_message_of_another_group_is_a_leak():
    s = seat()
    s.seen(line("activity:9:group:105", 105, 1050, f"g={time.time_ns()} from 1050"))
    s.seen(line("activity:9:group:101", 105, 1050, f"g={time.time_ns()} from 1050"))  # wrong group in the event
    assert (s.received, s.leaks) == (0, 2)
