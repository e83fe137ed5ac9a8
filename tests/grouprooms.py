"""Breakout groups from a test's side (docs/groups.md): teachers in a room on two nodes, the host taking
them into a group phase, waiting for an event of a type."""

from __future__ import annotations

import asyncio

import harness


async def in_room(nodes: list[harness.Server], tokens: dict[str, str], aid: int) -> dict[str, harness.WsClient]:
    """Each teacher (name -> token) in the room, alternately on the nodes, subscribed to it (and so
    attending: groups are formed from who attends)."""
    out = {}
    for i, (name, token) in enumerate(tokens.items()):
        c = await harness.WsClient(nodes[i % len(nodes)].ws_url).open(token)
        snap = await c.ok("activity.snapshot", activity_id=aid)
        await c.ok("subscribe", channel=snap["channel"], since=snap["since"])
        out[name] = c
    return out


async def until_type(c: harness.WsClient, kind: str, timeout: float = 10.0) -> dict:
    """The next push of event type `kind` (those before it are passed over)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        push = await c.push(max(0.1, deadline - asyncio.get_running_loop().time()))
        if push.get("e", {}).get("type") == kind:
            return push


async def into_groups(node: harness.Server, host_token: str, aid: int, teachers: dict) -> harness.WsClient:
    """The host starts the activity, waits until attendance has everyone (written within a second), moves
    into the group phase (the second), and every teacher hears `groups_formed`. Returns the host."""
    host = await harness.WsClient(node.ws_url).open(host_token)
    await host.ok("activity.start", activity_id=aid)
    await asyncio.sleep(2.0)
    await host.ok("activity.next_phase", activity_id=aid)
    for c in teachers.values():
        assert (await until_type(c, "groups_formed"))["e"]["phase"] == 1
    return host
