"""Polls: single or multiple choice, optionally anonymous. Experts open and close them and decide when
results are shown. Answers are written in group commits (`sessions.batches`); counts travel as totals at most once a second per
node (`sessions.tallies`): to the moderators' desk always, to the room once results are shown.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from collab import policy
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.store.models import User
from sessions.batches import Batcher, upsert
from sessions.records import Poll, PollAnswer
from sessions.room import (
    channel_of,
    current_phase,
    in_room,
    moderation_channel_of,
    record_event,
)
from sessions.tallies import Tally

MAX_OPTIONS = 10


# -- rules (no I/O) ---------------------------------------------------------------------------------


def parse_poll(args: dict[str, Any]) -> tuple[str, list[str], bool, bool]:
    question, options = args.get("question"), args.get("options")
    if not isinstance(question, str) or not question.strip() or len(question) > 300:
        raise CommandError("invalid", "question: 1 to 300 characters")
    if (not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS
            or not all(isinstance(o, str) and o.strip() and len(o) <= 100 for o in options)):
        raise CommandError("invalid", f"options: 2 to {MAX_OPTIONS} texts of at most 100 characters")
    multiple, anonymous = args.get("multiple", False), args.get("anonymous", True)
    if not isinstance(multiple, bool) or not isinstance(anonymous, bool):
        raise CommandError("invalid", "multiple and anonymous are true or false")
    return question.strip(), [o.strip() for o in options], multiple, anonymous


def check_choices(choices: object, n_options: int, multiple: bool) -> list[int]:
    if (not isinstance(choices, list) or not choices
            or not all(type(c) is int and 0 <= c < n_options for c in choices) or len(set(choices)) != len(choices)):
        raise CommandError("invalid", f"choices: a list of option numbers from 0 to {n_options - 1}")
    if not multiple and len(choices) != 1:
        raise CommandError("invalid", "this poll takes one choice")
    return sorted(choices)


def count(n_options: int, answers: list[list[int]]) -> dict[str, Any]:
    c = Counter(i for choices in answers for i in choices)
    return {"counts": [c.get(i, 0) for i in range(n_options)], "voters": len(answers)}


# -- edges ------------------------------------------------------------------------------------------


def poll_json(p: Poll) -> dict[str, Any]:
    return {"id": p.id, "question": p.question, "options": p.options, "multiple": p.multiple,
            "anonymous": p.anonymous, "status": p.status, "results_shown": p.results_shown}


async def results(db, poll: Poll) -> dict[str, Any]:
    answers = list((await db.execute(select(PollAnswer.choices).where(PollAnswer.poll_id == poll.id))).scalars())
    return {"poll_id": poll.id, **count(len(poll.options), answers)}


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


class Polls:
    def __init__(self) -> None:
        self.tally: Tally | None = None
        self.answers: Batcher | None = None

    def tally_for(self, ctx: Context) -> Tally:
        if self.tally is None:
            services = ctx.services

            async def load(activity_id: int, keys: set[int]) -> dict:
                async with services.sessionmaker() as db:
                    polls = [await db.get(Poll, k) for k in keys]
                    return {"type": "poll_counts", "id": f"poll-counts:{secrets.token_hex(8)}", "polls": [
                        {**await results(db, p), "shown": p.results_shown} for p in polls if p]}

            async def publish(activity_id: int, event: dict) -> None:
                await services.hub.publish(moderation_channel_of(activity_id), event)
                shown = [p for p in event["polls"] if p["shown"]]
                if shown:
                    await services.hub.publish(channel_of(activity_id), {**event, "polls": shown})

            self.tally = Tally(load, publish)
        return self.tally

    async def _poll(self, db, activity, args) -> Poll:
        poll_id = require(args, "poll_id", int)
        poll = await db.get(Poll, poll_id)
        if poll is None or poll.activity_id != activity.id:
            raise CommandError("not_found", "no such poll in this activity")
        return poll

    async def create(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        question, options, multiple, anonymous = parse_poll(args)
        async with ctx.services.sessionmaker() as db:
            activity, _ = await in_room(ctx, args, db, "activity.moderate")
            phase = current_phase(activity)
            if activity.state != "live" or not (phase and phase.polls):
                raise CommandError("polls_closed", "polls run in a live phase that allows them")
            poll = Poll(activity_id=activity.id, question=question, options=options, multiple=multiple,
                        anonymous=anonymous, status="open", results_shown=False, created_by=ctx.actor.user_id)
            db.add(poll)
            await db.flush()
            return await record_event(ctx, db, activity.id, {"type": "poll_opened", "poll": poll_json(poll)})

    async def answer(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        poll_id = require(args, "poll_id", int)
        async with ctx.services.sessionmaker() as db:
            activity, _ = await in_room(ctx, args, db)
        choices = await self.answers_for(ctx).submit((activity.id, poll_id, ctx.actor.user_id, args.get("choices")))
        self.tally_for(ctx).mark(activity.id, poll_id)
        return {"poll_id": poll_id, "choices": choices}

    def answers_for(self, ctx: Context) -> Batcher:
        if self.answers is None:
            sessionmaker = ctx.services.sessionmaker

            async def write(items: list[tuple[int, int, int, Any]]) -> list:
                async with sessionmaker() as db:
                    return await write_answers(db, items)

            self.answers = Batcher(write)
        return self.answers

    def moderation(self, change):
        async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
            async with ctx.services.sessionmaker() as db:
                activity, _ = await in_room(ctx, args, db, "activity.moderate")
                poll = await self._poll(db, activity, args)
                event = change(poll, args)
                if poll.results_shown or poll.status == "closed":
                    event["results"] = await results(db, poll)
                return await record_event(ctx, db, activity.id, event)

        return handle

    async def results(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        async with ctx.services.sessionmaker() as db:
            activity, acc = await in_room(ctx, args, db)
            poll = await self._poll(db, activity, args)
            if not poll.results_shown:
                policy.authorize(ctx.actor, "activity.moderate", acc)
            out = {"poll": poll_json(poll), **await results(db, poll)}
            if not poll.anonymous and policy.allowed(ctx.actor, "activity.moderate", acc):
                rows = await db.execute(select(PollAnswer.choices, User.id, User.display_name)
                                        .join(User, User.id == PollAnswer.user_id).where(PollAnswer.poll_id == poll.id))
                out["answers"] = [{"user": {"id": i, "name": n}, "choices": c} for c, i, n in rows.all()]
            return out


def _close(poll: Poll, args) -> dict[str, Any]:
    if poll.status == "closed":
        raise CommandError("poll_closed", "already closed")
    poll.status, poll.closed_at = "closed", datetime.now(timezone.utc)
    return {"type": "poll_closed", "poll_id": poll.id}


def _show(poll: Poll, args) -> dict[str, Any]:
    on = args.get("on", True)
    if not isinstance(on, bool):
        raise CommandError("invalid", "on must be true or false")
    poll.results_shown = on
    return {"type": "poll_results_shown" if on else "poll_results_hidden", "poll_id": poll.id}


async def write_answers(db, items: list[tuple[int, int, int, Any]]) -> list:
    """Answers (activity, poll, teacher, choices) in one transaction; a teacher's later answer replaces
    the earlier one (also within the batch). Returns each item's stored choices or its error."""
    wanted = {p for _, p, _, _ in items}
    polls = {p.id: p for p in (await db.execute(
        select(Poll).where(Poll.id.in_(wanted)).with_for_update(read=True))).scalars()}  # a close waits
    outcomes: list = [None] * len(items)
    latest: dict[tuple[int, int], list[int]] = {}
    for k, (activity_id, poll_id, user_id, raw) in enumerate(items):
        poll = polls.get(poll_id)
        if poll is None or poll.activity_id != activity_id:
            outcomes[k] = CommandError("not_found", "no such poll in this activity")
        elif poll.status != "open":
            outcomes[k] = CommandError("poll_closed", "this poll is closed")
        else:
            try:
                outcomes[k] = latest[(poll_id, user_id)] = check_choices(raw, len(poll.options), poll.multiple)
            except CommandError as exc:
                outcomes[k] = exc
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
    registry.add("poll.close", polls.moderation(_close))
    registry.add("poll.show_results", polls.moderation(_show))
