"""Signed links to stage recordings, on a real server and both databases: a `<video src>` cannot send
the bearer token, so the replay gives each recording a url with a key for (recording, viewer). A valid
link plays (and seeks with ranges); a tampered, expired or other recording's key is refused with 403
whatever bearer token comes with it; the policy is asked again for the key's viewer.

The recordings are rows and small WebM files put in place directly (what `sessions.stage` writes when a
publication ends): the stage itself is covered by test_stage.py."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import harness
from recording_seed import add_recording
from collab.auth import signed
from collab.errors import DomainError


async def run_activity(server: harness.Server, token: str, activity_id: int) -> None:
    """Open the lobby, start and end, as the organizer over /ws."""
    ws = await harness.WsClient(server.ws_url).open(token)
    try:
        for cmd in ("activity.open_lobby", "activity.start", "activity.end"):
            await ws.ok(cmd, activity_id=activity_id)
    finally:
        await ws.close()


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
async def ended(server, database_url, users):
    """An invited-only activity, teacher1 admitted by invitation, run to its end, two recordings."""
    org = {"Authorization": f"Bearer {users['org1'][1]}"}
    start = datetime.now(timezone.utc) + timedelta(minutes=10)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers=org, json={
            "title": "录像链接", "visibility": "invited", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": [{"kind": "discussion", "minutes": 30}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        invite = (await http.post(f"/api/activities/{aid}/invitations", headers=org, json={})).json()["token"]
        r = await http.post(f"/api/activities/{aid}/join", json={"token": invite},
                            headers={"Authorization": f"Bearer {users['teacher1'][1]}"})
        assert r.json()["status"] == "approved", r.text
    await run_activity(server, users["org1"][1], aid)
    now = datetime.now(timezone.utc)
    first = await add_recording(server, database_url, aid, users["org1"][0], now - timedelta(seconds=30))
    second = await add_recording(server, database_url, aid, users["expert1"][0], now - timedelta(seconds=20))
    return {"aid": aid, "recordings": (first, second)}


def bearer(users, who: str) -> dict:
    return {"Authorization": f"Bearer {users[who][1]}"}


async def replay_urls(server, users, who: str, aid: int) -> dict[int, str]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get(f"/api/activities/{aid}/replay", headers=bearer(users, who))
        assert r.status_code == 200, r.text
        return {rec["id"]: rec["url"] for rec in r.json()["recordings"]}


def key_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["key"][0]


async def test_a_replay_link_plays_and_seeks_without_a_token(server, users, ended):
    aid, (first, second) = ended["aid"], ended["recordings"]
    urls = await replay_urls(server, users, "teacher1", aid)
    assert set(urls) == {first, second}
    assert all(f"/api/activities/{aid}/recordings/{rid}?key=" in urls[rid] for rid in urls)
    async with httpx.AsyncClient(base_url=server.url) as http:
        whole = await http.get(urls[first])  # no Authorization header, no cookie: the key alone
        assert whole.status_code == 200, whole.text
        assert whole.headers["content-type"] == "video/webm" and whole.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML
        assert whole.headers.get("accept-ranges") == "bytes"
        part = await http.get(urls[first], headers={"Range": "bytes=100-199"})  # a seek
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        assert part.content == whole.content[100:200]
        # the bearer token still works on its own, as before
        assert (await http.get(f"/api/activities/{aid}/recordings/{second}",
                               headers=bearer(users, "teacher1"))).status_code == 200
        assert (await http.get(f"/api/activities/{aid}/recordings/{second}")).status_code == 401


async def test_tampered_expired_and_other_recording_keys_are_refused(server, users, ended):
    aid, (first, second) = ended["aid"], ended["recordings"]
    urls = await replay_urls(server, users, "teacher1", aid)
    good = key_of(urls[first])
    body, signature = good.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    # the same signature over another recording's id, and a fresh signature by another secret
    forged_body = signed.recording_link("x", second, users["teacher1"][0]).split(".")[0]
    bad = {
        "tampered signature": flipped,
        "tampered body": forged_body + "." + signature,
        "another secret": signed.recording_link("not-the-server-secret", first, users["teacher1"][0]),
        "expired": signed.recording_link(harness.SECRET, first, users["teacher1"][0], int(time.time()) - 1),
        "another recording's key": key_of(urls[second]),
        "garbage": "not-a-key",
        "empty": "",
    }
    path = f"/api/activities/{aid}/recordings/{first}"
    async with httpx.AsyncClient(base_url=server.url) as http:
        for what, key in bad.items():
            for headers in ({}, bearer(users, "org1"), {"Authorization": "Bearer nonsense"}):
                r = await http.get(path, params={"key": key}, headers=headers)
                assert r.status_code == 403, (what, headers, r.status_code, r.text)
                assert r.json()["error"]["code"] in ("link_invalid", "link_expired"), (what, r.text)
                r = await http.get(path, params={"key": key}, headers=dict(headers, Range="bytes=0-9"))
                assert r.status_code == 403, (what, "range", r.status_code)
        r = await http.get(path, params={"key": bad["expired"]})
        assert r.json()["error"]["code"] == "link_expired"


async def test_the_policy_is_asked_again_for_the_keys_viewer(server, users, ended):
    aid, (first, _) = ended["aid"], ended["recordings"]
    path = f"/api/activities/{aid}/recordings/{first}"
    async with httpx.AsyncClient(base_url=server.url) as http:
        # teacher2 was never admitted to this invited-only activity: no replay, and a well-signed key
        # naming them (as if leaked or made before they lost access) opens nothing either
        assert (await http.get(f"/api/activities/{aid}/replay", headers=bearer(users, "teacher2"))).status_code == 403
        for viewer in (users["teacher2"][0], None, 999_999):
            r = await http.get(path, params={"key": signed.recording_link(harness.SECRET, first, viewer)})
            assert r.status_code == 403, (viewer, r.status_code, r.text)
        # the organizer's own key, and an admitted teacher's, do
        for who in ("org1", "teacher1"):
            r = await http.get(path, params={"key": signed.recording_link(harness.SECRET, first, users[who][0])})
            assert r.status_code == 200, (who, r.text)
        # a key for a recording of another activity does not open this path
        r = await http.get(f"/api/activities/{aid + 1000}/recordings/{first}",
                           params={"key": signed.recording_link(harness.SECRET, first, users["org1"][0])})
        assert r.status_code == 404


def test_keys_round_trip_and_expire():
    key = signed.recording_link("s", 7, 3, expires_at=1000)
    assert signed.check_recording_link("s", key, 7, now=999) == 3
    assert signed.check_recording_link("s", signed.recording_link("s", 7, None, 1000), 7, now=0) is None
    for secret, rid, now, code in (("t", 7, 999, "link_invalid"), ("s", 8, 999, "link_invalid"),
                                   ("s", 7, 1000, "link_expired")):
        with pytest.raises(DomainError) as exc:
            signed.check_recording_link(secret, key, rid, now=now)
        assert exc.value.code == code
    with pytest.raises(DomainError):
        signed.check_recording_link("s", "é.ü", 7)  # non-ASCII from a query string: refused, not a 500
