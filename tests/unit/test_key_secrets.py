"""Service key secrets and the audit log's exports, without I/O: the shape secret scanners match, the
hash that is stored, the refusals of a bad request, and a CSV no actor's name can turn into a formula."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime, timezone

import pytest

from collab import audit, keys
from collab.errors import DomainError
from collab.store.models import AuditEvent


def test_a_secret_has_the_documented_shape_and_is_never_repeated():
    made = {keys.new_secret() for _ in range(2000)}
    assert len(made) == 2000
    assert all(keys.SHAPE.match(s) and len(s) == len("collab_sk_") + 43 for s in made)
    assert {c for s in made for c in s[10:]} == set(keys._ALPHABET)  # every base62 digit turns up


def test_only_the_sha256_is_stored_and_the_prefix_shows_a_few_characters():
    secret = keys.new_secret()
    assert keys.digest(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert secret[:keys.VISIBLE].startswith("collab_sk_") and len(secret) - keys.VISIBLE == 37


@pytest.mark.parametrize("name, scopes, days, code", [
    ("", ["activities:read"], None, "invalid"),
    ("省平台", [], None, "invalid_scope"),
    ("省平台", ["activities:write"], None, "invalid_scope"),
    ("省平台", "activities:read", None, "invalid_scope"),
    ("省平台", ["activities:read"], 0, "invalid"),
    ("省平台", ["activities:read"], "30", "invalid"),
])
def test_a_bad_request_for_a_key_is_refused_with_its_code(name, scopes, days, code):
    with pytest.raises(DomainError) as e:
        keys.check_request(name, scopes, days)
    assert e.value.code == code


def test_scopes_are_kept_sorted_and_once():
    _, scopes, expires = keys.check_request(" 省平台 ", ["registrations:read", "activities:read", "activities:read"])
    assert scopes == ["activities:read", "registrations:read"] and expires is None


def test_the_audit_csv_is_on_the_zones_clock_and_runs_no_formula():
    row = AuditEvent(id=1, at=datetime(2026, 12, 6, 6, 0, 5, tzinfo=timezone.utc), actor_user_id=None,
                     actor_key_id=None, actor_name="=HYPERLINK(\"http://x\")", action="chat.hide",
                     target_type="chat_message", target_id="9", activity_id=4, studio_id=None,
                     detail={"message_id": 9}, address="10.0.0.1", user_agent="")
    [header, cells] = list(csv.reader(io.StringIO(audit.to_csv([row], "Asia/Shanghai", "zh").lstrip("\ufeff"))))
    assert header[1] == "时间（Asia/Shanghai）" and cells[1] == "2026-12-06 14:00:05"
    assert cells[4].startswith("'=") and cells[10] == '{"message_id":9}'
