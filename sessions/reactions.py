"""Live reactions (applause, likes): ephemeral, so they skip the database, and aggregated: each node
publishes what it received in the last second as one event of counts, never one event per tap.
Clients add the counts of the events they receive (each node's event is its own share)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter, defaultdict
from typing import Any

from collab.errors import DomainError
from collab.realtime.dispatch import Context, Registry, require
from sessions.room import channel_of, load

KINDS = ("like", "clap", "heart", "laugh", "think")
INTERVAL = 1.0


# -- rules (no I/O) ---------------------------------------------------------------------------------


def check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise DomainError("invalid", f"kind is one of {', '.join(KINDS)}")
    return kind


def decide_reaction(state: str) -> None:
    """Reactions are for a live activity: in the lobby or afterwards there is nothing to react to."""
    if state != "live":
        raise DomainError("forbidden", "reactions are for attendees of a live activity")


# -- edges ------------------------------------------------------------------------------------------


class Reactions:
    def __init__(self) -> None:
        self._counts: dict[int, Counter[str]] = defaultdict(Counter)
        self._task: asyncio.Task | None = None

    async def react(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        activity_id = require(args, "activity_id", int)
        kind = check_kind(args.get("kind"))
        async with ctx.services.sessionmaker() as db:  # a tap reads the node's room cache, not the database
            scene = await load(ctx, db, args)
        decide_reaction(scene.room.state)
        self._counts[activity_id][kind] += 1  # nothing to record; published as counts, once a second
        if self._task is None or self._task.done():
            services = ctx.services
            self._task = asyncio.get_running_loop().create_task(self._publish(services))
        return {}

    async def _publish(self, services) -> None:
        await asyncio.sleep(INTERVAL)
        counts, self._counts = self._counts, defaultdict(Counter)
        for activity_id, c in counts.items():
            await services.hub.publish(channel_of(activity_id), {
                # a random id: a restarted node counting from 1 again would repeat ids that open pages already saw
                "type": "reactions", "id": f"reactions:{secrets.token_hex(8)}", "counts": dict(c)})


def register(registry: Registry) -> None:
    registry.add("react", Reactions().react)
