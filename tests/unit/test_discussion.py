"""Who may post, when, and what becomes of the post."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sessions.discussion import Author, DiscussionError, Room, check_post, mute_until, slow_mode_seconds

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
    with pytest.raises(DiscussionError) as e:
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
        with pytest.raises(DiscussionError):
            mute_until(NOW, bad)
    assert slow_mode_seconds(0) == 0 and slow_mode_seconds(30) == 30
    with pytest.raises(DiscussionError):
        slow_mode_seconds(601)
