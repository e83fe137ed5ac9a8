"""Q&A rules: who may ask when, and the order questions are shown in."""

from __future__ import annotations

import pytest

from collab.errors import DomainError
from sessions.questions import decide_ask as check_ask, ordered
from sessions.records import Question


def test_asking():
    assert check_ask("live", True, False, " 怎么设计导入? ", False) == ("怎么设计导入?", "open")
    assert check_ask("live", True, False, "q", True)[1] == "pending"  # held for approval
    assert check_ask("live", False, True, "q", True)[1] == "open"  # staff: neither phase nor queue


@pytest.mark.parametrize("state,open_,body,code", [
    ("live", True, "", "invalid"), ("live", True, "x" * 301, "invalid"),
    ("scheduled", True, "q", "questions_closed"), ("live", False, "q", "questions_closed"),
])
def test_refusals(state, open_, body, code):
    with pytest.raises(DomainError) as e:
        check_ask(state, open_, False, body, False)
    assert e.value.code == code


def q(id_, votes, spotlight=False):
    return Question(id=id_, votes=votes, spotlight=spotlight)


def test_order_spotlight_first_then_votes_then_age():
    qs = [q(1, 5), q(2, 9), q(3, 5), q(4, 0, spotlight=True)]
    assert [x.id for x in ordered(qs, "votes")] == [4, 2, 1, 3]
    assert [x.id for x in ordered(qs, "time")] == [4, 1, 2, 3]
