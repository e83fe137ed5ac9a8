"""Every studio role × every studio action, against a real server (PostgreSQL): the answer each role
gets from the API, `/ws` and `/ws/docs` is the one `collab.policy` promises (its unit matrix is in
tests/unit/test_policy.py). Each action is tried on fresh records so one role's success does not change
what the next role meets."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

import harness
from collab.store import schema
from studio_seed import new_doc, seed_studio
from yclient import YClient

ROLES = ("leader", "co_leader", "member", "observer", "outsider", "anonymous")
READERS = {"leader", "co_leader", "member", "observer"}
EDITORS = {"leader", "co_leader", "member"}
MANAGERS = {"leader", "co_leader"}


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    seed = await seed_studio(url)
    node = harness.Server(url, redis_url, name="studio-perm").start()
    yield {"url": url, "node": node, **seed}
    node.cleanup()
    await harness.drop_pg_database(url)


def headers(world, role):
    return {} if role == "anonymous" else {"Authorization": f"Bearer {world['users'][role][1]}"}


async def _http(world, role, method, path, **kw) -> int:
    async with httpx.AsyncClient(base_url=world["node"].url, timeout=10) as http:
        return (await http.request(method, path, headers=headers(world, role), **kw)).status_code


def ok(status: int) -> bool:
    return status in (200, 201, 204)


API = [
    # (action, allowed roles, request maker)
    ("view the profile", READERS | {"outsider", "anonymous"}, lambda w: ("GET", f"/api/studios/{w['studio']}", {})),
    ("list members", READERS, lambda w: ("GET", f"/api/studios/{w['studio']}/members", {})),
    ("list applicants", MANAGERS, lambda w: ("GET", f"/api/studios/{w['studio']}/members?status=pending", {})),
    ("edit the profile", MANAGERS, lambda w: ("PATCH", f"/api/studios/{w['studio']}", {"json": {"region": "浙江"}})),
    ("make an invitation link", MANAGERS, lambda w: ("POST", f"/api/studios/{w['studio']}/invitations", {"json": {}})),
    ("read posts", READERS, lambda w: ("GET", f"/api/studios/{w['studio']}/posts", {})),
    ("list the library", READERS, lambda w: ("GET", f"/api/studios/{w['studio']}/resources", {})),
    ("upload to the library", EDITORS, lambda w: ("POST", f"/api/studios/{w['studio']}/resources",
                                                  {"files": {"file": ("n.txt", b"notes")}, "data": {"title": "n"}})),
    ("list documents", READERS, lambda w: ("GET", f"/api/studios/{w['studio']}/docs", {})),
    ("create a document", EDITORS, lambda w: ("POST", f"/api/studios/{w['studio']}/docs", {"json": {"title": "t"}})),
    ("export a document", READERS, lambda w: ("GET", f"/api/docs/{w['doc']}/export.md", {})),
    ("list versions", READERS, lambda w: ("GET", f"/api/docs/{w['doc']}/versions", {})),
    ("save a version", EDITORS, lambda w: ("POST", f"/api/docs/{w['doc']}/versions", {"json": {"name": "v"}})),
    ("read comments", READERS, lambda w: ("GET", f"/api/docs/{w['doc']}/comments", {})),
    ("comment", EDITORS, lambda w: ("POST", f"/api/docs/{w['doc']}/comments",
                                    {"json": {"start": 0, "end": 2, "body": "b"}})),
    ("schedule a studio activity", MANAGERS, lambda w: ("POST", "/api/activities", {"json": {
        "title": "t", "starts_at": "2027-04-01T14:00:00+08:00", "ends_at": "2027-04-01T15:00:00+08:00",
        "studio_id": w["studio"], "agenda": [{"kind": "discussion", "minutes": 30}]}})),
]


@pytest.mark.parametrize("action,allowed,make", API, ids=[a for a, _, _ in API])
async def test_api_matrix(world, action, allowed, make):
    world = {**world, "doc": await new_doc(world["url"], world["studio"], world["users"]["leader"][0])}
    for role in ROLES:
        method, path, kw = make(world)
        status = await _http(world, role, method, path, **kw)
        assert ok(status) == (role in allowed), (action, role, status)
        if role not in allowed:
            assert status == (401 if role == "anonymous" else 403), (action, role, status)


async def test_document_socket_matrix(world):
    """Readers get the document; editors' edits are stored; observers' are refused; others never get a byte."""
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0], template=False)
    url = f"ws://127.0.0.1:{world['node'].port}/ws/docs/{doc_id}"
    for role in ROLES:
        token = None if role == "anonymous" else world["users"][role][1]
        c = await YClient(url, token).open(wait_synced=False)
        if role not in READERS:
            assert await c.closed() == (4001 if role == "anonymous" else 4003) and c.frames_in == 0, role
            continue
        await asyncio.wait_for(c.synced.wait(), 10)
        marker = f"<{role}:{secrets.token_hex(2)}>"
        await c.append(marker)
        if role not in EDITORS:
            await c.until(lambda x: x.denials)
        await asyncio.sleep(0.2)
        check = await YClient(url, world["users"]["leader"][1]).open()
        assert (marker in check.content) == (role in EDITORS), role
        await check.close()
        await c.close()


async def test_ws_studio_channel_matrix(world):
    for role in ROLES:
        if role == "anonymous":
            continue
        c = await harness.WsClient(world["node"].ws_url).open(world["users"][role][1])
        sub = await c.call("subscribe", channel=f"studio:{world['studio']}")
        assert ("ok" in sub) == (role in READERS), role
        post = await c.call("studio.post", studio_id=world["studio"], body=f"hello from {role}")
        assert ("ok" in post) == (role in EDITORS), role
        ann = await c.call("studio.post", studio_id=world["studio"], body="notice", kind="announcement")
        assert ("ok" in ann) == (role in MANAGERS), role
        await c.close()
