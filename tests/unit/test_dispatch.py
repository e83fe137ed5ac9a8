"""Command dispatch: every outcome of a handler becomes a reply with a stable code."""

from __future__ import annotations

import types

import orjson
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from collab.auth.actor import Actor
from collab.realtime.client import Client, run_command
from collab.realtime.dispatch import CommandError, Registry, require
from collab.realtime.hub import Hub
from collab.realtime.memory_bus import MemoryBus
from collab.realtime.protocol import Command
from collab.settings import Settings
from test_hub import FakeWire


async def reply_to(handler) -> dict:
    registry = Registry()
    registry.add("x.do", handler)
    services = types.SimpleNamespace(hub=Hub(MemoryBus()), settings=Settings(secret="s"), registry=registry)
    wire = FakeWire()
    client = Client(wire, services)
    client.actor = Actor(1, "teacher")
    await run_command(client, services, Command(7, "x.do", {}))
    [frame] = wire.frames
    return orjson.loads(frame[2:])


async def ok(ctx, args):
    return {"done": True}


async def invalid(ctx, args):
    raise CommandError("invalid", "no")


async def pool_exhausted(ctx, args):
    raise PoolTimeout("QueuePool limit reached")


async def bug(ctx, args):
    raise ZeroDivisionError


@pytest.mark.parametrize("handler,expected", [
    (ok, {"id": 7, "ok": {"done": True}}),
    (invalid, {"id": 7, "error": {"code": "invalid", "message": "no"}}),
    (pool_exhausted, {"id": 7, "error": {"code": "busy", "message": "the server is busy; try again in a moment"}}),
    (bug, {"id": 7, "error": {"code": "internal", "message": "internal error; the command was not applied"}}),
])
async def test_outcomes(handler, expected):
    assert await reply_to(handler) == expected


def test_an_integer_argument_no_column_can_hold_is_invalid_not_a_fault():
    """Found by the frame fuzzer: 2**63 as an activity id reached SQLite and came back `internal`."""
    assert require({"activity_id": 2**63 - 1}, "activity_id", int) == 2**63 - 1
    for value in (2**63, -(2**63) - 1, 2**70):
        with pytest.raises(CommandError) as refused:
            require({"activity_id": value}, "activity_id", int)
        assert refused.value.code == "invalid"
