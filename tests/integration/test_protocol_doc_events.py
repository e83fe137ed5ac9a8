"""Studio and document pushes, as a member's open editor receives them, against docs/pushes.schema.json."""

from __future__ import annotations

import httpx
import pytest

import harness
from studio_seed import new_doc, seed_studio


@pytest.fixture(scope="module")
async def world(database_url):
    seeded = await seed_studio(database_url)
    s = harness.Server(database_url, name="doc-events").start()
    yield s, seeded
    s.cleanup()


async def test_studio_and_document_pushes_match_the_schema(world):
    server, seeded = world
    sid, users = seeded["studio"], seeded["users"]
    doc_id = await new_doc(server.database_url, sid, users["leader"][0])
    member = await harness.WsClient(server.ws_url).open(users["member"][1])
    leader = await harness.WsClient(server.ws_url).open(users["leader"][1])
    for channel in (f"studio:{sid}", f"doc:{doc_id}"):
        await member.ok("subscribe", channel=channel)
    auth = {"Authorization": f"Bearer {users['leader'][1]}"}
    await leader.ok("studio.post", studio_id=sid, body="本周备课安排")
    async with httpx.AsyncClient(base_url=server.url, headers=auth) as http:
        comment = (await http.post(f"/api/docs/{doc_id}/comments", json={"body": "这里可以举个例子", "start": 0, "end": 2}))
        assert comment.status_code == 201, comment.text
        cid = comment.json()["id"]
        assert (await http.post(f"/api/docs/{doc_id}/comments/{cid}/resolve", json={"resolved": True})).status_code == 200
        version = await http.post(f"/api/docs/{doc_id}/versions", json={"name": "初稿"})
        assert version.status_code == 201, version.text
        restored = await http.post(f"/api/docs/{doc_id}/versions/{version.json()['id']}/restore")
        assert restored.status_code == 200, restored.text
        assert (await http.delete(f"/api/docs/{doc_id}/comments/{cid}")).status_code == 204
    pushes = await member.pushes_until(6)
    assert [p["e"]["type"] for p in pushes] == ["post", "comment", "comment_resolved", "version_saved", "restored",
                                                "comment_deleted"]
    schema = harness.PushSchema.load()
    wrong = {p["e"]["type"]: schema.problems(p) for p in pushes if schema.problems(p)}
    for c in (member, leader):
        await c.close()
    assert wrong == {}
    assert len({p["e"]["id"] for p in pushes}) == len(pushes)  # ids tell events apart
