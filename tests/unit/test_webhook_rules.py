"""The webhook rules that need no I/O: the retry schedule and its jitter, which receiver addresses are
refused (SSRF), signatures during a rotation as the standardwebhooks library verifies them, the outbox
body's shape, event-type validation, and how attendance.finalized pages a large activity."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from collab.errors import DomainError
from collab.webhooks import addresses, endpoints, outbox, signing
from collab.webhooks.deliverer import next_delay, retry_schedule
from sessions.attendance_final import pages_of

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=timezone.utc)


def test_the_default_schedule_backs_off_to_about_a_day_and_then_gives_up():
    steps = retry_schedule("5,30,120,600,3600,10800,21600,43200")
    assert 20 * 3600 < sum(steps) < 26 * 3600
    for attempts, step in enumerate(steps, start=1):
        delays = {next_delay(steps, attempts) for _ in range(200)}
        assert min(delays) >= step * 0.8 and max(delays) <= step * 1.2
        assert len(delays) > 1  # jittered: receivers coming back are not hit in step
    assert next_delay(steps, len(steps) + 1) is None
    for bad in ("", "5,x", "-1"):
        with pytest.raises(ValueError):
            retry_schedule(bad)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://localhost/hook", "http://10.1.2.3/",
                                 "http://192.168.0.10/", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/",
                                 "http://0.0.0.0/", "http://api.localhost/"])
def test_private_and_loopback_receivers_are_refused_unless_allowed(url):
    with pytest.raises(addresses.AddressRefused) as refused:
        addresses.check_config(url, allow_private=False)
    assert refused.value.code == "webhook_url_refused" and refused.value.status == 400
    assert addresses.check_config(url, allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "example.com/hook", "",
                                 "https://user:pw@example.com/", "http:///nohost", "x" * 3000])
def test_only_http_urls_with_a_host_are_receivers(url):
    with pytest.raises(addresses.AddressRefused):
        addresses.check_config(url, allow_private=True)


async def test_a_name_is_checked_at_delivery_by_what_it_resolves_to():
    with pytest.raises(addresses.AddressRefused):
        await addresses.pinned("http://localhost:9/hook", allow_private=False)
    target, named = await addresses.pinned("http://localhost:9/hook?x=1", allow_private=True)
    assert target.host in ("127.0.0.1", "::1") and named.host == "localhost" and target.query == b"x=1"
    assert addresses.public("93.184.216.34") and not addresses.public("fd00::1")


def test_both_secrets_sign_during_a_rotation_and_each_verifies_alone():
    old, new = signing.new_secret(), signing.new_secret()
    assert signing.is_secret(old) and old != new and not signing.is_secret("whsec_short")
    body = outbox.row("activity.ended", {"activity_id": 7}, NOW).payload.encode()
    at = datetime.now(timezone.utc)
    header = signing.signature([new, old], "msg_1", at, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": header}
    assert header.count("v1,") == 2 and " " in header
    assert Webhook(old).verify(body, headers) == Webhook(new).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # a changed body does not verify
        Webhook(new).verify(body.replace(b"7", b"8"), headers)


def test_the_old_secret_stops_signing_when_its_overlap_ends():
    e = SimpleNamespace(secret="new", previous_secret="old", previous_secret_until=NOW + timedelta(hours=1))
    assert endpoints.signing_keys(e, NOW) == ["new", "old"]
    assert endpoints.signing_keys(e, NOW + timedelta(hours=2)) == ["new"]


def test_an_outbox_row_is_the_standard_webhooks_body():
    row = outbox.row("registration.decided", {"user_id": 3, "status": "approved", "title": "课例研讨"}, NOW)
    body = json.loads(row.payload)
    assert body == {"type": "registration.decided", "timestamp": "2026-12-06T08:00:00Z",
                    "data": {"user_id": 3, "status": "approved", "title": "课例研讨"}}
    assert row.msg_id.startswith("msg_") and row.msg_id != outbox.row("activity.ended", {}).msg_id
    with pytest.raises(ValueError):
        outbox.row("activity.exploded", {})


def test_event_types_are_known_ones_or_all():
    assert endpoints.event_types(["attendance.finalized", "attendance.finalized"]) == ["attendance.finalized"]
    assert endpoints.event_types(["activity.ended", "*"]) == ["*"]
    with pytest.raises(DomainError) as e:
        endpoints.event_types(["attendance.final"])
    assert e.value.code == "unknown_event_type"
    for bad in ([], "attendance.finalized", [1]):
        with pytest.raises(DomainError):
            endpoints.event_types(bad)


def test_ten_thousand_teachers_are_told_in_pages():
    activity = SimpleNamespace(id=5, title="全国教研", level="national", region="", subject="数学", grade="8",
                               time_zone="Asia/Shanghai", starts_at=NOW, ends_at=NOW + timedelta(hours=2),
                               started_at=NOW, ended_at=NOW + timedelta(hours=2))
    teachers = [{"user_id": i, "minutes": 100.0, "credited": i % 2 == 0} for i in range(10_000)]
    staff = [{"user_id": -1, "role": "organizer", "credited": None}]
    pages = pages_of(activity, teachers, staff, 0.8, 1000, NOW)
    assert [(p["page"], p["pages"]) for p in pages] == [(n, 10) for n in range(1, 11)]
    assert [t["user_id"] for p in pages for t in p["attendees"]] == list(range(10_000))
    assert all(p["teachers"] == 10_000 and p["credited"] == 5000 and p["needed_minutes"] == 96.0 for p in pages)
    assert pages[0]["staff"] == staff and all(p["staff"] == [] for p in pages[1:])
    assert max(len(json.dumps(p, ensure_ascii=False)) for p in pages) < 300_000
    assert pages_of(activity, [], [], 0.8, 1000, NOW)[0]["attendees"] == []  # nobody came: still told, once


def test_a_secret_that_is_not_text_is_not_a_secret():
    assert not any(signing.is_secret(v) for v in (None, 5, ["whsec_x"], "whsec_!!!!", "sk_" + "A" * 32))
