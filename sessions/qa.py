"""Moderated Q&A at national scale: teachers ask and upvote (one vote each, retractable); experts
answer in text or mark "answered live", spotlight one question for everyone, dismiss, and may hold new
questions for approval. Votes are written in group commits (`sessions.batches`) and published as totals
at most once a second (`sessions.tallies`), so ten thousand upvotes become neither ten thousand
transactions nor ten thousand broadcasts.

Every command takes the road of `sessions.room` (load, decide, record, publish); the rules are
`sessions.questions`'.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import case, delete, exists, select, update

from collab import policy
from collab.errors import DomainError
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.store.models import User
from sessions import questions as rules
from sessions.batches import Batcher, upsert
from sessions.records import Activity, Question, QuestionVote, aware
from sessions.room import channel_of, current_phase, exempt, load, publish, record
from sessions.tallies import Tally


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

            async def load_totals(activity_id: int, keys: set[int]) -> dict:
                async with services.sessionmaker() as db:
                    rows = await db.execute(select(Question.id, Question.votes).where(Question.id.in_(keys)))
                    return {"type": "qa_votes", "id": f"qa-votes:{secrets.token_hex(8)}",
                            "votes": {str(i): v for i, v in rows.all()}}

            async def publish_totals(activity_id: int, event: dict) -> None:
                await services.hub.publish(channel_of(activity_id), event)

            self.tally = Tally(load_totals, publish_totals)
        return self.tally

    async def ask(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        async with ctx.services.sessionmaker() as db:
            scene = await load(ctx, db, args)
            activity = scene.room
            phase = current_phase(activity)
            body, status = rules.decide_ask(activity.state, phase.questions if phase else True, exempt(ctx, scene),
                                            args.get("body"), activity.qa_approval)
            q = Question(activity_id=activity.id, user_id=ctx.actor.user_id, body=body, status=status,
                         answered_live=False, votes=0, spotlight=False, created_at=datetime.now(timezone.utc))
            await record(ctx, db, activity.id, q)
        data = question_json(q, ctx.actor.name)
        event = {"type": "question" if status == "open" else "question_pending", "id": f"question:{q.id}",
                 "question": data}
        offset = await publish(ctx, activity.id, event, room=status == "open", desk=status != "open")
        return {"question": data, "offset": offset}  # as chat.post: where the event went (null: bus down)

    async def vote(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        up = args.get("up", True)
        if not isinstance(up, bool):
            raise CommandError("invalid", "up must be true or false")
        question_id = require(args, "question_id", int)
        if up:  # load (the room cache: no query when warm); decide, record: with the batch, in write_votes
            async with ctx.services.sessionmaker() as db:
                scene = await load(ctx, db, args)
            votes = await self.votes_for(ctx).submit((scene.room.id, question_id, ctx.actor.user_id))
        else:
            scene, votes = await self._retract(ctx, args, question_id)
        self.tally_for(ctx).mark(scene.room.id, question_id)  # publish: the total, within a second
        return {"question_id": question_id, "votes": votes, "voted": up}

    def votes_for(self, ctx: Context) -> Batcher:
        if self.votes is None:
            sessionmaker = ctx.services.sessionmaker

            async def write(items: list[tuple[int, int, int]]) -> list:
                async with sessionmaker() as db:
                    return await write_votes(db, items)

            self.votes = Batcher(write)
        return self.votes

    async def _retract(self, ctx: Context, args: dict[str, Any], question_id: int):
        user_id = ctx.actor.user_id
        async with ctx.services.sessionmaker() as db:
            scene = await load(ctx, db, args, facts=lambda a: select(
                select(Question.status).where(Question.id == question_id, Question.activity_id == a).scalar_subquery(),
                exists().where(QuestionVote.question_id == question_id, QuestionVote.user_id == user_id)))
            rules.decide_retract(*scene.facts)
            gone = await db.execute(delete(QuestionVote).where(
                QuestionVote.question_id == question_id, QuestionVote.user_id == user_id))
            if gone.rowcount == 0:  # taken back meanwhile, by the same teacher on another socket
                raise CommandError("invalid", "you have not voted for this question")
            votes = (await db.execute(update(Question).where(Question.id == question_id)
                                      .values(votes=Question.votes - 1).returning(Question.votes))).scalar_one()
            await record(ctx, db, scene.room.id)
            return scene, votes

    def moderation(self, decide, needs_question: bool = True):
        """Answer, spotlight, dismiss, approve: `decide(question, args, ctx)` returns a `questions.Change`."""

        async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
            async with ctx.services.sessionmaker() as db:
                scene = await load(ctx, db, args, authorize="activity.moderate",
                                   facts=_question_facts(args) if needs_question else None)
                q, author = scene.facts if scene.facts else (None, "")
                change = decide(q and rules.Asked(q.id, q.status), args, ctx)
                writes = [update(Question).where(Question.activity_id == scene.room.id, Question.spotlight)
                          .values(spotlight=False).execution_options(synchronize_session=False)
                          ] if change.clear_spotlight else []
                if change.changes:
                    writes.append(update(Question).where(Question.id == q.id).values(**change.changes)
                                  .execution_options(synchronize_session=False))
                event = change.event
                if event["type"] == "question":  # an approved question enters the room whole
                    event = {**event, "question": {**question_json(q, author), **change.changes}}
                out = await record(ctx, db, scene.room.id, *writes, event=event)
            await publish(ctx, scene.room.id, out, desk=True)
            return out

        return handle

    async def approval(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        async with ctx.services.sessionmaker() as db:
            scene = await load(ctx, db, args, authorize="activity.moderate")
            event = rules.decide_approval(args.get("on"))
            out = await record(ctx, db, scene.room.id,
                               update(Activity).where(Activity.id == scene.room.id).values(qa_approval=event["on"]),
                               event=event)
        await publish(ctx, scene.room.id, out, desk=True)
        return out

    async def list(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        sort = args.get("sort", "votes")
        if sort not in ("votes", "time"):
            raise CommandError("invalid", "sort is votes or time")
        async with ctx.services.sessionmaker() as db:
            scene = await load(ctx, db, args)
            statuses = list(rules.SHOWN)
            if args.get("pending") is True:
                policy.authorize(ctx.actor, "activity.moderate", scene.access)
                statuses = ["pending"]
            return {"questions": await top_questions(db, scene.room.id, sort, statuses)}


def _question_facts(args: dict[str, Any]):
    def facts(activity_id: int):
        question_id = require(args, "question_id", int)
        return (select(Question, User.display_name).join(User, User.id == Question.user_id)
                .where(Question.id == question_id, Question.activity_id == activity_id))
    return facts


async def top_questions(db, activity_id: int, sort: str = "votes", statuses=rules.SHOWN,
                        limit: int = 50) -> list[dict[str, Any]]:
    rows = (await db.execute(select(Question, User.display_name).join(User, User.id == Question.user_id)
                             .where(Question.activity_id == activity_id, Question.status.in_(statuses)))).all()
    names = {q.id: n for q, n in rows}
    return [question_json(q, names[q.id]) for q in rules.ordered([q for q, _ in rows], sort)[:limit]]


async def write_votes(db, items: list[tuple[int, int, int]]) -> list:
    """Upvotes (activity, question, teacher) in one transaction: each vote row and its question's count
    change together, so the count cannot drift; a second vote by the same teacher finds the key taken.
    Returns each item's question total after the batch, or the error that item earns.

    Load (the questions, one statement), decide (`questions.decide_votes`), record (the new votes, one
    statement; every count, one statement)."""
    wanted = {q for _, q, _ in items}
    found = {i: (a, s) for i, a, s in (await db.execute(
        select(Question.id, Question.activity_id, Question.status).where(Question.id.in_(wanted))
        .order_by(Question.id).with_for_update())).all()}
    # Locked for update, in id order: a dismissal, or another node's batch, waits for this one. Shared
    # locks let two nodes' batches both read and then both wait to update: a deadlock on PostgreSQL.
    outcomes, fresh = rules.decide_votes(found, items)
    if fresh:
        stmt = upsert(db, QuestionVote).on_conflict_do_nothing(index_elements=["question_id", "user_id"])
        stored = set((await db.execute(stmt.returning(QuestionVote.question_id, QuestionVote.user_id),
                                       [{"question_id": q, "user_id": u} for q, u in fresh])).all())
        added = Counter(q for q, _ in stored)
        totals = dict((await db.execute(
            update(Question).where(Question.id.in_(added))
            .values(votes=Question.votes + case(added, value=Question.id, else_=0))
            .returning(Question.id, Question.votes).execution_options(synchronize_session=False))).all()
        ) if added else {}
        await db.commit()
        for key, k in fresh.items():
            outcomes[k] = totals[key[0]] if key in stored else DomainError("already_voted", "one vote per teacher")
    return outcomes


def register(registry: Registry) -> None:
    qa = QA()
    registry.add("qa.ask", qa.ask)
    registry.add("qa.vote", qa.vote)
    registry.add("qa.list", qa.list)
    registry.add("qa.answer", qa.moderation(
        lambda q, args, ctx: rules.decide_answer(q, args.get("live", False), args.get("text"), ctx.actor.user_id,
                                                 datetime.now(timezone.utc))))
    registry.add("qa.spotlight", qa.moderation(lambda q, args, ctx: rules.decide_spotlight(q)))
    registry.add("qa.spotlight_off", qa.moderation(lambda q, args, ctx: rules.decide_spotlight_off(),
                                                   needs_question=False))
    registry.add("qa.dismiss", qa.moderation(lambda q, args, ctx: rules.decide_dismiss(q)))
    registry.add("qa.approve", qa.moderation(lambda q, args, ctx: rules.decide_approve(q)))
    registry.add("qa.approval", qa.approval)
