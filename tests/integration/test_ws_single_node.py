"""/ws against one real server process: connect, subscribe, push, recovery, errors."""

from __future__ import annotations

import pytest

import harness
from harness import validate_pushes  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("validate_pushes")  # every push as docs/pushes.schema.json says


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


async def test_announcement_reaches_subscriber_in_order(server, users):
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    teacher = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    sub = await teacher.ok("subscribe", channel="announce:order")
    for i in range(20):
        await org.ok("announce.post", channel="announce:order", body=f"message {i}")
    got = await teacher.pushes_until(20)
    assert [p["e"]["body"] for p in got] == [f"message {i}" for i in range(20)]
    assert [p["o"] for p in got] == list(range(sub["offset"] + 1, sub["offset"] + 21))
    await org.close()
    await teacher.close()


async def test_reconnect_with_last_offset_recovers_every_missed_event(server, users):
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    t = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    sub = await t.ok("subscribe", channel="announce:recover")
    await org.ok("announce.post", channel="announce:recover", body="before")
    first = await t.push()
    await t.close()
    for i in range(5):
        await org.ok("announce.post", channel="announce:recover", body=f"missed {i}")
    t2 = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    r = await t2.ok("subscribe", channel="announce:recover", since={"epoch": sub["epoch"], "offset": first["o"]})
    assert r["recovered"] is True
    got = await t2.pushes_until(5)
    assert [p["e"]["body"] for p in got] == [f"missed {i}" for i in range(5)]
    await org.ok("announce.post", channel="announce:recover", body="live again")
    assert (await t2.push())["e"]["body"] == "live again"
    await org.close()
    await t2.close()


# -- bad input: each gets its code, the server keeps serving everyone else --------------------------

EXTERNAL = {"external_jwt_secret": "platform-secret-0123456789-abcdefghijkl",
            "external_jwt_issuer": "https://id.example.edu", "external_jwt_audience": "collab"}


@pytest.fixture(scope="module")
async def strict(database_url, users):
    s = harness.Server(database_url, name="strict", max_frame_bytes=4096, command_rate=5, command_burst=20,
                       flood_strikes=5, max_channels=3, auth_timeout=1, **EXTERNAL).start()
    yield s
    s.cleanup()


async def healthy_bystander(server, users):
    """A teacher who must keep receiving while someone else misbehaves."""
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    t = await harness.WsClient(server.ws_url).open(users["teacher2"][1])
    await t.ok("subscribe", channel="announce:bystander")
    return org, t


async def assert_still_served(org, t, body):
    await org.ok("announce.post", channel="announce:bystander", body=body)
    assert (await t.push())["e"]["body"] == body


async def test_oversized_frame_closes_with_4009(strict, users):
    org, t = await healthy_bystander(strict, users)
    c = await harness.WsClient(strict.ws_url).open(users["teacher1"][1])
    await c.send_raw('{"id":1,"cmd":"ping","args":{"pad":"' + "x" * 5000 + '"}}')
    assert await c.wait_closed() == 4009
    await assert_still_served(org, t, "after oversized")


async def test_flood_is_rate_limited_then_closed_with_4029(strict, users):
    org, t = await healthy_bystander(strict, users)
    c = await harness.WsClient(strict.ws_url).open(users["teacher1"][1])
    results = []
    for _ in range(60):
        try:
            results.append(await c.call("ping", timeout=2))
        except (ConnectionError, TimeoutError):
            break
    codes = [r.get("error", {}).get("code") for r in results]
    assert "rate_limited" in codes
    assert await c.wait_closed() == 4029
    await assert_still_served(org, t, "after flood")


async def test_commands_before_connect_and_auth_timeout(strict, users):
    c = await harness.WsClient(strict.ws_url).open()
    r = await c.call("subscribe", channel="announce:all")
    assert r["error"]["code"] == "not_connected"
    assert await c.wait_closed(5) == 4001  # never sent connect within auth_timeout


@pytest.mark.parametrize("token,code", [
    (lambda: harness.token_for(4, ttl=-5), "token_expired"),
    (lambda: harness.token_for(4, secret="a-forged-secret-that-is-long-enough-12345"), "token_signature"),
    (lambda: "", "token_missing"),
])
async def test_bad_tokens_on_connect(strict, token, code):
    c = await harness.WsClient(strict.ws_url).open()
    r = await c.call("connect", token=token())
    assert r["error"]["code"] == code
    assert await c.wait_closed() == 4001


async def test_external_identity_provider_token(strict, database_url):
    import time

    import jwt

    claims = {"sub": "idp-user-77", "iss": EXTERNAL["external_jwt_issuer"], "aud": "collab",
              "exp": int(time.time()) + 60, "name": "外部 Teacher", "role": "teacher", "region": "Gansu"}
    token = jwt.encode(claims, EXTERNAL["external_jwt_secret"], algorithm="HS256")
    c = await harness.WsClient(strict.ws_url).open()
    r = await c.call("connect", token=token)
    user = r["ok"]["user"]
    assert user["name"] == "外部 Teacher" and user["role"] == "teacher"
    c2 = await harness.WsClient(strict.ws_url).open()
    assert (await c2.call("connect", token=token))["ok"]["user"]["id"] == user["id"]  # same local user
    wrong_aud = jwt.encode({**claims, "aud": "someone-else"}, EXTERNAL["external_jwt_secret"], algorithm="HS256")
    c3 = await harness.WsClient(strict.ws_url).open()
    assert (await c3.call("connect", token=wrong_aud))["error"]["code"] == "token_audience"


async def test_subscription_errors(strict, users):
    c = await harness.WsClient(strict.ws_url).open(users["teacher1"][1])
    tid = users["teacher1"][0]
    cases = [
        ({"channel": "no-namespace"}, "bad_channel"),
        ({"channel": "announce:" + "x" * 200}, "bad_channel"),
        ({"channel": "user:99999"}, "forbidden"),
        ({"channel": "secret:x"}, "forbidden"),
        ({"channel": "announce:a", "since": {"epoch": 5}}, "invalid"),
    ]
    for args, code in cases:
        r = await c.call("subscribe", **args)
        assert r["error"]["code"] == code, (args, r)
    await c.ok("subscribe", channel=f"user:{tid}")
    assert (await c.call("subscribe", channel=f"user:{tid}"))["error"]["code"] == "already_subscribed"
    await c.ok("subscribe", channel="announce:a")
    await c.ok("subscribe", channel="announce:b")
    assert (await c.call("subscribe", channel="announce:c"))["error"]["code"] == "too_many_channels"
    assert (await c.call("unsubscribe", channel="announce:zzz"))["error"]["code"] == "not_subscribed"
    await c.ok("unsubscribe", channel="announce:b")
    await c.ok("subscribe", channel="announce:c")


async def test_acting_beyond_role_changes_nothing(strict, users, database_url):
    c = await harness.WsClient(strict.ws_url).open(users["teacher1"][1])
    r = await c.call("announce.post", channel="announce:all", body="I am not an organizer")
    assert r["error"]["code"] == "forbidden"
    import httpx

    listed = httpx.get(f"{strict.url}/api/announcements?channel=announce:all",
                       headers={"Authorization": f"Bearer {users['teacher1'][1]}"}).json()
    assert all(a["body"] != "I am not an organizer" for a in listed["announcements"])


async def test_binary_frames_close_with_4002(strict, users):
    c = await harness.WsClient(strict.ws_url).open(users["teacher1"][1])
    await c.send_raw(b"\x00\x01binary")
    assert await c.wait_closed() == 4002


async def test_garbage_frames_get_errors_and_the_socket_stays_open(strict, users):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    org, t = await healthy_bystander(strict, users)
    c = await harness.WsClient(strict.ws_url).open(users["teacher1"][1])
    frames = []

    @settings(max_examples=40, suppress_health_check=list(HealthCheck), database=None)
    @given(st.one_of(st.text(max_size=200), st.sampled_from(['{"id":1}', '{"cmd":7}', "[]", '{"id":-1,"cmd":"x"}',
                                                               '{"id":2,"cmd":"subscribe","args":[]}'])))
    def collect(text):
        if text.strip():
            frames.append(text)

    collect()
    known = {"bad_frame", "bad_command", "unknown_command", "invalid", "bad_channel", "rate_limited",
             "too_many_commands", "not_subscribed", "already_subscribed", "forbidden", "too_many_channels"}
    for text in frames[:8]:  # within the burst: each answered, none fatal
        await c.send_raw(text)
    import asyncio

    await asyncio.sleep(0.5)
    assert c.close_code is None
    seen = [m["error"]["code"] for m in c.errors_without_id]
    assert seen and set(seen) <= known
    await assert_still_served(org, t, "after garbage")
