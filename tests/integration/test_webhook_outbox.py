"""The outbox on SQLite and PostgreSQL: an event is stored with the change it reports and not without
it (a transaction that fails at commit leaves neither), and two nodes finalizing one activity's
attendance at the same moment report it once."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from collab.settings import Settings
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import User, WebhookEvent
from collab.webhooks import outbox
from sessions.attendance_final import Finalizer
from sessions.records import Activity, AttendanceInterval, Registration


@pytest.fixture(scope="module")
async def sessionmaker(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def an_activity(sm, organizer: int, **fields) -> int:
    now = datetime.now(timezone.utc)
    async with sm() as db:
        a = Activity(title="课例研讨", level="city", time_zone="Asia/Shanghai", starts_at=now - timedelta(hours=1),
                     ends_at=now, capacity=100, visibility="registered", registration="open",
                     organizer_id=organizer, **fields)
        db.add(a)
        await db.commit()
        return a.id


async def events(sm, type_: str) -> list[dict]:
    async with sm() as db:
        rows = (await db.execute(select(WebhookEvent.payload).where(WebhookEvent.type == type_)
                                 .order_by(WebhookEvent.id))).scalars()
        return [json.loads(p) for p in rows]


async def test_an_event_is_stored_with_its_change_and_not_without_it(sessionmaker, users):
    aid = await an_activity(sessionmaker, users["org1"][0])
    teacher = users["teacher1"][0]
    async with sessionmaker() as db:
        db.add(Registration(activity_id=aid, user_id=teacher, status="approved"))
        outbox.record(db, "registration.decided", {"activity_id": aid, "user_id": teacher, "status": "approved"})
        await db.commit()
    # The same registration again: the commit fails on the key, and takes its event with it.
    async with sessionmaker() as db:
        db.add(Registration(activity_id=aid, user_id=teacher, status="rejected"))
        outbox.record(db, "registration.decided", {"activity_id": aid, "user_id": teacher, "status": "rejected"})
        with pytest.raises(IntegrityError):
            await db.commit()
        await db.rollback()
    # A change given up before its commit tells nothing either.
    async with sessionmaker() as db:
        (await db.get(Activity, aid)).state = "cancelled"
        outbox.record(db, "activity.cancelled", {"id": aid})
        await db.rollback()
    told = [e["data"] for e in await events(sessionmaker, "registration.decided") if e["data"]["activity_id"] == aid]
    assert told == [{"activity_id": aid, "user_id": teacher, "status": "approved"}]
    assert not [e for e in await events(sessionmaker, "activity.cancelled") if e["data"]["id"] == aid]
    async with sessionmaker() as db:
        assert (await db.get(Activity, aid)).state == "scheduled"


async def test_two_nodes_finalizing_one_activity_at_once_report_it_once(sessionmaker, users):
    now = datetime.now(timezone.utc)
    aid = await an_activity(sessionmaker, users["org1"][0], state="ended", started_at=now - timedelta(minutes=50),
                            ended_at=now - timedelta(minutes=2))
    live = await an_activity(sessionmaker, users["org1"][0], state="live", started_at=now - timedelta(minutes=5))
    recent = await an_activity(sessionmaker, users["org1"][0], state="ended", started_at=now - timedelta(minutes=5),
                               ended_at=now - timedelta(seconds=10))
    async with sessionmaker() as db:  # a teacher who signed in through the provincial platform's login
        provincial = User(display_name="王老师", role="teacher", idp_issuer="https://idp.zj.example",
                          idp_subject="zj-330102-0042")
        db.add(provincial)
        await db.commit()
    ids = {**{who: users[who][0] for who in ("teacher1", "teacher2", "org1")}, "provincial": provincial.id}
    async with sessionmaker() as db:
        for who, minutes in (("teacher1", 45), ("teacher2", 10), ("org1", 48), ("provincial", 50)):
            db.add(AttendanceInterval(activity_id=aid, user_id=ids[who], node_id="n1",
                                      joined_at=now - timedelta(minutes=50), last_seen=now - timedelta(minutes=50 - minutes),
                                      left_at=now - timedelta(minutes=50 - minutes)))
        await db.commit()
    settings = Settings(credit_ratio=0.75, webhook_page_size=1, attendance_settle_seconds=65, node_id="n1")
    nodes = [Finalizer(SimpleNamespace(settings=settings, sessionmaker=sessionmaker)) for _ in range(2)]
    won = await asyncio.gather(*(n.finalize(aid) for n in nodes))
    assert sorted(won) == [False, True]
    assert await nodes[0].finalize(aid) is False  # and never again
    assert await nodes[1].finalize_due() == []  # a live one, and one that ended 10 s ago, are not due yet
    pages = [e["data"] for e in await events(sessionmaker, "attendance.finalized") if e["data"]["activity"]["id"] == aid]
    assert [(p["page"], p["pages"]) for p in pages] == [(1, 3), (2, 3), (3, 3)]  # three teachers, a page each
    told = {t["user_id"]: t for p in pages for t in p["attendees"]}
    assert told[users["teacher1"][0]]["minutes"] == 45.0 and told[users["teacher1"][0]]["credited"] is True
    assert told[users["teacher2"][0]]["minutes"] == 10.0 and told[users["teacher2"][0]]["credited"] is False
    assert told[users["teacher2"][0]]["external_id"] is None  # a local account: no identity provider's id
    assert told[provincial.id]["external_id"] == "zj-330102-0042" and told[provincial.id]["name"] == "王老师"
    assert [(s["user_id"], s["role"], s["credited"]) for s in pages[0]["staff"]] == [(users["org1"][0], "organizer", None)]
    async with sessionmaker() as db:
        stamped = {a.id: a.attendance_finalized_at for a in (await db.execute(
            select(Activity).where(Activity.id.in_((aid, live, recent))))).scalars()}
        assert stamped[aid] is not None and stamped[live] is None and stamped[recent] is None
        assert (await db.execute(select(func.count()).select_from(WebhookEvent)
                                 .where(WebhookEvent.type == "attendance.finalized"))).scalar_one() == 3


async def test_old_events_are_forgotten_unless_a_delivery_still_waits(sessionmaker, users):
    from collab.realtime.memory_bus import MemoryBus
    from collab.store.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
    from collab.webhooks.deliverer import Deliverer

    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    async with sessionmaker() as db:
        endpoint = WebhookEndpoint(url="https://tms.example.org/", event_types=["*"], description="", enabled=True,
                                   secret="whsec_" + "A" * 32, created_at=long_ago)
        db.add(endpoint)
        rows = {name: outbox.record(db, "activity.ended", {"name": name}, at) for name, at in (
            ("delivered", long_ago), ("waiting", long_ago), ("recent", datetime.now(timezone.utc)))}
        for row in rows.values():
            row.fanned_out = True
        await db.flush()
        done = WebhookDelivery(event_id=rows["delivered"].id, endpoint_id=endpoint.id, status="succeeded",
                               attempts=1, created_at=long_ago)
        db.add_all([done, WebhookDelivery(event_id=rows["waiting"].id, endpoint_id=endpoint.id, status="pending",
                                          attempts=3, next_attempt_at=long_ago, created_at=long_ago)])
        await db.flush()
        db.add(WebhookAttempt(delivery_id=done.id, at=long_ago, node_id="n1", status_code=204, error="",
                              response="", duration_ms=3))
        await db.commit()
    deliverer = Deliverer(Settings(node_id="n1", webhook_retention_days=30), sessionmaker, MemoryBus("n1"))
    assert await deliverer.prune() == 1
    async with sessionmaker() as db:
        kept = set((await db.execute(select(WebhookEvent.msg_id))).scalars())
        assert rows["delivered"].msg_id not in kept and {rows["waiting"].msg_id, rows["recent"].msg_id} <= kept
        assert (await db.execute(select(func.count()).select_from(WebhookAttempt))).scalar_one() == 0
