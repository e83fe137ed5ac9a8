"""Polls: single or multiple choice, optionally anonymous. Experts open and close them and decide when
results are shown. Answers are written in group commits (`sessions.batches`); counts travel as totals
at most once a second per node (`sessions.tallies`): to the moderators' desk always, to the room once
results are shown.

Every command takes the road of `sessions.room` (load, decide, record, publish); the rules are
`sessions.voting`'s.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update

from collab import policy
from collab.realtime.dispatch import Context, Registry, require
from collab.store.models import User
from sessions import voting
from sessions.batches import Batcher, upsert
from sessions.records import Poll, PollAnswer
from sessions.room import channel_of, current_phase, load, moderation_channel_of, publish, record
from sessions.tallies import Tally


def poll_json(p: Poll) -> dict[str, Any]:
    return {"id": p.id, "question": p.question, "options": p.options, "multiple": p.multiple,
            "anonymous": p.anonymous, "status": p.status, "results_shown": p.results_shown}


def asked(p: Poll | None) -> voting.Asked | None:
    return p and voting.Asked(p.id, p.activity_id, p.status, len(p.options), p.multiple, p.results_shown,
                              p.anonymous)


async def results(db, poll: Poll) -> dict[str, Any]:
    answers = list((await db.execute(select(PollAnswer.choices).where(PollAnswer.poll_id == poll.id))).scalars())
    return {"poll_id": poll.id, **voting.count(len(poll.options), answers)}


async def current_poll(db, activity_id: int) -> dict[str, Any] | None:
    """The newest poll still open (or closed with results shown), for a late joiner's snapshot."""
    poll = (await db.execute(select(Poll).where(Poll.activity_id == activity_id).order_by(Poll.id.desc())
                             .limit(1))).scalar_one_or_none()
    if poll is None or poll.status == "closed" and not poll.results_shown:
        return None
    out = poll_json(poll)
    if poll.results_shown:
        out["results"] = await results(db, poll)
    return out


def _poll_facts(args: dict[str, Any]):
    def facts(activity_id: int):
        poll_id = require(args, "poll_id", int)
        return select(Poll).where(Poll.id == poll_id, Poll.activity_id == activity_id)
    return facts


class Polls:
    def __init__(self) -> None:
        self.tally: Tally | None = None
        self.answers: Batcher | None = None

    def tally_for(self, ctx: Context) -> Tally:
        if self.tally is None:
            services = ctx.services

            async def load_counts(activity_id: int, keys: set[int]) -> dict:
                async with services.sessionmaker() as db:
                    polls = [await db.get(Poll, k) for k in keys]
                    return {"type": "poll_counts", "id": f"poll-counts:{secrets.token_hex(8)}", "polls": [
                        {**await results(db, p), "shown": p.results_shown} for p in polls if p]}

            async def publish_counts(activity_id: int, event: dict) -> None:
                await services.hub.publish(moderation_channel_of(activity_id), event)
                shown = [p for p in event["polls"] if p["shown"]]
                if shown:
                    await services.hub.publish(channel_of(activity_id), {**event, "polls": shown})

            self.tally = Tally(load_counts, publish_counts)
        return self.tally

    async def create(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        question, options, multiple, anonymous = voting.parse_poll(args)
        async with ctx.services.sessionmaker() as db:
            scene = await load(ctx, db, args, authorize="activity.moderate")
            phase = current_phase(scene.room)
            voting.decide_open(scene.room.state, bool(phase and phase.polls))
            poll = Poll(activity_id=scene.room.id, question=question, options=options, multiple=multiple,
                        anonymous=anonymous, status="open", results_shown=False, created_by=ctx.actor.user_id)
            db.add(poll)
            await db.flush()  # its id, for the event
            out = await record(ctx, db, scene.room.id, event={"type": "poll_opened", "poll": poll_json(poll)})
        await publish(ctx, scene.room.id, out)
        return out

    async def answer(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        poll_id = require(args, "poll_id", int)
        async with ctx.services.sessionmaker() as db:  # load: the room cache (no query when warm)
            scene = await load(ctx, db, args)
        # decide and record with the batch, in write_answers; publish: the counts, within a second
        choices = await self.answers_for(ctx).submit((scene.room.id, poll_id, ctx.actor.user_id, args.get("choices")))
        self.tally_for(ctx).mark(scene.room.id, poll_id)
        return {"poll_id": poll_id, "choices": choices}

    def answers_for(self, ctx: Context) -> Batcher:
        if self.answers is None:
            sessionmaker = ctx.services.sessionmaker

            async def write(items: list[tuple[int, int, int, Any]]) -> list:
                async with sessionmaker() as db:
                    return await write_answers(db, items)

            self.answers = Batcher(write)
        return self.answers

    def moderation(self, decide):
        """Close, show or hide results: `decide(poll, args)` returns a `voting.Change`."""

        async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
            async with ctx.services.sessionmaker() as db:
                scene = await load(ctx, db, args, authorize="activity.moderate", facts=_poll_facts(args))
                poll = scene.facts and scene.facts[0]
                change = decide(asked(poll), args)
                # the poll's new state first: it holds the answers' batches back, so the counts are final
                await db.execute(update(Poll).where(Poll.id == poll.id).values(**change.changes))
                event = change.event
                if change.with_results:
                    event = {**event, "results": await results(db, poll)}
                out = await record(ctx, db, scene.room.id, event=event)
            await publish(ctx, scene.room.id, out)
            return out

        return handle

    async def results(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        async with ctx.services.sessionmaker() as db:
            scene = await load(ctx, db, args, facts=_poll_facts(args))
            poll = scene.facts and scene.facts[0]
            names = voting.decide_results(asked(poll), policy.allowed(ctx.actor, "activity.moderate", scene.access))
            out = {"poll": poll_json(poll), **await results(db, poll)}
            if names:
                rows = await db.execute(select(PollAnswer.choices, User.id, User.display_name)
                                        .join(User, User.id == PollAnswer.user_id).where(PollAnswer.poll_id == poll.id))
                out["answers"] = [{"user": {"id": i, "name": n}, "choices": c} for c, i, n in rows.all()]
            return out


async def write_answers(db, items: list[tuple[int, int, int, Any]]) -> list:
    """Answers (activity, poll, teacher, choices) in one transaction; a teacher's later answer replaces
    the earlier one (also within the batch). Returns each item's stored choices or its error.

    Load (the polls, one statement), decide (`voting.decide_answers`), record (one statement)."""
    wanted = {p for _, p, _, _ in items}
    polls = {p.id: asked(p) for p in (await db.execute(
        select(Poll).where(Poll.id.in_(wanted)).with_for_update(read=True))).scalars()}  # a close waits
    outcomes, latest = voting.decide_answers(polls, items)
    if latest:
        stmt = upsert(db, PollAnswer)
        stmt = stmt.on_conflict_do_update(index_elements=["poll_id", "user_id"], set_={"choices": stmt.excluded.choices})
        await db.execute(stmt, [{"poll_id": p, "user_id": u, "choices": c} for (p, u), c in latest.items()])
        await db.commit()
    return outcomes


def register(registry: Registry) -> None:
    polls = Polls()
    registry.add("poll.create", polls.create)
    registry.add("poll.answer", polls.answer)
    registry.add("poll.results", polls.results)
    registry.add("poll.close", polls.moderation(lambda poll, args: voting.decide_close(poll, datetime.now(timezone.utc))))
    registry.add("poll.show_results", polls.moderation(lambda poll, args: voting.decide_show(poll, args.get("on", True))))
