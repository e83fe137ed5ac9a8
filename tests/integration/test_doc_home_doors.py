"""Document homes on a real node, PostgreSQL and Redis: a studio's documents answer as they always did
(each role's rights, listing, deletion, comments), and a document whose home this node does not know is
no document to anyone (every route 404, the socket 4004 before any byte, the `doc:` channel refused).
Another part's kind of home cannot be registered inside a server process from here, so the unknown kind
stands for "its owner is gone"; what a registered kind answers is in tests/unit/test_doc_homes.py.
Also migration 0019: down to 0018 and back keeps every studio document."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pycrdt import Doc, Text
from sqlalchemy import select

import harness
from collab.docs import service, store, tickets
from collab.docs.rooms import DocRooms
from collab.docs.records import LessonDoc
from collab.docs.template import CONTENT, group_notes
from collab.realtime.hub import Hub
from collab.realtime.redis_bus import RedisBus
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from studio_seed import new_doc, seed_studio
from yclient import YClient

QUESTIONS = ["本节课的教学目标达成了吗？", "学生的参与度如何？"]


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    seed = await seed_studio(url)
    node = harness.Server(url, redis_url, name="homes").start()
    yield {"url": url, "node": node, "redis_url": redis_url, **seed}
    node.cleanup()
    await harness.drop_pg_database(url)


async def in_home(url: str, home: str, home_id: int, by: int) -> int:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        doc = await service.create_in_home(db, home, home_id, "第1组 研讨记录", by, group_notes("第1组 研讨记录", QUESTIONS))
        doc_id = doc.id
    await engine.dispose()
    return doc_id


async def stored_text(url: str, doc_id: int) -> str:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        s = await store.load(db, doc_id)
    await engine.dispose()
    doc = Doc()
    doc.apply_update(store.merge_state(s.snapshot, s.updates))
    return str(doc.get(CONTENT, type=Text))


def api(world, who: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=world["node"].url, timeout=10,
                             headers={"Authorization": f"Bearer {world['users'][who][1]}"})


def doc_url(world, doc_id: int) -> str:
    return f"ws://127.0.0.1:{world['node'].port}/ws/docs/{doc_id}"


async def test_a_document_of_an_unknown_home_is_no_document_to_anyone(world):
    leader_id = world["users"]["leader"][0]
    doc_id = await in_home(world["url"], "unit-nowhere", 41, leader_id)
    engine = make_engine(world["url"])
    async with make_sessionmaker(engine)() as db:  # stored as its home's, with the notes' template
        doc = (await db.execute(select(LessonDoc).where(LessonDoc.id == doc_id))).scalar_one()
        assert (doc.home, doc.home_id, doc.studio_id, doc.created_by) == ("unit-nowhere", 41, None, leader_id)
        y = Doc()
        y.apply_update(doc.snapshot)
        assert str(y.get(CONTENT, type=Text)).split("\n")[:3] == ["第1组 研讨记录", QUESTIONS[0], ""]
    await engine.dispose()

    for who in ("leader", "member", "outsider"):
        async with api(world, who) as http:
            for method, path in [("GET", ""), ("GET", "/export.md"), ("GET", "/versions"), ("GET", "/comments"),
                                 ("POST", "/versions"), ("POST", "/comments"), ("DELETE", "")]:
                body = {"name": "v", "body": "x", "start": 0, "end": 1} if method == "POST" else None
                r = await http.request(method, f"/api/docs/{doc_id}{path}", json=body)
                assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found"), (who, method, path, r.text)
            # the studio's listing lists its own documents only
            listed = (await http.get(f"/api/studios/{world['studio']}/docs")).json()
            assert who == "outsider" or doc_id not in [d["id"] for d in listed["documents"]]
        # a ticket is only a pass (as for any id); the socket says there is no such document, sending nothing
        c = await YClient(doc_url(world, doc_id), world["users"][who][1]).open(wait_synced=False)
        assert await c.closed() == 4004 and c.close_reason == "no such document" and c.frames_in == 0
    # a hand-made ticket and the deprecated ?token= fare no better
    c = await YClient(doc_url(world, doc_id), None,
                      ticket=tickets.issue(harness.SECRET, leader_id, doc_id, ttl=30)).open(wait_synced=False)
    assert await c.closed() == 4004 and c.frames_in == 0
    c = await YClient(doc_url(world, doc_id), world["users"]["leader"][1], url_token=True).open(wait_synced=False)
    assert await c.closed() == 4004 and c.frames_in == 0
    # nor may anyone follow its comments on /ws
    ws = await harness.WsClient(world["node"].ws_url).open(world["users"]["leader"][1])
    assert (await ws.call("subscribe", channel=f"doc:{doc_id}"))["error"]["code"] == "forbidden"
    await ws.close()


async def test_create_in_home_keeps_studio_documents_to_create(world):
    engine = make_engine(world["url"])
    async with make_sessionmaker(engine)() as db:
        with pytest.raises(ValueError):
            await service.create_in_home(db, "studio", world["studio"], "x", world["users"]["leader"][0], b"")
    await engine.dispose()


async def test_a_studio_document_gives_each_role_what_it_always_did(world):
    users = world["users"]
    doc_id = await new_doc(world["url"], world["studio"], users["member"][0])  # the member made it
    me = {}
    for who in ("leader", "co_leader", "member", "observer", "outsider"):
        async with api(world, who) as http:
            r = await http.get(f"/api/docs/{doc_id}")
            me[who] = r.json()["me"] if r.status_code == 200 else r.status_code
    assert me == {"leader": {"may_edit": True, "may_delete": True, "may_manage": True},
                  "co_leader": {"may_edit": True, "may_delete": True, "may_manage": True},
                  "member": {"may_edit": True, "may_delete": True, "may_manage": False},
                  "observer": {"may_edit": False, "may_delete": False, "may_manage": False},
                  "outsider": 403}
    # the socket: members edit, observers read, outsiders are closed with the studio's reason
    mem = await YClient(doc_url(world, doc_id), users["member"][1]).open()
    obs = await YClient(doc_url(world, doc_id), users["observer"][1]).open()
    await obs.insert(0, "观察员")
    await obs.until(lambda c: c.denials)
    await mem.append(" 成员补充")
    await obs.until(lambda c: c.content.endswith("成员补充"))
    out = await YClient(doc_url(world, doc_id), users["outsider"][1]).open(wait_synced=False)
    assert await out.closed() == 4003 and out.close_reason == "not a member of this studio" and out.frames_in == 0
    # comments: one's own, or the leaders' any
    async with api(world, "leader") as lead, api(world, "member") as member, api(world, "co_leader") as co:
        mine = (await member.post(f"/api/docs/{doc_id}/comments", json={"body": "成员的批注", "start": 0, "end": 2})).json()
        theirs = (await lead.post(f"/api/docs/{doc_id}/comments", json={"body": "组长的批注", "start": 0, "end": 2})).json()
        assert (await member.delete(f"/api/docs/{doc_id}/comments/{theirs['id']}")).status_code == 403
        assert (await co.delete(f"/api/docs/{doc_id}/comments/{mine['id']}")).status_code == 204
        assert (await lead.delete(f"/api/docs/{doc_id}/comments/{theirs['id']}")).status_code == 204
        listed = (await member.get(f"/api/studios/{world['studio']}/docs")).json()["documents"]
        assert doc_id in [d["id"] for d in listed] and all(d["studio_id"] == world["studio"] for d in listed)
        # deletion: the observer may not; its creator may, and open editors are closed with 4004
        async with api(world, "observer") as observer:
            assert (await observer.delete(f"/api/docs/{doc_id}")).status_code == 403
        assert (await member.delete(f"/api/docs/{doc_id}")).status_code == 204
    assert await mem.closed() == 4004 and await obs.closed() == 4004


async def test_the_owner_of_a_home_closes_its_document_sockets_everywhere_and_the_document_stays(world):
    """`DocRooms.close` as another part calls it when access ends for everyone: here from a second node
    of its own (this test process) over the same Redis, to sockets on the server."""
    users = world["users"]
    doc_id = await new_doc(world["url"], world["studio"], users["leader"][0])
    mem = await YClient(doc_url(world, doc_id), users["member"][1]).open()
    lead = await YClient(doc_url(world, doc_id), users["leader"][1]).open()
    await mem.append(" 最后一句")
    await lead.until(lambda c: c.content.endswith("最后一句"))
    hub = Hub(RedisBus(world["redis_url"], "homes-owner"))
    await hub.start()
    engine = make_engine(world["url"])
    try:
        owner = DocRooms(make_sessionmaker(engine), hub, "homes-owner")
        await owner.close(doc_id, 4003, "the activity ended")
        for c in (mem, lead):
            assert await c.closed() == 4003 and c.close_reason == "the activity ended"
    finally:
        await hub.stop()
        await engine.dispose()
    # unlike a deletion, the document stays, with what was typed, for whoever its home still lets in
    assert (await stored_text(world["url"], doc_id)).endswith("最后一句")
    again = await YClient(doc_url(world, doc_id), users["observer"][1]).open()
    assert again.content.endswith("最后一句")
    await again.close()


async def test_migration_0019_down_and_up_keeps_studio_documents():
    from alembic import command

    url = await harness.create_pg_database()
    try:
        await asyncio.to_thread(schema.upgrade, url)
        seed = await seed_studio(url)
        kept = await new_doc(url, seed["studio"], seed["users"]["leader"][0])
        gone = await in_home(url, "unit-nowhere", 7, seed["users"]["leader"][0])
        await asyncio.to_thread(command.downgrade, schema.alembic_config(url), "0018")
        engine = make_engine(url)
        async with engine.connect() as conn:
            ids = (await conn.exec_driver_sql("SELECT id FROM lesson_docs ORDER BY id")).scalars().all()
        await engine.dispose()
        assert kept in ids and gone not in ids  # a document with no studio has nowhere to be before 0019
        await asyncio.to_thread(schema.upgrade, url)
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as db:
            doc = await db.get(LessonDoc, kept)
            assert (doc.home, doc.home_id, doc.studio_id) == ("studio", None, seed["studio"])
        await engine.dispose()
    finally:
        await harness.drop_pg_database(url)
