"""Live reactions (applause, likes): ephemeral, so they skip the database, and aggregated: each node
publishes what it received in the last second as one event of counts, never one event per tap.
Clients add the counts of the events they receive (each node's event is its own share)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter, defaultdict
from typing import Any

from collab.realtime.dispatch import CommandError, Context, Registry, require
from sessions.room import channel_of, in_room

KINDS = ("like", "clap", "heart", "laugh", "think")
INTERVAL = 1.0


class Reactions:
    def __init__(self) -> None:
        self._counts: dict[int, Counter[str]] = defaultdict(Counter)
        self._task: asyncio.Task | None = None

    async def react(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        activity_id = require(args, "activity_id", int)
        kind = args.get("kind")
        if kind not in KINDS:
            raise CommandError("invalid", f"kind is one of {', '.join(KINDS)}")
        async with ctx.services.sessionmaker() as db:  # a tap reads the node's room cache, not the database
            activity, acc = await in_room(ctx, args, db)
        if activity.state != "live":
            raise CommandError("forbidden", "reactions are for attendees of a live activity")
        self._counts[activity_id][kind] += 1
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
