"""The surface a stranger sees (docs/security.md): every answer of a real node carries the security
headers; pages may not be framed and run only the node's own scripts; HSTS goes out only over TLS as a
trusted proxy reports it; `/metrics` and the operator's detail are on the internal port, not public."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

import harness
from collab.auth import signed
from studio_seed import seed_studio

PAGES = ["/", "/signin", "/activities", "/activities/new", "/activities/1", "/activities/1/edit",
         "/activities/1/replay", "/activities/1/attendance", "/me/learning", "/studios", "/studios/1", "/docs/1"]


@pytest.fixture(scope="module")
async def world(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("headers do not depend on the database: one kind keeps the module short")
    seed = await seed_studio(database_url)
    # the node behind our proxy (the test client's 127.0.0.1 is it) and a node trusting nobody
    proxied = harness.Server(database_url, trusted_proxies="127.0.0.1, 10.0.0.0/8").start()
    bare = harness.Server(database_url).start()
    yield {"proxied": proxied, "bare": bare, **seed}
    proxied.cleanup()
    bare.cleanup()


def csp_of(r: httpx.Response) -> dict[str, str]:
    out = {}
    for part in r.headers["content-security-policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def assert_page_headers(r: httpx.Response) -> None:
    where = f"{r.request.method} {r.request.url.path} ({r.status_code})"
    h = r.headers
    assert h.get("x-content-type-options") == "nosniff", where
    assert h.get("x-frame-options") == "DENY", where
    assert h.get("referrer-policy") == "strict-origin-when-cross-origin", where
    assert h.get("cross-origin-opener-policy") == "same-origin", where
    assert "camera=(self)" in h.get("permissions-policy", "") and "microphone=(self)" in h["permissions-policy"] \
        and "display-capture=(self)" in h["permissions-policy"], where
    csp = csp_of(r)
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'", where
    assert csp["default-src"] == "'self'" and csp["base-uri"] == "'self'" and csp["form-action"] == "'self'", where
    script = csp["script-src"].split()
    assert script[0] == "'self'" and all(s.startswith("'sha256-") for s in script[1:]), where
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp["script-src"], where
    assert "unsafe-inline" not in csp["style-src"], where
    assert "strict-transport-security" not in h, where  # plain HTTP from nobody trusted


async def test_every_page_api_answer_static_file_and_error_carries_the_headers(world):
    node, leader = world["bare"], world["users"]["leader"][1]
    auth = {"Authorization": f"Bearer {leader}"}
    async with httpx.AsyncClient(base_url=node.url) as http:
        answers = [await http.get(p) for p in PAGES]
        assert all(r.status_code == 200 and r.headers["content-type"].startswith("text/html") for r in answers)
        answers += [
            await http.get("/api/openapi.json"),
            await http.get("/api/activities", headers=auth),
            await http.get(f"/api/studios/{world['studio']}", headers=auth),
            await http.get("/api/studios", headers={"Authorization": "Bearer forged"}),  # 401
            await http.post("/api/auth/login", json={"username": "nobody", "password": "wrong-password"}),  # 401
            await http.get("/api/studios/424242", headers=auth),  # 404
            await http.delete("/api/openapi.json"),  # 405
            await http.post("/api/announcements", content=b"x" * 70000, headers=auth),  # 413
            await http.get("/static/page.js"),
            await http.get("/static/collab.css", headers={"Accept-Encoding": "gzip"}),
            await http.get("/static/nothing-here.js"),  # 404 from the static files
            await http.get("/no/such/page"),  # 404 from the router
            await http.get("/healthz"),
        ]
    statuses = sorted({r.status_code for r in answers})
    assert statuses == [200, 401, 404, 405, 413], statuses
    for r in answers:
        assert_page_headers(r)


async def test_the_room_admits_its_import_map_by_hash_and_nothing_else(world):
    import base64
    import hashlib
    import re

    async with httpx.AsyncClient(base_url=world["bare"].url) as http:
        room = await http.get("/activities/1")
    inline = re.findall(r"<script([^>]*)>(.*?)</script>", room.text, flags=re.S)
    maps = [body for attrs, body in inline if 'type="importmap"' in attrs]
    assert len(maps) == 1 and all(not body.strip() for attrs, body in inline if 'type="importmap"' not in attrs)
    digest = "sha256-" + base64.b64encode(hashlib.sha256(maps[0].encode()).digest()).decode()
    assert csp_of(room)["script-src"] == f"'self' '{digest}'"
    assert not re.search(r"\son[a-z]+=", room.text)  # no inline event handler either


async def test_uploads_keep_their_own_sandbox(world):
    sid, member = world["studio"], world["users"]["member"][1]
    auth = {"Authorization": f"Bearer {member}"}
    async with httpx.AsyncClient(base_url=world["bare"].url) as http:
        up = await http.post(f"/api/studios/{sid}/resources", headers=auth,
                             files={"file": ("板书.txt", "<script>alert(1)</script>".encode())}, data={"kind": "other"})
        assert up.status_code == 201, up.text
        got = await http.get(f"/api/resources/{up.json()['id']}/download", headers=auth)
    assert got.status_code == 200
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"  # theirs, not the pages'
    assert got.headers.get_list("content-security-policy") == ["default-src 'none'; sandbox"]
    assert got.headers["x-content-type-options"] == "nosniff" and got.headers["x-frame-options"] == "DENY"


async def test_the_audiences_hls_keeps_its_cross_origin_answers_and_gets_nosniff(world):
    key = signed.program_key(harness.SECRET, 1, None)
    async with httpx.AsyncClient(base_url=world["bare"].url) as http:
        check = await http.get(f"/live/1/k/{key}/check")  # the CDN edge's key check
        forged = await http.get("/live/1/k/forged/index.m3u8")
        off = await http.get(f"/live/1/k/{key}/index.m3u8")  # a good key, nobody producing
    assert check.status_code == 204 and forged.status_code in (403, 404) and off.status_code in (404, 409, 503)
    for r in (check, forged, off):
        assert r.headers["x-content-type-options"] == "nosniff"
        # nothing that would stop a player on another origin (the CDN's) from reading it
        assert "content-security-policy" not in r.headers and "cross-origin-opener-policy" not in r.headers


async def test_hsts_only_when_a_trusted_proxy_says_https(world):
    https = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient() as http:
        proxied = await http.get(world["proxied"].url + "/", headers=https)
        proxied_api = await http.get(world["proxied"].url + "/api/openapi.json", headers=https)
        proxied_http = await http.get(world["proxied"].url + "/", headers={"X-Forwarded-Proto": "http"})
        plain = await http.get(world["proxied"].url + "/")
        untrusted = await http.get(world["bare"].url + "/", headers=https)  # anyone can send the header
    assert proxied.headers["strict-transport-security"] == "max-age=31536000"
    assert proxied_api.headers["strict-transport-security"] == "max-age=31536000"
    for r in (proxied_http, plain, untrusted):
        assert "strict-transport-security" not in r.headers


async def test_metrics_are_served_on_the_internal_port_only(world):
    node = world["bare"]
    async with httpx.AsyncClient() as http:
        public = await http.get(node.url + "/metrics")
        health, ready = await http.get(node.url + "/healthz"), await http.get(node.url + "/readyz")
        metrics = await http.get(node.ops_url + "/metrics")
        detail = await http.get(node.ops_url + "/readyz")
        not_ops = await http.get(node.ops_url + "/api/openapi.json")  # the internal port serves operations only
        page = await http.get(node.ops_url + "/")
    assert public.status_code == 404 and "collab_" not in public.text
    assert health.json() == {"status": "ok"} and ready.json() == {"status": "ok"}  # no node name, no checks
    assert metrics.status_code == 200 and "collab_connections" in metrics.text
    assert f'collab_node_info{{node="{node.name}"}} 1.0' in metrics.text
    assert detail.json() == {"status": "ok", "node": node.name, "checks": {"database": "ok", "bus": "ok"}}
    assert not_ops.status_code == 404 and page.status_code == 404


async def test_a_taken_internal_port_stops_the_node_naming_the_setting(world, tmp_path):
    taken = world["bare"].internal_port
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "server.cli", "serve", "--port", str(harness.free_port()),
                         "--internal-port", str(taken), "--database-url", world["bare"].database_url,
                         "--secret", harness.SECRET],
        cwd=harness.ROOT, env=dict(os.environ, COLLAB_DATA_DIR=str(tmp_path)), capture_output=True,
        text=True, timeout=60)
    assert proc.returncode == 3
    assert f"--internal-port 127.0.0.1:{taken}" in proc.stderr and "in use" in proc.stderr
    async with httpx.AsyncClient() as http:  # and the node that holds it goes on serving
        assert (await http.get(world["bare"].ops_url + "/metrics")).status_code == 200


def test_settings_refuse_the_public_port_as_internal_and_bad_proxies():
    from collab.settings import load_settings

    with pytest.raises(ValueError, match="--internal-port"):
        load_settings(port=8123, internal_port=8123)
    with pytest.raises(ValueError, match="--trusted-proxies"):
        load_settings(trusted_proxies="10.0.0.0/8, proxy.example")
