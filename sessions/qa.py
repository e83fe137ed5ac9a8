"""Moderated Q&A at national scale: teachers ask and upvote (one vote each, retractable); experts
answer in text or mark "answered live", spotlight one question for everyone, dismiss, and may hold new
questions for approval. Votes are written in group commits (`sessions.batches`) and published as totals at most once a
second (`sessions.tallies`), so ten thousand upvotes become neither ten thousand transactions nor ten
thousand broadcasts.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, select, update

from collab import policy
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.store.models import User
from sessions.batches import Batcher, upsert
from sessions.records import Question, QuestionVote, aware
from sessions.room import (
    channel_of,
    current_phase,
    in_room,
    moderation_channel_of,
    record_event,
    row,
)
from sessions.room_cache import RoomView
from sessions.tallies import Tally

MAX_QUESTION = 300
MAX_ANSWER = 2000


# -- rules (no I/O) ---------------------------------------------------------------------------------


def check_ask(state: str, questions_open: bool, staff: bool, body: object, approval: bool) -> tuple[str, str]:
    if not isinstance(body, str) or not body.strip():
        raise CommandError("invalid", "a question needs some text")
    body = body.strip()
    if len(body) > MAX_QUESTION:
        raise CommandError("invalid", f"a question has at most {MAX_QUESTION} characters")
    if state not in ("lobby", "live"):
        raise CommandError("questions_closed", "questions open when the activity does")
    if not (questions_open or staff):
        raise CommandError("questions_closed", "questions are closed during this phase")
    return body, ("pending" if approval and not staff else "open")


def ordered(questions: list[Question], sort: str) -> list[Question]:
    """Spotlight first; then by votes (ties: older first) or by time."""
    if sort == "votes":
        key = lambda q: (not q.spotlight, -q.votes, q.id)  # noqa: E731
    else:
        key = lambda q: (not q.spotlight, q.id)  # noqa: E731
    return sorted(questions, key=key)


# -- edges ------------------------------------------------------------------------------------------


def question_json(q: Question, name: str) -> dict[str, Any]:
    return {"id": q.id, "user": {"id": q.user_id, "name": name}, "body": q.body, "status": q.status,
            "answer": q.answer, "answered_live": q.answered_live, "votes": q.votes, "spotlight": q.spotlight,
            "at": aware(q.created_at).isoformat()}


class QA:
    def __init__(self) -> None:
        self.tally: Tally | None = None
        self.votes: Batcher | None = None

    def tally_for(self, ctx: Context) -> Tally:
        if self.tally is None:
            services = ctx.services

            async def load(activity_id: int, keys: set[int]) -> dict:
                async with services.sessionmaker() as db:
                    rows = await db.execute(select(Question.id, Question.votes).where(Question.id.in_(keys)))
                    return {"type": "qa_votes", "id": f"qa-votes:{secrets.token_hex(8)}",
                            "votes": {str(i): v for i, v in rows.all()}}

            async def publish(activity_id: int, event: dict) -> None:
                await services.hub.publish(channel_of(activity_id), event)

            self.tally = Tally(load, publish)
        return self.tally

    async def ask(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        async with ctx.services.sessionmaker() as db:
            activity, acc = await in_room(ctx, args, db)
            staff = bool(acc.staff) or policy.allowed(ctx.actor, "activity.moderate", acc)
            phase = current_phase(activity)
            body, status = check_ask(activity.state, phase.questions if phase else True, staff, args.get("body"),
                                     activity.qa_approval)
            q = Question(activity_id=activity.id, user_id=ctx.actor.user_id, body=body, status=status,
                         answered_live=False, votes=0, spotlight=False, created_at=datetime.now(timezone.utc))
            db.add(q)
            await db.commit()
        data = question_json(q, ctx.actor.name)
        channel = channel_of(activity.id) if status == "open" else moderation_channel_of(activity.id)
        offset = await ctx.services.hub.publish(channel, {
            "type": "question" if status == "open" else "question_pending", "id": f"question:{q.id}", "question": data})
        return {"question": data, "offset": offset}  # as chat.post: where the event went (null: bus down)

    async def vote(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        up = args.get("up", True)
        if not isinstance(up, bool):
            raise CommandError("invalid", "up must be true or false")
        question_id = require(args, "question_id", int)
        async with ctx.services.sessionmaker() as db:
            activity, _ = await in_room(ctx, args, db)
        if up:
            votes = await self.votes_for(ctx).submit((activity.id, question_id, ctx.actor.user_id))
        else:
            votes = await self._retract(ctx, activity, question_id)
        self.tally_for(ctx).mark(activity.id, question_id)
        return {"question_id": question_id, "votes": votes, "voted": up}

    def votes_for(self, ctx: Context) -> Batcher:
        if self.votes is None:
            sessionmaker = ctx.services.sessionmaker

            async def write(items: list[tuple[int, int, int]]) -> list:
                async with sessionmaker() as db:
                    return await write_votes(db, items)

            self.votes = Batcher(write)
        return self.votes

    async def _retract(self, ctx: Context, activity: RoomView, question_id: int) -> int:
        async with ctx.services.sessionmaker() as db:
            q = await self._question(db, activity, {"question_id": question_id})
            if q.status != "open":
                raise CommandError("question_closed", "only open questions take votes")
            gone = await db.execute(delete(QuestionVote).where(
                QuestionVote.question_id == q.id, QuestionVote.user_id == ctx.actor.user_id))
            if gone.rowcount == 0:
                raise CommandError("invalid", "you have not voted for this question")
            votes = (await db.execute(update(Question).where(Question.id == q.id)
                                      .values(votes=Question.votes - 1).returning(Question.votes))).scalar_one()
            await db.commit()
            return votes

    async def _question(self, db, activity: RoomView, args: dict[str, Any]) -> Question:
        question_id = require(args, "question_id", int)
        q = await db.get(Question, question_id)
        if q is None or q.activity_id != activity.id:
            raise CommandError("not_found", "no such question in this activity")
        return q

    def moderation(self, change, needs_question: bool = True):
        async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
            async with ctx.services.sessionmaker() as db:
                activity, _ = await in_room(ctx, args, db, "activity.moderate")
                q = await self._question(db, activity, args) if needs_question else None
                event = await change(ctx, db, activity, q, args)
                return await record_event(ctx, db, activity.id, event, desk=True)

        return handle

    async def list(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        sort = args.get("sort", "votes")
        if sort not in ("votes", "time"):
            raise CommandError("invalid", "sort is votes or time")
        async with ctx.services.sessionmaker() as db:
            activity, acc = await in_room(ctx, args, db)
            statuses = ["open", "answered"]
            if args.get("pending") is True:
                policy.authorize(ctx.actor, "activity.moderate", acc)
                statuses = ["pending"]
            return {"questions": await top_questions(db, activity.id, sort, statuses)}


async def top_questions(db, activity_id: int, sort: str = "votes", statuses=("open", "answered"),
                        limit: int = 50) -> list[dict[str, Any]]:
    rows = (await db.execute(select(Question, User.display_name).join(User, User.id == Question.user_id)
                             .where(Question.activity_id == activity_id, Question.status.in_(statuses)))).all()
    names = {q.id: n for q, n in rows}
    return [question_json(q, names[q.id]) for q in ordered([q for q, _ in rows], sort)[:limit]]


async def _answer(ctx, db, activity, q: Question, args) -> dict[str, Any]:
    live = args.get("live", False)
    text = args.get("text")
    if not isinstance(live, bool) or (text is not None and not isinstance(text, str)):
        raise CommandError("invalid", "answer with text, or live: true")
    if not live and not (text and text.strip()):
        raise CommandError("invalid", "answer with text, or mark it answered live")
    if text and len(text) > MAX_ANSWER:
        raise CommandError("invalid", f"an answer has at most {MAX_ANSWER} characters")
    if q.status not in ("open", "answered"):
        raise CommandError("invalid", "that question is not open")
    q.status, q.answered_live, q.answer = "answered", live, (text.strip() if text else None)
    q.answered_by, q.answered_at = ctx.actor.user_id, datetime.now(timezone.utc)
    return {"type": "question_answered", "question_id": q.id, "answer": q.answer, "live": live}


async def _spotlight(ctx, db, activity, q: Question, args) -> dict[str, Any]:
    if q.status not in ("open", "answered"):
        raise CommandError("invalid", "only a visible question can be spotlit")
    await db.execute(update(Question).where(Question.activity_id == activity.id, Question.spotlight)
                     .values(spotlight=False).execution_options(synchronize_session=False))
    q.spotlight = True
    return {"type": "question_spotlight", "question_id": q.id}


async def _spotlight_off(ctx, db, activity, q, args) -> dict[str, Any]:
    await db.execute(update(Question).where(Question.activity_id == activity.id, Question.spotlight)
                     .values(spotlight=False).execution_options(synchronize_session=False))
    return {"type": "question_spotlight", "question_id": None}


async def _dismiss(ctx, db, activity, q: Question, args) -> dict[str, Any]:
    q.status, q.spotlight = "dismissed", False
    return {"type": "question_dismissed", "question_id": q.id}


async def _approve(ctx, db, activity, q: Question, args) -> dict[str, Any]:
    if q.status != "pending":
        raise CommandError("invalid", "that question is not waiting for approval")
    q.status = "open"
    author = await db.get(User, q.user_id)
    return {"type": "question", "question": question_json(q, author.display_name if author else "")}


async def _approval(ctx, db, activity: RoomView, q, args) -> dict[str, Any]:
    on = args.get("on")
    if not isinstance(on, bool):
        raise CommandError("invalid", "on must be true or false")
    (await row(db, activity)).qa_approval = on
    return {"type": "qa_approval", "on": on}


async def write_votes(db, items: list[tuple[int, int, int]]) -> list:
    """Upvotes (activity, question, teacher) in one transaction: each vote row and its question's count
    change together, so the count cannot drift; a second vote by the same teacher finds the key taken.
    Returns each item's question total after the batch, or the error that item earns."""
    wanted = {q for _, q, _ in items}
    questions = {i: (a, s) for i, a, s in (await db.execute(
        select(Question.id, Question.activity_id, Question.status).where(Question.id.in_(wanted))
        .with_for_update(read=True))).all()}  # a dismissal on another node waits for this batch
    outcomes: list = [None] * len(items)
    fresh: dict[tuple[int, int], int] = {}
    for k, (activity_id, question_id, user_id) in enumerate(items):
        found = questions.get(question_id)
        if found is None or found[0] != activity_id:
            outcomes[k] = CommandError("not_found", "no such question in this activity")
        elif found[1] != "open":
            outcomes[k] = CommandError("question_closed", "only open questions take votes")
        elif (question_id, user_id) in fresh:
            outcomes[k] = CommandError("already_voted", "one vote per teacher")
        else:
            fresh[(question_id, user_id)] = k
    if fresh:
        stmt = upsert(db, QuestionVote).on_conflict_do_nothing(index_elements=["question_id", "user_id"])
        stored = set((await db.execute(stmt.returning(QuestionVote.question_id, QuestionVote.user_id),
                                       [{"question_id": q, "user_id": u} for q, u in fresh])).all())
        totals = {}
        for question_id, n in Counter(q for q, _ in stored).items():
            totals[question_id] = (await db.execute(
                update(Question).where(Question.id == question_id).values(votes=Question.votes + n)
                .returning(Question.votes))).scalar_one()
        await db.commit()
        for key, k in fresh.items():
            outcomes[k] = totals[key[0]] if key in stored else CommandError("already_voted", "one vote per teacher")
    return outcomes


def register(registry: Registry) -> None:
    qa = QA()
    registry.add("qa.ask", qa.ask)
    registry.add("qa.vote", qa.vote)
    registry.add("qa.list", qa.list)
    registry.add("qa.answer", qa.moderation(_answer))
    registry.add("qa.spotlight", qa.moderation(_spotlight))
    registry.add("qa.spotlight_off", qa.moderation(_spotlight_off, needs_question=False))
    registry.add("qa.dismiss", qa.moderation(_dismiss))
    registry.add("qa.approve", qa.moderation(_approve))
    registry.add("qa.approval", qa.moderation(_approval, needs_question=False))
