"""Q&A rules: who may ask when, what a vote counts, what moderators may do to a question, and the order
questions are shown in. Plain calls on facts: no database, no sockets."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from collab.errors import DomainError
from sessions.questions import (
    Asked,
    decide_answer,
    decide_approval,
    decide_approve,
    decide_dismiss,
    decide_retract,
    decide_spotlight,
    decide_spotlight_off,
    decide_votes,
    ordered,
)
from sessions.questions import decide_ask as check_ask
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


# -- votes and moderation, decided on the facts a command loaded -------------------------------------

A, OTHER = 1, 2
T1, T2 = 10, 11


def test_votes_sent_together():
    found = {5: (A, "open"), 6: (A, "dismissed"), 7: (OTHER, "open"), 8: (A, "answered")}
    votes = [(A, 5, T1), (A, 5, T2), (A, 5, T1), (A, 6, T1), (A, 7, T1), (A, 99, T1), (A, 8, T1)]
    outcomes, fresh = decide_votes(found, votes)
    assert fresh == {(5, T1): 0, (5, T2): 1}
    codes = [o.code if isinstance(o, DomainError) else o for o in outcomes]
    assert codes == [None, None, "already_voted", "question_closed", "not_found", "not_found", "question_closed"]


def test_a_closed_question_cannot_be_upvoted_or_unvoted():
    _, fresh = decide_votes({5: (A, "dismissed")}, [(A, 5, T1)])
    assert not fresh
    for status, voted, code in (("dismissed", True, "question_closed"), ("answered", True, "question_closed"),
                                (None, True, "not_found"), ("open", False, "invalid")):
        with pytest.raises(DomainError) as e:
            decide_retract(status, voted)
        assert e.value.code == code
    decide_retract("open", True)  # taken back


NOW = datetime(2027, 3, 1, 6, 0, tzinfo=timezone.utc)


def test_an_expert_answers_in_text_or_live():
    change = decide_answer(Asked(5, "open"), False, "  先复习旧知 ", 3, NOW)
    assert change.changes == {"status": "answered", "answered_live": False, "answer": "先复习旧知",
                              "answered_by": 3, "answered_at": NOW}
    assert change.event == {"type": "question_answered", "question_id": 5, "answer": "先复习旧知", "live": False}
    live = decide_answer(Asked(5, "answered"), True, None, 3, NOW)
    assert live.changes["answer"] is None and live.event["live"] is True


@pytest.mark.parametrize("q,live,text,code", [
    (None, False, "a", "not_found"), (Asked(5, "open"), "yes", None, "invalid"), (Asked(5, "open"), False, " ", "invalid"),
    (Asked(5, "open"), False, "x" * 2001, "invalid"), (Asked(5, "dismissed"), False, "a", "invalid"),
    (Asked(5, "pending"), True, None, "invalid"),
])
def test_answers_refused(q, live, text, code):
    with pytest.raises(DomainError) as e:
        decide_answer(q, live, text, 3, NOW)
    assert e.value.code == code


def test_one_question_in_the_spotlight_at_a_time():
    on = decide_spotlight(Asked(5, "open"))
    assert on.clear_spotlight and on.changes == {"spotlight": True}
    assert on.event == {"type": "question_spotlight", "question_id": 5}
    off = decide_spotlight_off()
    assert off.clear_spotlight and off.changes == {} and off.event["question_id"] is None
    for status in ("dismissed", "pending"):
        with pytest.raises(DomainError) as e:
            decide_spotlight(Asked(5, status))
        assert e.value.code == "invalid"


def test_dismissing_takes_a_question_out_of_the_spotlight():
    assert decide_dismiss(Asked(5, "open")).changes == {"status": "dismissed", "spotlight": False}


def test_approval_of_held_questions():
    assert decide_approve(Asked(5, "pending")).changes == {"status": "open"}
    with pytest.raises(DomainError) as e:
        decide_approve(Asked(5, "open"))
    assert e.value.code == "invalid"
    assert decide_approval(True) == {"type": "qa_approval", "on": True}
    with pytest.raises(DomainError):
        decide_approval(1)
