"""The JSON API against a real server process, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

import harness


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sign_in_and_see_yourself(http):
    r = await http.post("/api/auth/login", json={"username": "teacher1", "password": "password-teacher1"})
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["username"] == "teacher1" and body["user"]["role"] == "teacher"
    me = await http.get("/api/me", headers=bearer(body["token"]))
    assert me.json()["username"] == "teacher1"


async def test_wrong_password_and_unknown_user_look_the_same(http):
    a = await http.post("/api/auth/login", json={"username": "teacher1", "password": "wrong-password"})
    b = await http.post("/api/auth/login", json={"username": "nobody", "password": "wrong-password"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json() == {"error": {"code": "bad_credentials", "message": "wrong username or password"}}


@pytest.mark.parametrize("body,code", [(b"not json", "bad_json"), (b"[1]", "bad_json"), (b'{"username": 5}', "invalid")])
async def test_malformed_login(http, body, code):
    r = await http.post("/api/auth/login", content=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == code


async def test_bad_tokens_are_named(http):
    expired = harness.token_for(1, "admin", ttl=-10)
    forged = harness.token_for(1, "admin", secret="not-the-server-secret-but-long-enough-000")
    for token, code in [(expired, "token_expired"), (forged, "token_signature"), ("garbage", "token_invalid")]:
        r = await http.get("/api/me", headers=bearer(token))
        assert r.status_code == 401 and r.json()["error"]["code"] == code


async def test_only_admins_create_accounts(http, users):
    new = {"username": "newteacher", "password": "long-enough-pw", "display_name": "New <b>Teacher</b>",
           "region": "Yunnan"}
    for who in ("org1", "teacher1"):
        r = await http.post("/api/users", json=new, headers=bearer(users[who][1]))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await http.post("/api/users", json=new)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = await http.post("/api/users", json=new, headers=bearer(users["admin1"][1]))
    assert r.status_code == 201 and r.json()["display_name"] == "New <b>Teacher</b>"
    again = await http.post("/api/users", json=new, headers=bearer(users["admin1"][1]))
    assert again.status_code == 400 and again.json()["error"]["code"] == "username_taken"
    weak = await http.post("/api/users", json={**new, "username": "x2", "password": "short"},
                           headers=bearer(users["admin1"][1]))
    assert weak.status_code == 400 and weak.json()["error"]["code"] in ("weak_password", "invalid_username")
    login = await http.post("/api/auth/login", json={"username": "newteacher", "password": "long-enough-pw"})
    assert login.status_code == 200


async def test_users_see_themselves_not_each_other(http, users):
    t1, t2 = users["teacher1"], users["teacher2"]
    assert (await http.get(f"/api/users/{t1[0]}", headers=bearer(t1[1]))).status_code == 200
    assert (await http.get(f"/api/users/{t2[0]}", headers=bearer(t1[1]))).status_code == 403
    assert (await http.get(f"/api/users/{t2[0]}", headers=bearer(users["org1"][1]))).status_code == 200
    assert (await http.get("/api/users", headers=bearer(t1[1]))).status_code == 403


async def test_announcement_is_recorded_then_listed(http, users):
    ch = "announce:api-test"
    r = await http.post("/api/announcements", json={"channel": ch, "body": "<script>alert(1)</script> 开会"},
                        headers=bearer(users["org1"][1]))
    assert r.status_code == 201 and r.json()["offset"] >= 1
    denied = await http.post("/api/announcements", json={"channel": ch, "body": "hi"},
                             headers=bearer(users["teacher1"][1]))
    assert denied.status_code == 403
    too_long = await http.post("/api/announcements", json={"channel": ch, "body": "x" * 2001},
                               headers=bearer(users["org1"][1]))
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "invalid"
    listed = await http.get(f"/api/announcements?channel={ch}", headers=bearer(users["teacher1"][1]))
    assert [a["body"] for a in listed.json()["announcements"]] == ["<script>alert(1)</script> 开会"]


async def test_announcements_page_back(http, users):
    ch = "announce:paging"
    for i in range(7):
        await http.post("/api/announcements", json={"channel": ch, "body": f"n{i}"}, headers=bearer(users["org1"][1]))
    teacher = bearer(users["teacher1"][1])
    newest = (await http.get(f"/api/announcements?channel={ch}&limit=3", headers=teacher)).json()["announcements"]
    assert [a["body"] for a in newest] == ["n4", "n5", "n6"]
    oldest_id = int(newest[0]["id"].split(":")[1])
    older = (await http.get(f"/api/announcements?channel={ch}&limit=10&before={oldest_id}", headers=teacher)).json()
    assert [a["body"] for a in older["announcements"]] == ["n0", "n1", "n2", "n3"]
    bad = await http.get(f"/api/announcements?channel={ch}&limit=5000", headers=teacher)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


async def test_oversized_body_is_refused(http, users):
    r = await http.post("/api/announcements", content=b'{"x":"' + b"a" * 70000 + b'"}',
                        headers=bearer(users["org1"][1]))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


async def test_operations_endpoints(http, server):
    # the public port: ok or not, for a load balancer; nothing about the node
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/readyz")).json() == {"status": "ok"}
    assert (await http.get("/metrics")).status_code == 404
    # the internal port: the operator's detail
    async with httpx.AsyncClient(base_url=server.ops_url) as ops:
        ready = await ops.get("/readyz")
        metrics = (await ops.get("/metrics")).text
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "bus": "ok"}
    assert ready.json()["node"] == server.name
    for name in ("collab_connections", "collab_deliveries_total", "collab_slow_consumer_closes_total",
                 "collab_bus_reconnects_total", "collab_command_errors_total", "collab_coalesced_events_total"):
        assert name in metrics
    assert f'collab_node_info{{node="{server.name}"}} 1.0' in metrics  # which node, for the operator alone
    spec = (await http.get("/api/openapi.json")).json()
    assert "/api/auth/login" in spec["paths"] and "/api/announcements" in spec["paths"]
    for path in ("/api/activities", "/api/studios", "/api/studios/{studio_id}/resources", "/api/docs/{doc_id}/comments"):
        assert path in spec["paths"], path


async def test_home_page_escapes_and_serves_the_client(http):
    page = await http.get("/")
    assert page.status_code == 200 and "Sign in" in page.text
    assert (await http.get("/static/realtime.js")).status_code == 200


async def test_the_clients_files_go_compressed_and_are_revalidated(http):
    import gzip
    from pathlib import Path
    bundle = (Path(__file__).resolve().parents[2] / "webclient/static/dist/editor.js").read_bytes()
    plain = await http.get("/static/dist/editor.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers and plain.content == bundle
    raw = await http.get("/static/dist/editor.js", headers={"Accept-Encoding": "gzip, br"})
    assert raw.headers["content-encoding"] == "gzip" and raw.headers["vary"] == "Accept-Encoding"
    assert int(raw.headers["content-length"]) < len(bundle) / 2  # the editor bundle: a fraction of its size
    assert raw.content == bundle  # httpx decodes: the same bytes arrive
    assert raw.headers["cache-control"] == "no-cache" and raw.headers["etag"] != plain.headers["etag"]  # no digest asked
    again = await http.get("/static/dist/editor.js", headers={"Accept-Encoding": "gzip",
                                                                  "If-None-Match": raw.headers["etag"]})
    assert again.status_code == 304 and again.content == b""  # a revisit costs a round trip, not the file
    crossed = await http.get("/static/dist/editor.js", headers={"Accept-Encoding": "gzip",  # validator of the plain form
                                                                "If-None-Match": plain.headers["etag"]})
    assert crossed.status_code == 200 and crossed.headers["content-type"].startswith("text/javascript")
    assert crossed.content == bundle
    stale = await http.get("/static/dist/editor.js", headers={"Accept-Encoding": "gzip", "If-None-Match": '"old"'})
    assert stale.status_code == 200 and stale.content == bundle
    assert (await http.get("/static/no-such-file.js", headers={"Accept-Encoding": "gzip"})).status_code == 404


async def test_pages_link_their_files_by_content_and_those_are_kept_for_good(http):
    import re
    page = (await http.get("/")).text
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert links and all(re.search(r"\?v=[0-9a-f]{12}$", link) for link in links), links
    for link in links:
        r = await http.get(link, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"
    old = await http.get(links[0].split("?")[0] + "?v=000000000000")  # another release's digest
    assert old.headers["cache-control"] == "no-cache"
