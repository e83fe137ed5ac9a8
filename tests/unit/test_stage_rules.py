"""The stage's decisions without I/O (sessions/stage/rules.py): who may go up, what stepping down or
being taken off does to a raised hand, which room event closes the stage, who the replay and a late
joiner see on stage, and which signaling arguments are refused."""

from __future__ import annotations

import orjson
import pytest

from collab import policy
from collab.auth.actor import Actor
from collab.errors import DomainError
from sessions.stage import rules

TEACHER = Actor(4, "teacher")
LIVE = policy.ActivityAccess(organizer_id=2, visibility="public", state="live")


@pytest.mark.parametrize("hand, may", [("called", True), ("on_stage", True), ("raised", False),
                                       ("lowered", False), (None, False)])
def test_a_teacher_may_publish_only_once_an_expert_called_on_their_hand(hand, may):
    seat = policy.StageSeat(LIVE, invited=rules.invited(hand))
    assert policy.allowed(TEACHER, "stage.publish", seat) is may


def test_stepping_down_lowers_the_hand_so_coming_back_takes_a_new_call():
    assert rules.lowered_on_leaving("on_stage")
    assert not rules.lowered_on_leaving("called")  # not yet up: the invitation still stands
    assert not rules.lowered_on_leaving(None)  # staff publish without a hand


def test_taken_off_by_a_moderator_means_no_longer_invited():
    assert rules.lowered_on_removal("on_stage") and rules.lowered_on_removal("called")
    assert not rules.lowered_on_removal("raised")  # a hand nobody called on stays in the queue


def published(event: dict) -> bytes:
    """What the hub hands the stage's watcher: the event as `record_event` publishes it."""
    return orjson.dumps({**event, "id": "activity-event:9", "at": "2027-05-01T06:00:00+00:00",
                         "by": {"id": 2, "name": "组织者"}})


@pytest.mark.parametrize("kind", ["ended", "archived"])
def test_ending_the_activity_closes_its_stage(kind):
    assert rules.closes_the_stage(published({"type": kind}))


@pytest.mark.parametrize("data", [
    published({"type": "started", "phase": 0}),
    published({"type": "phase_changed", "phase": 1}),
    orjson.dumps({"type": "chat", "id": "chat:7", "message": {"body": '{"type":"ended"}'}}),  # someone quoting it
    orjson.dumps({"type": "poll_closed", "id": "x:1", "poll": {"type": "ended"}}),  # the word, nested
    b'{"$kick":12,"reason":"removed"}',  # a directive to the hubs
    None,  # the bus was lost or came back
    b"not json",
    b'["ended"]',
])
def test_other_room_publications_leave_the_stage_open(data):
    assert not rules.closes_the_stage(data)


def test_the_roster_is_who_is_on_stage_by_the_record():
    records = [("stage_joined", {"type": "stage_joined", "user_id": 3, "name": "Ann"}),
               ("stage_joined", {"type": "stage_joined", "user_id": 4, "name": "Bo"}),
               ("stage_joined", {"type": "stage_joined", "user_id": 5, "name": "Cai"}),
               ("stage_left", {"type": "stage_left", "user_id": 3}),
               ("stage_removed", {"type": "stage_removed", "user_id": 4}),
               ("stage_removed", {"type": "stage_removed", "user_id": 9}),  # was not up: nothing changes
               ("stage_joined", {"type": "stage_joined", "user_id": 3, "name": "Ann"}),
               ("stage_joined", {"type": "stage_joined", "user_id": 5, "name": "Cai Li"})]  # publishing again
    assert rules.roster(records) == [{"user_id": 5, "name": "Cai Li"}, {"user_id": 3, "name": "Ann"}]
    assert rules.roster([]) == []


def test_the_roster_names_shared_screens_until_they_stop_or_their_owner_is_taken_off():
    records = [("stage_joined", {"type": "stage_joined", "user_id": 3, "name": "Ann"}),
               ("screen_started", {"type": "screen_started", "user_id": 3, "name": "Ann"}),
               ("screen_started", {"type": "screen_started", "user_id": 4, "name": "Bo"}),  # a screen alone
               ("screen_started", {"type": "screen_started", "user_id": 5, "name": "Cai"}),
               ("screen_stopped", {"type": "screen_stopped", "user_id": 4}),
               ("stage_left", {"type": "stage_left", "user_id": 3})]  # stepping down: the screen's own stop says
    screen = {"user_id": "screen:3", "name": "Ann", "owner_id": 3, "source": "screen"}
    assert rules.roster(records) == [screen, {**screen, "user_id": "screen:5", "name": "Cai", "owner_id": 5}]
    removed = records + [("stage_removed", {"type": "stage_removed", "user_id": 5})]  # on another node, maybe
    assert rules.roster(removed) == [screen]


def test_only_people_join_and_leave_the_record():
    assert rules.is_person(12)
    assert not rules.is_person(rules.LESSON)
    assert not rules.is_person(rules.screen_of(12))


def test_a_screen_is_named_after_its_owner():
    assert rules.screen_of(12) == "screen:12"
    assert rules.is_screen("screen:12") and rules.owner_of("screen:12") == 12
    assert rules.owner_of(12) == 12  # a camera is its owner's
    for other in ("lesson", "screen:", "screen:012", "screen:-1", "screen:1x", "screen:١٢", 12, None):
        assert not rules.is_screen(other)
    assert rules.owner_of("lesson") is None and rules.owner_of("screen:abc") is None


def test_a_person_publishes_a_camera_by_default_or_a_screen():
    assert rules.source(None) == "camera"
    assert rules.source("camera") == "camera" and rules.source("screen") == "screen"
    for bad in ("window", "", 1, ["screen"]):
        with pytest.raises(DomainError) as refused:
            rules.source(bad)
        assert refused.value.code == "invalid"


@pytest.mark.parametrize("value", [12, "lesson", "screen:12"])
def test_a_viewer_watches_a_person_a_screen_or_the_lesson_video(value):
    assert rules.publisher_id(value) == value


@pytest.mark.parametrize("value", ["12", True, None, 1.0, "teacher", "screen:", "screen:x", "screen:0"])
def test_any_other_publisher_id_is_refused(value):
    with pytest.raises(DomainError) as refused:
        rules.publisher_id(value)
    assert refused.value.code == "invalid"


def test_a_connection_watches_at_most_eight_at_once():
    rules.check_room_for_a_view(rules.MAX_VIEWS_PER_SOCKET - 1)
    with pytest.raises(DomainError) as refused:
        rules.check_room_for_a_view(rules.MAX_VIEWS_PER_SOCKET)
    assert refused.value.code == "too_many_views" and rules.MAX_VIEWS_PER_SOCKET == 8


def test_the_lesson_video_takes_five_actions_and_a_position_in_seconds():
    for action in ("start", "play", "pause", "seek", "stop"):
        assert rules.video_action(action) == action
    assert rules.seek_position(1) == 1.0 and rules.seek_position(2.5) == 2.5
    for bad in (lambda: rules.video_action("rewind"), lambda: rules.video_action(None),
                lambda: rules.seek_position(-1), lambda: rules.seek_position("10")):
        with pytest.raises(DomainError) as refused:
            bad()
        assert refused.value.code == "invalid"
