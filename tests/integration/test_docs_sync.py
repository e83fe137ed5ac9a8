"""Lesson-prep documents over `/ws/docs/{id}`: two server processes over real Redis and PostgreSQL,
Python y-websocket clients (pycrdt) editing at once; roles; tickets; bad input; a node killed mid-edit;
awareness withdrawn when a node dies."""

from __future__ import annotations

import asyncio

import pytest

import harness
from collab.docs import store, sync, tickets
from collab.docs.template import CONTENT
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from studio_seed import new_doc, seed_studio
from yclient import TicketDenied, YClient, fetch_ticket


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    seed = await seed_studio(url)
    a = harness.Server(url, redis_url, name="docs-a").start(wait=False)
    b = harness.Server(url, redis_url, name="docs-b").start(wait=False)
    strict = harness.Server(url, redis_url, name="docs-strict", doc_message_burst=30, doc_message_rate=5,
                            doc_max_message_bytes=8192, doc_idle_seconds=1).start(wait=False)
    for n in (a, b, strict):
        n.wait()
    yield {"url": url, "a": a, "b": b, "strict": strict, **seed}
    for n in (a, b, strict):
        n.cleanup()
    await harness.drop_pg_database(url)


def doc_url(node, doc_id) -> str:
    return f"ws://127.0.0.1:{node.port}/ws/docs/{doc_id}"


async def stored_text(url: str, doc_id: int) -> str:
    from pycrdt import Doc, Text

    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        s = await store.load(db, doc_id)
    await engine.dispose()
    doc = Doc()
    doc.apply_update(store.merge_state(s.snapshot, s.updates))
    return str(doc.get(CONTENT, type=Text))


async def client(world, node, who, doc_id, **kw) -> YClient:
    return await YClient(doc_url(world[node], doc_id), world["users"][who][1]).open(**kw)


async def test_two_members_on_two_nodes_edit_at_once_and_converge(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    lead = await client(world, "a", "leader", doc_id)
    mem = await client(world, "b", "member", doc_id)
    assert lead.content.startswith("函数的概念\n教学目标") and lead.content == mem.content
    # concurrent typing: neither waits for the other
    for i in range(20):
        await lead.insert(0, f"L{i} ")
        await mem.append(f" M{i}")
    await lead.until(lambda c: c.content == mem.content and "M19" in c.content and "L19" in c.content)
    await mem.until(lambda c: c.content == lead.content)
    assert lead.content.startswith("L19 L18") and lead.content.endswith(" M18 M19")
    await asyncio.sleep(0.3)
    assert await stored_text(world["url"], doc_id) == lead.content  # what is stored is what they see
    late = await client(world, "b", "co_leader", doc_id)  # a latecomer loads it whole
    assert late.content == lead.content
    for c in (lead, mem, late):
        await c.close()


async def test_awareness_travels_between_nodes_and_is_withdrawn_on_leave(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    a = await client(world, "a", "leader", doc_id)
    await a.say({"user": {"name": "Leader", "color": "#c33"}, "cursor": {"anchor": 3, "head": 7}})
    await asyncio.sleep(0.2)
    # the first socket on node B, where the document was not open: it sees who is already there
    b = await client(world, "b", "member", doc_id)
    await b.until(lambda c: any(s and s.get("user", {}).get("name") == "Leader" for s in c.awareness.values()))
    late = await client(world, "b", "observer", doc_id)  # someone arriving sees who is there
    await late.until(lambda c: any(s and s["user"]["name"] == "Leader" for s in c.awareness.values()))
    await a.close()
    await b.until(lambda c: c.awareness.get(a.doc.client_id, "x") is None)
    for c in (b, late):
        await c.close()


async def test_observers_read_along_but_their_edits_are_refused(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    obs = await client(world, "a", "observer", doc_id)
    mem = await client(world, "b", "member", doc_id)
    await obs.insert(0, "观察员的修改 ")
    await obs.until(lambda c: c.denials)
    assert "observers can read" in obs.denials[0]
    await mem.append(" 成员的修改")
    await obs.until(lambda c: c.content.endswith("成员的修改"))  # still connected, still following
    await asyncio.sleep(0.3)
    stored = await stored_text(world["url"], doc_id)
    assert "观察员的修改" not in stored and "观察员的修改" not in mem.content
    for c in (obs, mem):
        await c.close()


async def test_outsiders_and_bad_tokens_are_refused_before_any_document_data(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    out = await client(world, "a", "outsider", doc_id, wait_synced=False)  # a ticket, but no role here
    assert await out.closed() == 4003 and out.frames_in == 0
    forged_token = world["users"]["leader"][1][:-4] + "AAAA"
    with pytest.raises(TicketDenied) as denied:  # no ticket for a forged sign-in token
        await fetch_ticket(doc_url(world["a"], doc_id), forged_token)
    assert (denied.value.status, denied.value.code) == (401, "token_signature")
    anon = await YClient(doc_url(world["a"], doc_id), None).open(wait_synced=False)
    assert await anon.closed() == 4001 and anon.close_reason == "ticket_missing" and anon.frames_in == 0
    missing = await client(world, "a", "leader", 999_999, wait_synced=False)
    assert await missing.closed() == 4004 and missing.frames_in == 0


async def refused(world, node, doc_id, ticket) -> tuple[int | None, str, int]:
    c = await YClient(doc_url(world[node], doc_id), None, ticket=ticket).open(wait_synced=False)
    code = await c.closed()
    return code, c.close_reason, c.frames_in


async def test_a_ticket_opens_one_socket_once_on_any_node_and_is_refused_with_4011_after(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    other = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    member_id, token = world["users"]["member"]
    ticket = await fetch_ticket(doc_url(world["a"], doc_id), token)
    c = await YClient(doc_url(world["a"], doc_id), None, ticket=ticket).open()
    assert c.content.startswith("函数的概念")
    # the same ticket again, on the other node and on the same one: used
    assert await refused(world, "b", doc_id, ticket) == (4011, "ticket_used", 0)
    assert await refused(world, "a", doc_id, ticket) == (4011, "ticket_used", 0)
    # a fresh ticket is for its own document only
    for_other = await fetch_ticket(doc_url(world["a"], other), token)
    assert await refused(world, "b", doc_id, for_other) == (4011, "ticket_wrong_document", 0)
    # expired (signed with the servers' secret, so only its time is wrong), forged, garbage
    expired = tickets.issue(harness.SECRET, member_id, doc_id, ttl=-1)
    assert await refused(world, "a", doc_id, expired) == (4011, "ticket_expired", 0)
    forged = tickets.issue("another secret", member_id, doc_id, ttl=30)
    assert await refused(world, "a", doc_id, forged) == (4011, "ticket_invalid", 0)
    assert await refused(world, "b", doc_id, "not-a-ticket") == (4011, "ticket_invalid", 0)
    # a ticket is the user's: it opens the socket as them, with their role (an observer reads)
    obs = await YClient(doc_url(world["b"], doc_id), world["users"]["observer"][1]).open()
    await obs.insert(0, "观察员")
    await obs.until(lambda x: x.denials)
    for x in (c, obs):
        await x.close()


async def test_the_deprecated_url_token_still_opens_a_socket(world):
    """`?token=` as before tickets: a page loaded before the release reconnects that way."""
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    c = await YClient(doc_url(world["a"], doc_id), world["users"]["member"][1], url_token=True).open()
    assert c.content.startswith("函数的概念")
    await c.close()
    forged = YClient(doc_url(world["a"], doc_id), world["users"]["member"][1][:-4] + "AAAA", url_token=True)
    await forged.open(wait_synced=False)
    assert await forged.closed() == 4001 and forged.close_reason == "token_signature" and forged.frames_in == 0


async def test_bad_input_is_refused_and_the_stored_document_is_never_damaged(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    good = await client(world, "strict", "leader", doc_id)
    await good.append(" 正常内容")
    await asyncio.sleep(0.3)
    before = await stored_text(world["url"], doc_id)

    cases = [
        (sync.update(b"\x05\xff\xfe garbage that is not a yjs update"), 4002),  # malformed update
        (b"\x00\x02\x7f", 4002),  # length prefix longer than the frame
        (b"\x09", 4002),  # unknown message type
        (sync.update(b"\x00\x00") + b"trailing", 4002),
        (sync.awareness(b"\x01\x05\x01\x03{x}"), 4002),  # awareness state that is not JSON
        ("a text frame", 4002),
        (sync.update(b"\x00" * 10_000), 4009),  # over this node's 8 KB limit
    ]
    for frame, code in cases:
        bad = await client(world, "strict", "member", doc_id)
        await bad.send_raw(frame)
        assert await bad.closed() == code, (frame[:20], bad.close_reason)
    flood = await client(world, "strict", "member", doc_id)
    try:
        for _ in range(200):
            await flood.say({"n": 1})
    except Exception:
        pass
    assert await flood.closed() == 4029

    # the well-behaved client kept its connection and the document is as it was
    await good.append(" 之后")
    await asyncio.sleep(0.3)
    assert await stored_text(world["url"], doc_id) == before + " 之后"
    await good.close()


async def test_a_node_killed_mid_edit_loses_and_duplicates_nothing(world, redis_url):
    url = world["url"]
    doc_id = await new_doc(url, world["studio"], world["users"]["leader"][0], template=False)
    victim = harness.Server(url, redis_url, name="docs-victim").start()
    try:
        writer = await YClient(doc_url(victim, doc_id), world["users"]["member"][1]).open()
        reader = await client(world, "b", "leader", doc_id)
        for i in range(50):
            await writer.append(f"{i:02d},")
        victim.kill()  # some of those may not be stored yet
        await writer.closed()
        # the provider reconnects (here: to the surviving node) and re-syncs from its own copy
        again = YClient(doc_url(world["b"], doc_id), world["users"]["member"][1])
        again.doc.apply_update(writer.doc.get_update())
        await again.open()
        expected = "".join(f"{i:02d}," for i in range(50))
        await reader.until(lambda c: c.content == expected)
        await asyncio.sleep(0.3)
        assert await stored_text(url, doc_id) == expected  # every edit once, none twice
        for c in (again, reader):
            await c.close()
    finally:
        victim.cleanup()


async def test_a_restore_and_a_comment_reach_open_editors_on_every_node(world):
    import httpx

    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    a = await client(world, "a", "member", doc_id)
    b = await client(world, "b", "observer", doc_id)
    auth = {"Authorization": f"Bearer {world['users']['member'][1]}"}
    async with httpx.AsyncClient(base_url=world["a"].url) as http:
        v = (await http.post(f"/api/docs/{doc_id}/versions", json={"name": "模板"}, headers=auth)).json()
        saved = a.content
        await a.edit(lambda t: t.__delitem__(slice(0, len(t))))  # someone empties it
        await a.insert(0, "全新内容\n")
        await b.until(lambda c: c.content == "全新内容\n")
        r = await http.post(f"/api/docs/{doc_id}/versions/{v['id']}/restore", headers=auth)
        assert r.status_code == 200
        await b.until(lambda c: c.content == saved)  # an observer on the other node sees the restore
        await a.until(lambda c: c.content == saved)
        start = saved.index("教学重点")
        r = await http.post(f"/api/docs/{doc_id}/comments", json={"start": start, "end": start + 4, "body": "难点?"},
                            headers=auth)
        assert r.status_code == 201, r.text
        mark = f"comment_{r.json()['id']}"
        await b.until(lambda c: any(attrs and attrs.get(mark) for _, attrs in c.text.diff()))
        await a.insert(0, "插入在前面 ")  # the anchor moves with the text
        threads = (await http.get(f"/api/docs/{doc_id}/comments", headers=auth)).json()["threads"]
    moved = len("插入在前面 ")
    assert threads[0]["range"] == {"start": start + moved, "end": start + moved + 4}
    for c in (a, b):
        await c.close()


async def test_many_edits_are_compacted_and_reload_the_same(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0], template=False)
    a = await client(world, "a", "member", doc_id)
    for i in range(450):
        await a.append(f"{i % 10}")
        await asyncio.sleep(0.005)  # keystrokes apart, so each is its own stored row
    engine = make_engine(world["url"])
    for _ in range(100):  # compaction runs after the writes, later on a busy machine
        await asyncio.sleep(0.1)
        async with make_sessionmaker(engine)() as db:
            s = await store.load(db, doc_id)
            stored = await store.stored_bytes(db, doc_id)
        if (s.snapshot and len(s.updates) < store.COMPACT_ROWS and stored <= 2 * len(a.doc.get_update()) + 4096
                and await stored_text(world["url"], doc_id) == a.content):
            break
    await engine.dispose()
    assert s.snapshot and len(s.updates) < store.COMPACT_ROWS  # compaction ran
    assert stored <= 2 * len(a.doc.get_update()) + 4096
    assert await stored_text(world["url"], doc_id) == a.content == "".join(str(i % 10) for i in range(450))
    await a.close()


async def test_studio_channel_posts_reach_members_on_the_other_node(world):
    sid = world["studio"]
    users = world["users"]
    reader = await harness.WsClient(world["b"].ws_url).open(users["observer"][1])
    await reader.ok("subscribe", channel=f"studio:{sid}")
    writer = await harness.WsClient(world["a"].ws_url).open(users["member"][1])
    await writer.ok("studio.post", studio_id=sid, body="明天下午集体备课 <b>")
    push = await reader.push()
    assert push["e"]["type"] == "post" and push["e"]["post"]["body"] == "明天下午集体备课 <b>"
    assert (await writer.call("studio.post", studio_id=sid, body="x", kind="announcement"))["error"]["code"] == "forbidden"
    lead = await harness.WsClient(world["a"].ws_url).open(users["leader"][1])
    await lead.ok("studio.post", studio_id=sid, body="通知：周五教研", kind="announcement")
    assert (await reader.push())["e"]["post"]["kind"] == "announcement"
    assert (await reader.call("studio.post", studio_id=sid, body="observer"))["error"]["code"] == "forbidden"
    outsider = await harness.WsClient(world["b"].ws_url).open(users["outsider"][1])
    assert (await outsider.call("subscribe", channel=f"studio:{sid}"))["error"]["code"] == "forbidden"
    assert (await outsider.call("subscribe", channel="docsync:1"))["error"]["code"] == "forbidden"
    for c in (reader, writer, lead, outsider):
        await c.close()


# -- convergence under generated concurrent edits ----------------------------------------------------
# Hypothesis runs in a worker thread (it is synchronous); each example is played on the test's event
# loop against the two real nodes: three editors, two on node A and one on node B, fire their edits
# without waiting for each other; all must end with the same text, and the stored document too.

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EDIT = st.tuples(
    st.integers(0, 2),  # which editor
    st.sampled_from(["insert", "delete", "format"]),
    st.floats(0, 1),  # where, as a share of the editor's current text
    st.text(alphabet="ab中文😀 \n", min_size=1, max_size=4),
    st.integers(1, 3),  # how much to delete or format
)


async def _play(world, edits) -> None:
    from collab.docs.text import utf16_len, utf16_to_bytes

    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0], template=False)
    editors = [await client(world, node, who, doc_id)
               for node, who in (("a", "leader"), ("a", "member"), ("b", "co_leader"))]
    for who, op, where, text, n in edits:
        e = editors[who]
        s = e.content
        pos = int(where * utf16_len(s))
        b0 = utf16_to_bytes(s, pos)
        b1 = utf16_to_bytes(s, min(utf16_len(s), pos + n))
        if op == "insert":
            await e.insert(b0, text)
        elif b1 > b0 and op == "delete":
            await e.edit(lambda t, b0=b0, b1=b1: t.__delitem__(slice(b0, b1)))
        elif b1 > b0:
            await e.edit(lambda t, b0=b0, b1=b1: t.format(b0, b1, {"bold": True}))
    first = editors[0]
    for e in editors[1:]:
        await e.until(lambda c: c.content == first.content and c.text.diff() == first.text.diff(), timeout=15)
        await first.until(lambda c: c.content == e.content, timeout=15)
    await asyncio.sleep(0.3)
    assert await stored_text(world["url"], doc_id) == first.content
    for e in editors:
        await e.close()


async def test_concurrent_generated_edits_converge_on_both_nodes_and_in_storage(world):
    loop = asyncio.get_running_loop()

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(EDIT, min_size=1, max_size=25))
    def property_(edits):
        asyncio.run_coroutine_threadsafe(_play(world, edits), loop).result(60)

    await asyncio.to_thread(property_)


async def test_an_idle_document_leaves_memory_and_comes_back_whole(world):
    import httpx

    def open_docs(text: str) -> float:
        return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith("collab_docs_open "))

    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    c = await client(world, "strict", "member", doc_id)
    await c.append(" 最后一句")
    expected = c.content
    async with httpx.AsyncClient(base_url=world["strict"].ops_url) as http:  # the node's internal port
        assert open_docs((await http.get("/metrics")).text) >= 1
        await c.close()
        for _ in range(50):
            if open_docs((await http.get("/metrics")).text) == 0:
                break
            await asyncio.sleep(0.1)
        assert open_docs((await http.get("/metrics")).text) == 0
    again = await client(world, "strict", "observer", doc_id)
    assert again.content == expected
    await again.close()


async def test_deleting_a_document_closes_its_editors_on_every_node(world):
    import httpx

    doc_id = await new_doc(world["url"], world["studio"], world["users"]["member"][0])
    a = await client(world, "a", "leader", doc_id)
    b = await client(world, "b", "observer", doc_id)
    auth = lambda who: {"Authorization": f"Bearer {world['users'][who][1]}"}  # noqa: E731
    async with httpx.AsyncClient(base_url=world["a"].url) as http:
        assert (await http.delete(f"/api/docs/{doc_id}", headers=auth("observer"))).status_code == 403
        assert (await http.delete(f"/api/docs/{doc_id}", headers=auth("co_leader"))).status_code == 204
        assert (await http.get(f"/api/docs/{doc_id}", headers=auth("leader"))).status_code == 404
    assert await a.closed() == 4004 and await b.closed() == 4004
    again = await client(world, "b", "leader", doc_id, wait_synced=False)
    assert await again.closed() == 4004


async def test_an_echoed_awareness_state_is_not_passed_on_again(world):
    """Stock y-websocket sends back every state it receives; the server passes on only news (a higher
    clock), so one cursor move is one frame for each other socket, not one per pair of editors."""
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    mover = await client(world, "a", "leader", doc_id)
    echoer = await client(world, "b", "member", doc_id)
    watcher = await client(world, "a", "observer", doc_id)
    cid = mover.doc.client_id
    await mover.say({"user": {"name": "Leader"}, "cursor": 1}, clock=1)
    await echoer.until(lambda c: cid in c.awareness)
    await echoer.say({"user": {"name": "Leader"}, "cursor": 1}, client_id=cid, clock=1)  # the echo
    await mover.say({"user": {"name": "Leader"}, "cursor": 2}, clock=2)
    await watcher.until(lambda c: (c.awareness.get(cid) or {}).get("cursor") == 2)
    await asyncio.sleep(0.3)
    assert [e.clock for e in watcher.awareness_log if e.client_id == cid] == [1, 2]
    # and the echo did not make the echoing socket its owner: when it leaves, the state stays
    await echoer.close()
    await asyncio.sleep(0.3)
    assert watcher.awareness[cid] == {"user": {"name": "Leader"}, "cursor": 2}
    for c in (mover, watcher):
        await c.close()


async def test_a_killed_nodes_states_are_withdrawn_and_a_returning_client_is_told_so(world, redis_url):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    victim = harness.Server(world["url"], redis_url, name="docs-victim-awareness").start()
    try:
        doomed = await YClient(doc_url(victim, doc_id), world["users"]["member"][1]).open()
        cid = doomed.doc.client_id
        await doomed.say({"user": {"name": "Member"}}, clock=7)
        a = await client(world, "a", "leader", doc_id)
        b = await client(world, "b", "observer", doc_id)
        for c in (a, b):
            await c.until(lambda c: cid in c.awareness)
        victim.kill()
        killed = asyncio.get_running_loop().time()
        for c in (a, b):
            await c.until(lambda c: c.awareness.get(cid, "present") is None, timeout=10)
        print(f"withdrawn {asyncio.get_running_loop().time() - killed:.2f} s after SIGKILL")
        assert [(e.clock, e.state) for e in a.awareness_log if e.client_id == cid][-1] == (8, "null")  # clock + 1
        # the client comes back on node A with its old clock: the others would ignore that, so A tells
        # it it was removed at 8 (y-protocols then announces itself at 9, as the Python client does here)
        back = YClient(doc_url(world["a"], doc_id), world["users"]["member"][1])
        await back.open()
        await back.say({"user": {"name": "Member"}}, client_id=cid, clock=7)
        await back.until(lambda c: any(e.client_id == cid and e.clock == 8 and e.state == "null"
                                       for e in c.awareness_log))
        await back.say({"user": {"name": "Member"}}, client_id=cid, clock=9)
        await b.until(lambda c: c.awareness.get(cid) == {"user": {"name": "Member"}})
        for c in (a, b, back):
            await c.close()
    finally:
        victim.cleanup()
