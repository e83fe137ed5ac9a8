"""A breakout group's small stage on two server processes sharing real Redis and PostgreSQL: a member on
node A sends camera and microphone, a member on node B watches through node B's link; a teacher of
another group is refused; a group of nine has no stage; the host ending the phase closes it. The main
stage (and so the program) never sees any of it."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from media_peers import Counter, MovingPicture, Tone, accept, offer_to_receive, offer_to_send
import test_groups
from test_groups import in_room, scheduled, start_groups
from test_stage import until, video

pytestmark = pytest.mark.usefixtures("validate_pushes")

world = test_groups.world  # two nodes and the groups' teachers (a module's fixture: set up anew for this one)


async def group_stage_event(c: harness.WsClient, kind: str, pred=lambda e: True, timeout: float = 10.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        push = await c.push(max(0.1, deadline - asyncio.get_running_loop().time()))
        e = push.get("e", {})
        if e.get("type") == kind and ":group:" in push["ch"] and pred(e):
            return e


async def test_a_small_group_sees_and_hears_itself_across_nodes_until_the_phase_ends(world):
    users = world["users"]
    aid = await scheduled(world, {"size": 3, "assign": "random"})
    names = [f"t{i}" for i in range(6)]
    teachers = await in_room(world, aid, names)
    host = await start_groups(world, aid, teachers)
    mine = {n: (await teachers[n].ok("group.mine", activity_id=aid))["group"] for n in names}
    group = mine["t0"]
    speaker, listener = [n for n in names if mine[n]["id"] == group["id"]][:2]
    outsider = next(n for n in names if mine[n]["id"] != group["id"])
    gid = group["id"]
    # the speaker on node A, the listener on node B, each following the group's channel
    sws = await harness.WsClient(world["a"].ws_url).open(users[speaker][1])
    lws = await harness.WsClient(world["b"].ws_url).open(users[listener][1])
    await lws.ok("subscribe", channel=group["channel"])
    spc = RTCPeerConnection()
    r = await sws.ok("group.stage.publish", timeout=20, activity_id=aid, group_id=gid,
                     offer=await offer_to_send(spc, [MovingPicture(), Tone()]))
    await accept(spc, r["answer"])
    on = await group_stage_event(lws, "stage", lambda e: e["on_stage"])
    assert on["group_id"] == gid
    assert on["on_stage"] == [{"user_id": users[speaker][0], "name": f"教师{speaker}", "source": "camera",
                               "tracks": ["audio", "video"]}]
    # asked on node B, which holds nobody: node A says again who is on the group's stage
    assert (await lws.ok("group.stage.state", activity_id=aid, group_id=gid))["on_stage"] == []
    again = await group_stage_event(lws, "stage", lambda e: e["on_stage"])
    assert again["node"] == "groups-a"
    # the listener on node B watches: frames arrive through node B's link to node A
    lpc = RTCPeerConnection()
    counters: list[Counter] = []
    lpc.on("track", lambda track: counters.append(Counter(track)))
    w = await lws.ok("group.stage.watch", activity_id=aid, group_id=gid, publisher_id=users[speaker][0],
                     offer=await offer_to_receive(lpc))
    await accept(lpc, w["answer"])
    await until(lambda: video(counters) is not None and video(counters).frames > 20, timeout=15)
    assert video(counters).size == (640, 480)
    # a teacher of another group may neither watch nor join this group's stage
    ows = await harness.WsClient(world["b"].ws_url).open(users[outsider][1])
    opc = RTCPeerConnection()
    refused = await ows.call("group.stage.watch", activity_id=aid, group_id=gid, publisher_id=users[speaker][0],
                             offer=await offer_to_receive(opc))
    assert refused["error"]["code"] == "not_in_group"
    refused = await ows.call("group.stage.publish", activity_id=aid, group_id=gid,
                             offer=await offer_to_send(opc, [MovingPicture()]))
    assert refused["error"]["code"] == "not_in_group"
    # the main stage knows nothing of it (nor, following the main stage, does the program)
    state = await teachers[outsider].ok("stage.state", activity_id=aid)
    assert state["on_stage"] == [] and state["roster"] == []
    # the host ends the group phase: the group hears its stage closed, the picture stops
    await host.ok("activity.next_phase", activity_id=aid)
    closed = await group_stage_event(lws, "group_stage_closed")
    assert closed == {**closed, "group_id": gid, "node": "groups-a"}
    frames = video(counters).frames
    await asyncio.sleep(1.5)
    assert video(counters).frames <= frames + 5
    late = await sws.call("group.stage.publish", activity_id=aid, group_id=gid,
                          offer=await offer_to_send(RTCPeerConnection(), [MovingPicture()]))
    assert late["error"]["code"] == "no_groups"
    for pc in (spc, lpc, opc):
        await pc.close()
    for c in (host, sws, lws, ows, *teachers.values()):
        await c.close()


async def test_a_group_of_nine_has_no_stage(world):
    aid = await scheduled(world, {"size": 9, "assign": "random"})
    names = [f"t{i}" for i in range(9)]
    teachers = await in_room(world, aid, names)
    host = await start_groups(world, aid, teachers)
    group = (await teachers["t0"].ok("group.mine", activity_id=aid))["group"]
    assert group["members"] == 9
    pc = RTCPeerConnection()
    refused = await teachers["t0"].call("group.stage.publish", activity_id=aid, group_id=group["id"],
                                        offer=await offer_to_send(pc, [MovingPicture(), Tone()]))
    assert refused["error"]["code"] == "group_too_large"
    refused = await teachers["t1"].call("group.stage.watch", activity_id=aid, group_id=group["id"],
                                        publisher_id=1, offer=await offer_to_receive(pc))
    assert refused["error"]["code"] == "group_too_large"
    await pc.close()
    for c in (host, *teachers.values()):
        await c.close()
