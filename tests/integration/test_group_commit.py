"""Upvotes and poll answers go to the database in group commits (`sessions.batches`). On SQLite and
PostgreSQL: a storm of concurrent commands becomes few transactions, every teacher still gets their own
answer (counted, already voted, closed, not found), and the stored counts equal the stored rows."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from collab.errors import DomainError
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import User
from sessions.batches import Batcher
from sessions.polls import write_answers
from sessions.qa import write_votes
from sessions.records import Activity, Poll, PollAnswer, Question, QuestionVote

TEACHERS = 120


@pytest.fixture(scope="module")
async def room(database_url):
    engine = make_engine(database_url)
    maker = make_sessionmaker(engine)
    now = datetime.now(timezone.utc)
    async with maker() as db:
        await db.execute(insert(User), [{"username": f"gc{i}", "display_name": f"T{i}", "role": "teacher",
                                         "password_hash": None} for i in range(TEACHERS + 1)])
        ids = list((await db.execute(select(User.id).where(User.username.like("gc%")).order_by(User.id))).scalars())
        a = Activity(title="t", level="school", time_zone="Asia/Shanghai", starts_at=now, ends_at=now + timedelta(hours=1), capacity=1000,
                     visibility="public", registration="open", state="live", organizer_id=ids[0])
        db.add(a)
        await db.flush()
        other = Activity(title="o", level="school", time_zone="Asia/Shanghai", starts_at=now, ends_at=now + timedelta(hours=1), capacity=10,
                         visibility="public", registration="open", state="live", organizer_id=ids[0])
        db.add(other)
        await db.flush()
        open_q = Question(activity_id=a.id, user_id=ids[1], body="open", status="open", votes=0)
        closed_q = Question(activity_id=a.id, user_id=ids[1], body="dismissed", status="dismissed", votes=0)
        poll = Poll(activity_id=a.id, question="p", options=["x", "y", "z"], multiple=False, anonymous=True,
                    status="open", created_by=ids[0])
        closed_poll = Poll(activity_id=a.id, question="c", options=["x", "y"], multiple=False, anonymous=True,
                           status="closed", created_by=ids[0])
        db.add_all([open_q, closed_q, poll, closed_poll])
        await db.commit()
        out = {"activity": a.id, "other": other.id, "teachers": ids[1:], "open_q": open_q.id,
               "closed_q": closed_q.id, "poll": poll.id, "closed_poll": closed_poll.id}
    yield maker, out
    await engine.dispose()


async def _storm(batcher: Batcher, items: list) -> list:
    async def one(item):
        try:
            return await batcher.submit(item)
        except DomainError as exc:
            return exc.code
    return await asyncio.gather(*(one(i) for i in items))


async def test_a_storm_of_upvotes_is_few_transactions_and_counts_stay_exact(room):
    maker, r = room

    async def write(items):
        async with maker() as db:
            return await write_votes(db, items)

    batcher = Batcher(write)
    aid, q, teachers = r["activity"], r["open_q"], r["teachers"]
    items = [(aid, q, t) for t in teachers]
    items += [(aid, q, teachers[0]), (aid, q, teachers[1])]  # a double click, in the same storm
    items += [(aid, r["closed_q"], teachers[2]), (aid, 999_999, teachers[3]), (r["other"], q, teachers[4])]
    out = await _storm(batcher, items)

    assert all(isinstance(v, int) for v in out[:TEACHERS])
    assert max(out[:TEACHERS]) == TEACHERS
    assert out[TEACHERS:] == ["already_voted", "already_voted", "question_closed", "not_found", "not_found"]
    assert batcher.batches < len(items) / 10
    async with maker() as db:
        stored = (await db.execute(select(Question.votes).where(Question.id == q))).scalar_one()
        rows = (await db.execute(select(func.count()).select_from(QuestionVote)
                                 .where(QuestionVote.question_id == q))).scalar_one()
        assert stored == rows == TEACHERS
    # a vote from the earlier storm, sent again later on its own: refused, nothing counted twice
    assert await _storm(batcher, [(aid, q, teachers[5])]) == ["already_voted"]


async def test_a_storm_of_poll_answers_keeps_each_teachers_last_answer(room):
    maker, r = room

    async def write(items):
        async with maker() as db:
            return await write_answers(db, items)

    batcher = Batcher(write)
    aid, p, teachers = r["activity"], r["poll"], r["teachers"]
    items = [(aid, p, t, [i % 3]) for i, t in enumerate(teachers)]
    items += [(aid, p, teachers[0], [2])]  # changes their mind within the same storm
    items += [(aid, p, teachers[1], [0, 1]), (aid, p, teachers[2], [7]), (aid, r["closed_poll"], teachers[3], [0]),
              (r["other"], p, teachers[4], [0])]
    out = await _storm(batcher, items)
    assert out[TEACHERS] == [2]
    assert out[TEACHERS + 1:] == ["invalid", "invalid", "poll_closed", "not_found"]
    assert batcher.batches < len(items) / 10
    async with maker() as db:
        stored = dict((await db.execute(select(PollAnswer.user_id, PollAnswer.choices)
                                        .where(PollAnswer.poll_id == p))).all())
    assert len(stored) == TEACHERS
    assert stored[teachers[0]] == [2] and stored[teachers[1]] == [1] and stored[teachers[2]] == [2]


async def test_several_nodes_batches_on_the_same_questions_never_deadlock(room):
    """Each node has its own batcher: their transactions vote on the same questions at the same time.
    Locking the questions shared and then updating them deadlocked two such batches on PostgreSQL
    (one failed `internal`); locked for update, in id order, they wait for each other instead."""
    maker, r = room
    async with maker() as db:
        extra = Question(activity_id=r["activity"], user_id=r["teachers"][0], body="second", status="open", votes=0)
        db.add(extra)
        await db.commit()
        questions = [r["open_q"], extra.id]
    teachers = r["teachers"]

    async def batch(round_: int, node: int):
        voter = teachers[(round_ * 8 + node) % len(teachers)]
        order = list(reversed(questions)) if node % 2 else questions  # batches list them in any order
        items = [(r["activity"], q, voter) for q in order]
        async with maker() as db:
            return await write_votes(db, items)

    for round_ in range(12):
        await asyncio.gather(*(batch(round_, node) for node in range(8)))  # raises on a deadlock
    async with maker() as db:
        for q in questions:
            stored = (await db.execute(select(Question.votes).where(Question.id == q))).scalar_one()
            rows = (await db.execute(select(func.count()).select_from(QuestionVote)
                                     .where(QuestionVote.question_id == q))).scalar_one()
            assert stored == rows
