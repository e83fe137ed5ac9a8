"""Who may post, when, and what becomes of the post; what moderators may do to a message, the room's
settings and a teacher. Plain calls on facts: no database, no sockets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from collab.errors import DomainError
from sessions.discussion import (
    Author,
    Message,
    Room,
    Target,
    check_post,
    decide_message,
    decide_mute,
    decide_post,
    decide_premoderation,
    decide_readmit,
    decide_remove,
    decide_slow_mode,
    decide_unmute,
    mute_until,
    slow_mode_seconds,
)

NOW = datetime(2027, 3, 1, 6, 0, tzinfo=timezone.utc)
OPEN = Room("live", chat_open=True, slow_mode=0, premoderation=False)
TEACHER = Author(staff=False, muted_until=None, last_post_at=None)
EXPERT = Author(staff=True, muted_until=None, last_post_at=NOW)


def test_a_teacher_posts():
    assert check_post(OPEN, TEACHER, "  大家好  ", NOW) == ("大家好", "visible")


def test_premoderation_holds_teachers_not_staff():
    room = Room("live", True, 0, premoderation=True)
    assert check_post(room, TEACHER, "hi", NOW)[1] == "held"
    assert check_post(room, EXPERT, "hi", NOW)[1] == "visible"


@pytest.mark.parametrize("room,author,body,code", [
    (OPEN, TEACHER, "", "invalid"),
    (OPEN, TEACHER, 5, "invalid"),
    (OPEN, TEACHER, "x" * 501, "invalid"),
    (Room("scheduled", True, 0, False), TEACHER, "hi", "chat_closed"),
    (Room("ended", True, 0, False), EXPERT, "hi", "chat_closed"),
    (Room("live", False, 0, False), TEACHER, "hi", "chat_closed"),
    (OPEN, Author(False, NOW + timedelta(minutes=5), None), "hi", "muted"),
    (OPEN, Author(False, None, NOW - timedelta(seconds=0.5)), "hi", "rate_limited"),
    (Room("live", True, 30, False), Author(False, None, NOW - timedelta(seconds=10)), "hi", "slow_mode"),
])
def test_refusals(room, author, body, code):
    with pytest.raises(DomainError) as e:
        check_post(room, author, body, NOW)
    assert e.value.code == code


def test_staff_speak_in_a_closed_phase_and_ignore_slow_mode():
    assert check_post(Room("live", False, 60, False), EXPERT, "点评", NOW) == ("点评", "visible")


def test_a_mute_that_has_run_out_and_slow_mode_that_has_passed():
    author = Author(False, NOW - timedelta(seconds=1), NOW - timedelta(seconds=31))
    assert check_post(Room("live", True, 30, False), author, "ok", NOW)[1] == "visible"


def test_settings_are_checked():
    assert mute_until(NOW, 10) == NOW + timedelta(minutes=10) and mute_until(NOW, None) is None
    for bad in (0, -1, "5", 10_000):
        with pytest.raises(DomainError):
            mute_until(NOW, bad)
    assert slow_mode_seconds(0) == 0 and slow_mode_seconds(30) == 30
    with pytest.raises(DomainError):
        slow_mode_seconds(601)


# -- decisions on the facts a command loaded ---------------------------------------------------------

TEACHER_ID, OTHER_ID = 7, 8


def test_a_reply_goes_to_a_visible_message_of_the_activity():
    assert decide_post(OPEN, TEACHER, "同意", 41, "visible", NOW).reply_to == 41
    assert decide_post(OPEN, TEACHER, "同意", None, None, NOW).reply_to is None
    for reply_to, parent in ((41, "hidden"), (41, None), ("41", "visible"), (41, "held")):
        with pytest.raises(DomainError) as e:
            decide_post(OPEN, TEACHER, "同意", reply_to, parent, NOW)
        assert e.value.code == "invalid"


def test_a_muted_teacher_cannot_reply_either():
    with pytest.raises(DomainError) as e:
        decide_post(OPEN, Author(False, NOW + timedelta(minutes=1), None), "hi", 41, "visible", NOW)
    assert e.value.code == "muted" and (NOW + timedelta(minutes=1)).isoformat() in e.value.message


def test_slow_mode_says_how_long_to_wait():
    with pytest.raises(DomainError) as e:
        decide_post(Room("live", True, 30, False), Author(False, None, NOW - timedelta(seconds=10)), "hi", None,
                    None, NOW)
    assert e.value.code == "slow_mode" and "wait 20 more seconds" in e.value.message


def test_a_held_post_under_premoderation():
    assert decide_post(Room("live", True, 0, True), TEACHER, "hi", None, None, NOW).status == "held"


MINE = Message(5, TEACHER_ID, "visible")


def test_a_teacher_deletes_their_own_message_but_nobody_elses():
    change = decide_message("delete", MINE, TEACHER_ID, moderator=False)
    assert change.changes == {"status": "deleted"} and change.event == {"type": "chat_deleted", "message_id": 5}
    with pytest.raises(DomainError) as e:
        decide_message("delete", MINE, OTHER_ID, moderator=False)
    assert e.value.code == "forbidden"
    assert decide_message("delete", MINE, OTHER_ID, moderator=True).changes == {"status": "deleted"}


@pytest.mark.parametrize("action", ["hide", "pin", "unpin", "approve"])
def test_only_moderators_act_on_messages_even_their_own(action):
    with pytest.raises(DomainError) as e:
        decide_message(action, MINE, TEACHER_ID, moderator=False)
    assert e.value.code == "forbidden"


def test_a_message_of_another_activity_is_not_found_before_anything_else():
    with pytest.raises(DomainError) as e:
        decide_message("hide", None, TEACHER_ID, moderator=False)
    assert e.value.code == "not_found"


def test_moderating_messages():
    assert decide_message("hide", MINE, OTHER_ID, True).changes == {"status": "hidden"}
    assert decide_message("pin", MINE, OTHER_ID, True).event["type"] == "chat_pinned"
    unpin = decide_message("unpin", MINE, OTHER_ID, True)
    assert unpin.changes == {"pinned": False} and unpin.event["type"] == "chat_unpinned"
    approved = decide_message("approve", Message(5, TEACHER_ID, "held"), OTHER_ID, True)
    assert approved.changes == {"status": "visible"} and approved.event == {"type": "chat_approved", "message_id": 5}


@pytest.mark.parametrize("action,status", [
    ("delete", "deleted"), ("pin", "hidden"), ("pin", "held"), ("approve", "visible"), ("approve", "hidden"),
])
def test_what_cannot_be_done_to_a_message_in_its_state(action, status):
    with pytest.raises(DomainError) as e:
        decide_message(action, Message(5, TEACHER_ID, status), OTHER_ID, moderator=True)
    assert e.value.code == "invalid"


def test_room_settings():
    assert decide_slow_mode(30) == {"type": "slow_mode", "seconds": 30}
    assert decide_premoderation(True) == {"type": "premoderation", "on": True}
    for bad in (lambda: decide_slow_mode(-1), lambda: decide_premoderation("yes")):
        with pytest.raises(DomainError) as e:
            bad()
        assert e.value.code == "invalid"


def test_muting_a_teacher_for_minutes_or_for_good():
    until, event = decide_mute(Target(OTHER_ID, True), 10, NOW)
    assert until == NOW + timedelta(minutes=10)
    assert event == {"type": "muted", "user_id": OTHER_ID, "until": until.isoformat()}
    assert decide_mute(Target(OTHER_ID, True), None, NOW) == (None, {"type": "muted", "user_id": OTHER_ID,
                                                                     "until": None})
    assert decide_unmute(Target(OTHER_ID, True)) == {"type": "unmuted", "user_id": OTHER_ID}


@pytest.mark.parametrize("target,code", [(Target("8", True), "invalid"), (Target(99, False), "not_found")])
def test_a_target_must_be_a_user(target, code):
    for decide in (lambda t: decide_mute(t, 5, NOW), decide_unmute, decide_remove, decide_readmit):
        with pytest.raises(DomainError) as e:
            decide(target)
        assert e.value.code == code


def test_staff_cannot_be_removed_from_their_own_activity():
    assert decide_remove(Target(OTHER_ID, True)) == {"type": "teacher_removed", "user_id": OTHER_ID}
    for staff in (Target(OTHER_ID, True, staff=True), Target(OTHER_ID, True, organizer=True)):
        with pytest.raises(DomainError) as e:
            decide_remove(staff)
        assert e.value.code == "invalid"
    assert decide_readmit(Target(OTHER_ID, True)) == {"type": "teacher_readmitted", "user_id": OTHER_ID}
