"""`program.watch`: how this viewer watches the stage, and the signed address of the live program.

    program.watch {activity_id} -> {tier, live, front_row: {limit, taken}, url?, expires_at?}

`tier` is "webrtc" for whoever may go on stage or moderate it (the presenter, hosts, experts, the
organizer, a teacher called up): they see and answer the stage with no delay; and for the front row
(the first `front_row` attendees to ask, `sessions.program.front_row`). Everyone else is on the
`program` tier, whether the program is on (`live`) or not yet (the lobby; a live stage's first seconds:
the program is on once every rung has a whole segment; a media node taking over): real time is
bounded by the front row always, so a national audience never turns into thousands of WebRTC peers
of the relay, not even while the program starts. `url` is the program's multivariant playlist under a
key signed for this viewer (`collab.auth.signed.program_key`), relative to the server's origin, handed
out before the program is on too: the room's `program` push then only says on or off, and nobody asks
again (ten thousand asks at one push were a join storm of their own). Front-row viewers get it too,
for when they leave their seat.

`stage.watch` asks `admit` first: an attendee off the stage without a seat is refused `front_row_full`
and watches the program.
"""

from __future__ import annotations

import time
from typing import Any

from collab import policy
from collab.auth import signed
from collab.errors import DomainError
from collab.realtime.dispatch import Context, Registry
from sessions.program.programs import Programs
from sessions.room import in_room
from sessions.stage import seat


def _on_stage_side(ctx: Context, acc, stage_seat) -> bool:
    """May go on stage or moderate it: they watch in real time whatever the front row holds."""
    return policy.allowed(ctx.actor, "stage.publish", stage_seat) or policy.allowed(ctx.actor, "stage.manage", acc)


async def _watch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        stage_seat = await seat(ctx, db, activity, acc)
    programs = ctx.services.get(Programs)
    live = await programs.on_air(activity.id, wait=2.0)
    real_time = _on_stage_side(ctx, acc, stage_seat) or await _seat(ctx, programs, activity)
    out: dict[str, Any] = {"tier": "webrtc" if real_time else "program", "live": live,
                           "front_row": {"limit": activity.front_row,
                                         "taken": await programs.front_row.taken(activity.id)}}
    if policy.allowed(ctx.actor, "program.watch", stage_seat):
        expires_at = int(time.time()) + signed.PROGRAM_TTL
        key = signed.program_key(ctx.services.settings.secret, activity.id, ctx.actor.user_id, expires_at)
        out["url"] = f"/live/{activity.id}/k/{key}/index.m3u8"
        out["expires_at"] = expires_at
    return out


async def _seat(ctx: Context, programs: Programs, activity) -> bool:
    """A front-row seat for this socket, held until it closes; False when the row is full."""
    front_row = programs.front_row
    if front_row.holds(activity.id, ctx.client):
        return True
    if not await front_row.take(activity.id, ctx.client, activity.front_row):
        return False
    ctx.client.when_closed(lambda: programs.spawn(front_row.release(activity.id, ctx.client)))
    return True


async def admit(ctx: Context, activity, acc) -> None:
    """Before `stage.watch`: real time is for the stage's side and the front row."""
    programs = ctx.services.get(Programs)
    async with ctx.services.sessionmaker() as db:
        stage_seat = await seat(ctx, db, activity, acc)
    if not _on_stage_side(ctx, acc, stage_seat) and not await _seat(ctx, programs, activity):
        raise DomainError("front_row_full", "the front row is full: watch the program")


def register(registry: Registry) -> None:
    registry.add("program.watch", _watch)
