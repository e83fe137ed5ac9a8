"""Service keys across two server processes sharing a database and Redis: a key made with the real CLI
works on both nodes; revoked through the API on one node, it is refused on the other within seconds
(each node holds a key for at most `collab.keys.CACHE_SECONDS`); its calls on either node are in the
one audit log."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

import harness
from collab import keys
from test_service_keys import bearer, create_key


@pytest.fixture(scope="module")
async def nodes(database_url, users, redis_url):
    a = harness.Server(database_url, redis_url, name="keys-a").start(wait=False)
    b = harness.Server(database_url, redis_url, name="keys-b").start(wait=False)
    a.wait()
    b.wait()
    yield a, b
    a.cleanup()
    b.cleanup()


async def test_a_key_revoked_on_one_node_is_refused_on_the_other_within_seconds(database_url, nodes, users):
    a, b = nodes
    key_id, secret, _ = create_key(database_url, "省平台", "activities:read")
    async with httpx.AsyncClient(timeout=10) as http:
        for node in (a, b):  # both nodes now hold the key in their caches
            r = await http.get(f"{node.url}/api/activities?status=upcoming", headers=bearer(secret))
            assert r.status_code == 200, r.text
        r = await http.post(f"{a.url}/api/keys/{key_id}/revoke", headers=bearer(users["admin1"][1]))
        assert r.status_code == 200
        revoked_at = time.monotonic()
        r = await http.get(f"{a.url}/api/activities", headers=bearer(secret))
        assert r.status_code == 401 and r.json()["error"]["code"] == "key_revoked"  # where it was revoked: at once
        while True:
            r = await http.get(f"{b.url}/api/activities", headers=bearer(secret))
            if r.status_code == 401:
                break
            assert r.status_code == 200
            assert time.monotonic() - revoked_at < keys.CACHE_SECONDS + 3, "node b still takes the revoked key"
            await asyncio.sleep(0.1)
        assert r.json()["error"]["code"] == "key_revoked"
        calls = (await http.get(f"{b.url}/api/audit?key={key_id}&action=api.call&limit=1000",
                                headers=bearer(users["admin1"][1]))).json()["events"]
    statuses = [c["detail"]["status"] for c in reversed(calls)]
    assert statuses[:3] == [200, 200, 401] and statuses[-1] == 401  # each node's calls, in the one log
