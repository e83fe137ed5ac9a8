"""`program.watch`: how this viewer watches the stage, and the signed address of the live program.

    program.watch {activity_id} -> {tier, live, url?, expires_at?}

`tier` is "webrtc" for whoever may go on stage or moderate it (the presenter, hosts, experts, the
organizer, a teacher called up): they see and answer the stage with no delay. Everyone else watches
the `program` while one is made, and the stage over WebRTC while none is (a single node without
Redis, the first seconds of a live activity). `url` is the program's multivariant playlist under a key
signed for this viewer (`collab.auth.signed.program_key`), relative to the server's origin.
"""

from __future__ import annotations

import time
from typing import Any

from collab import policy
from collab.auth import signed
from collab.realtime.dispatch import Context, Registry
from sessions.program.programs import Programs
from sessions.room import in_room
from sessions.stage import seat


async def _watch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        stage_seat = await seat(ctx, db, activity, acc)
    on_stage_side = (policy.allowed(ctx.actor, "stage.publish", stage_seat)
                     or policy.allowed(ctx.actor, "stage.manage", acc))
    live = await ctx.services.get(Programs).source(activity.id, wait=2.0) is not None
    out: dict[str, Any] = {"tier": "program" if live and not on_stage_side else "webrtc", "live": live}
    if live and policy.allowed(ctx.actor, "program.watch", stage_seat):
        expires_at = int(time.time()) + signed.PROGRAM_TTL
        key = signed.program_key(ctx.services.settings.secret, activity.id, ctx.actor.user_id, expires_at)
        out["url"] = f"/live/{activity.id}/k/{key}/index.m3u8"
        out["expires_at"] = expires_at
    return out


def register(registry: Registry) -> None:
    registry.add("program.watch", _watch)
