"""docs/pushes.schema.json: a valid schema with one definition per event type the server publishes, that
accepts the documented shapes and refuses what is not documented. The integration tests check real
pushes against it (`harness.validate_pushes`); this keeps the schema itself honest."""

from __future__ import annotations

import re

import pytest

from harness import ROOT, PushSchema

# Where events are built, and the recorded types that are never pushed (kept in the timeline only).
PRODUCERS = ["sessions/chat.py", "sessions/qa.py", "sessions/polls.py", "sessions/hands.py", "sessions/lifecycle.py",
             "sessions/reactions.py", "sessions/stage/commands.py", "sessions/stage/stages.py",
             "collab/announcements.py", "collab/studios/channel.py", "collab/docs/api.py"]
RECORDED_ONLY = {"stage_joined", "stage_left"}  # record_event(..., room=False) with no desk copy
TYPE = re.compile(r'"type":\s*"([a-z_]+)"(?:\s+if\s+[^,}]*?\s+else\s+"([a-z_]+)")?')

AT = "2027-05-01T06:00:00.123456+00:00"
BY = {"id": 3, "name": "张老师"}
MESSAGE = {"id": 7, "user": BY, "body": "早", "reply_to": None, "status": "visible", "pinned": False, "at": AT}


@pytest.fixture(scope="module")
def schema() -> PushSchema:
    return PushSchema()  # also checks it against the 2020-12 meta-schema


def named_types() -> set[str]:
    found = set()
    for path in PRODUCERS:
        for first, second in TYPE.findall((ROOT / path).read_text()):
            found.update(t for t in (first, second) if t)
    return found - RECORDED_ONLY


def test_every_event_type_the_server_builds_has_a_definition(schema):
    defs = schema.whole.schema["$defs"]
    documented = set(defs["Event"]["properties"]["type"]["enum"])
    assert named_types() <= documented, f"undocumented event types: {named_types() - documented}"
    assert documented == {name for name in defs if name[:1].islower()}  # the list and the definitions agree


@pytest.mark.parametrize("push", [
    {"ch": "activity:12", "o": 41, "e": {"type": "chat", "id": "chat:7", "message": MESSAGE}},
    {"ch": "activity:12", "o": None, "e": {"type": "started", "phase": 0, "id": "activity-event:9", "at": AT,
                                           "by": BY}},
    {"ch": "activity:12:mod", "o": 3, "e": {"type": "hand_lowered", "user_id": 4, "declined": True,
                                             "id": "activity-event:10", "at": AT, "by": BY}},
    {"ch": "activity:12", "o": 42, "e": {"type": "qa_votes", "id": "qa-votes:ab12", "votes": {"5": 3}}},
    {"ch": "activity:12", "o": 43, "e": {"type": "stage", "id": "stage:cd34", "node": "node-a", "on_stage": [
        {"user_id": "lesson", "name": "课例", "source": "lesson", "tracks": ["audio", "video"],
         "video": {"state": "playing", "position": 1.5, "duration": 60.0}},
        {"user_id": "screen:12", "name": "张老师", "source": "screen", "owner_id": 12, "tracks": ["video"]}]}},
    {"ch": "activity:12:mod", "o": 44, "e": {"type": "screen_stopped", "user_id": 12, "id": "activity-event:11",
                                             "at": AT, "by": BY}},
    {"ch": "announce:all", "resync": {"epoch": "9f2c01aa", "offset": 40}},
    {"ch": "activity:12", "unsubscribed": {"reason": "removed by a moderator"}},
    {"ch": "activity:12", "presence": {"clients": 120, "users": 97}},
])
def test_documented_pushes_match(schema, push):
    assert schema.problems(push) == []


@pytest.mark.parametrize("push, why", [
    ({"ch": "activity:12", "o": 41, "e": {"type": "chat", "message": MESSAGE}}, "'id' is a required property"),
    ({"ch": "activity:12", "o": 41, "e": {"type": "chat_typing", "id": "x:1"}}, "is not one of"),
    ({"ch": "activity:12", "o": 41, "e": {"type": "chat", "id": "chat:7", "message": {**MESSAGE, "user": 3}}},
     "e/message/user: 3 is not of type 'object'"),
    ({"ch": "activity:12", "o": 41, "e": {"type": "chat", "id": "chat:7", "message": MESSAGE, "extra": 1}},
     "Unevaluated properties are not allowed"),
    ({"ch": "activity:12", "o": 41, "e": {"type": "ended", "id": "activity-event:9", "by": BY}},
     "'at' is a required property"),
    ({"ch": "activity:12", "o": "41", "e": {"type": "ended", "id": "activity-event:9", "at": AT, "by": BY}},
     "o: '41' is not valid"),
    ({"ch": "activity:12", "presence": {"clients": 1}}, "presence: 'users' is a required property"),
    ({"ch": "activity:12", "o": 44, "e": {"type": "stage", "id": "stage:ef56", "node": "node-a", "on_stage": [
        {"user_id": "screen:12", "name": "张老师", "source": "screen", "tracks": ["video"]}]}},
     "'owner_id' is a required property"),
])
def test_undocumented_shapes_are_refused_with_a_reason(schema, push, why):
    problems = schema.problems(push)
    assert any(why in p for p in problems), problems
