"""Raised hands: when a hand may go up, who lowers it, whom an expert may call on. Plain calls on facts:
no database, no sockets."""

from __future__ import annotations

import pytest

from collab.errors import DomainError
from sessions.floor import decide_call, decide_lower, decide_raise

ME, OTHER = 10, 11


def test_a_raised_hand_joins_the_back_of_the_queue():
    event, position = decide_raise("live", True, ME, None, ahead=3)
    assert event == {"type": "hand_raised", "user_id": ME} and position == 4
    assert decide_raise("live", True, ME, "lowered", ahead=0)[1] == 1  # raised again after lowering


@pytest.mark.parametrize("state,allowed,hand,code", [
    ("live", False, None, "hands_closed"), ("lobby", True, None, "hands_closed"), ("live", True, "raised", "already_raised"),
])
def test_raising_refused(state, allowed, hand, code):
    with pytest.raises(DomainError) as e:
        decide_raise(state, allowed, ME, hand, 0)
    assert e.value.code == code


def test_a_teacher_lowers_their_own_hand_and_a_called_teacher_declines():
    assert decide_lower(ME, ME, False, "raised") == {"type": "hand_lowered", "user_id": ME}
    assert decide_lower(ME, ME, False, "called") == {"type": "hand_lowered", "user_id": ME, "declined": True}


def test_only_moderators_lower_someone_elses_hand():
    with pytest.raises(DomainError) as e:
        decide_lower(OTHER, ME, False, "raised")
    assert e.value.code == "forbidden"
    assert decide_lower(OTHER, ME, True, "raised") == {"type": "hand_lowered", "user_id": OTHER}
    with pytest.raises(DomainError) as e:  # a moderator does not decline for the teacher they called
        decide_lower(OTHER, ME, True, "called")
    assert e.value.code == "not_raised"


@pytest.mark.parametrize("user_id,hand,code", [("10", "raised", "invalid"), (ME, None, "not_raised"),
                                               (ME, "lowered", "not_raised"), (ME, "on_stage", "not_raised")])
def test_lowering_refused(user_id, hand, code):
    with pytest.raises(DomainError) as e:
        decide_lower(user_id, ME, True, hand)
    assert e.value.code == code


def test_an_expert_calls_on_a_raised_hand_only():
    assert decide_call(ME, "raised", "李老师") == {"type": "hand_called", "user_id": ME, "name": "李老师"}
    assert decide_call(ME, "raised", None)["name"] == ""
    for hand in (None, "lowered", "called"):
        with pytest.raises(DomainError) as e:
            decide_call(ME, hand, "李老师")
        assert e.value.code == "not_raised"
