"""/ws against one real server process: connect, subscribe, push, recovery, errors."""

from __future__ import annotations

import pytest

import harness


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


async def test_announcement_reaches_subscriber_in_order(server, users):
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    teacher = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    sub = await teacher.ok("subscribe", channel="announce:order")
    for i in range(20):
        await org.ok("announce.post", channel="announce:order", body=f"message {i}")
    got = await teacher.pushes_until(20)
    assert [p["e"]["body"] for p in got] == [f"message {i}" for i in range(20)]
    assert [p["o"] for p in got] == list(range(sub["offset"] + 1, sub["offset"] + 21))
    await org.close()
    await teacher.close()


async def test_reconnect_with_last_offset_recovers_every_missed_event(server, users):
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    t = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    sub = await t.ok("subscribe", channel="announce:recover")
    await org.ok("announce.post", channel="announce:recover", body="before")
    first = await t.push()
    await t.close()
    for i in range(5):
        await org.ok("announce.post", channel="announce:recover", body=f"missed {i}")
    t2 = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    r = await t2.ok("subscribe", channel="announce:recover", since={"epoch": sub["epoch"], "offset": first["o"]})
    assert r["recovered"] is True
    got = await t2.pushes_until(5)
    assert [p["e"]["body"] for p in got] == [f"missed {i}" for i in range(5)]
    await org.ok("announce.post", channel="announce:recover", body="live again")
    assert (await t2.push())["e"]["body"] == "live again"
    await org.close()
    await t2.close()
