"""Poll rules: what a poll may be and when one opens, what an answer may be, how answers count, what
closing and showing results do. Plain calls on facts: no database, no sockets."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from collab.errors import DomainError
from sessions.voting import (
    Asked,
    check_choices,
    count,
    decide_answers,
    decide_close,
    decide_open,
    decide_results,
    decide_show,
    parse_poll,
)


def test_parse_and_count():
    q, options, multiple, anonymous = parse_poll({"question": " 本课的亮点? ", "options": ["导入", "探究", "小结"],
                                                  "multiple": True})
    assert q == "本课的亮点?" and options == ["导入", "探究", "小结"] and multiple and anonymous
    assert count(3, [[0, 1], [1], [1, 2]]) == {"counts": [1, 3, 1], "voters": 3}


@pytest.mark.parametrize("args", [
    {"question": "", "options": ["a", "b"]}, {"question": "q", "options": ["a"]},
    {"question": "q", "options": ["a", ""]}, {"question": "q", "options": ["a"] * 11},
    {"question": "q", "options": ["a", "b"], "multiple": "yes"},
])
def test_bad_polls(args):
    with pytest.raises(DomainError):
        parse_poll(args)


@pytest.mark.parametrize("choices,multiple,ok", [
    ([0], False, True), ([0, 2], True, True), ([0, 1], False, False), ([], True, False),
    ([3], True, False), ([1, 1], True, False), (["0"], False, False), (None, False, False),
])
def test_choices(choices, multiple, ok):
    if ok:
        assert check_choices(choices, 3, multiple) == sorted(choices)
    else:
        with pytest.raises(DomainError):
            check_choices(choices, 3, multiple)


A, OTHER = 1, 2
T1, T2 = 10, 11
NOW = datetime(2027, 3, 1, 6, 0, tzinfo=timezone.utc)
OPEN = Asked(3, A, "open", 3, multiple=False)
CLOSED = Asked(4, A, "closed", 2, multiple=False)


def test_a_poll_opens_only_in_a_live_phase_that_allows_polls():
    decide_open("live", True)
    for state, allowed in (("live", False), ("lobby", True), ("ended", True)):
        with pytest.raises(DomainError) as e:
            decide_open(state, allowed)
        assert e.value.code == "polls_closed"


def test_answers_sent_together_keep_each_teachers_last_one():
    answers = [(A, 3, T1, [0]), (A, 3, T2, [1]), (A, 3, T1, [2]), (A, 3, T2, [0, 1]), (A, 4, T1, [0]),
               (OTHER, 3, T1, [0]), (A, 99, T1, [0])]
    outcomes, latest = decide_answers({3: OPEN, 4: CLOSED}, answers)
    assert latest == {(3, T1): [2], (3, T2): [1]}  # T2's second answer was refused, so the first stands
    codes = [o.code if isinstance(o, DomainError) else o for o in outcomes]
    assert codes == [[0], [1], [2], "invalid", "poll_closed", "not_found", "not_found"]


def test_an_answer_to_a_closed_poll_is_refused():
    outcomes, latest = decide_answers({4: CLOSED}, [(A, 4, T1, [1])])
    assert latest == {} and outcomes[0].code == "poll_closed"


def test_closing_a_poll_publishes_its_results():
    change = decide_close(OPEN, NOW)
    assert change.changes == {"status": "closed", "closed_at": NOW} and change.with_results
    assert change.event == {"type": "poll_closed", "poll_id": 3}
    with pytest.raises(DomainError) as e:
        decide_close(CLOSED, NOW)
    assert e.value.code == "poll_closed"
    with pytest.raises(DomainError) as e:
        decide_close(None, NOW)
    assert e.value.code == "not_found"


def test_showing_and_hiding_results():
    shown = decide_show(OPEN, True)
    assert shown.changes == {"results_shown": True} and shown.with_results
    assert shown.event == {"type": "poll_results_shown", "poll_id": 3}
    hidden = decide_show(OPEN, False)
    assert hidden.event["type"] == "poll_results_hidden" and not hidden.with_results
    assert decide_show(CLOSED, False).with_results  # a closed poll's event still carries its counts
    with pytest.raises(DomainError) as e:
        decide_show(OPEN, "yes")
    assert e.value.code == "invalid"


def test_who_sees_results_and_who_chose_what():
    with pytest.raises(DomainError) as e:
        decide_results(OPEN, moderator=False)
    assert e.value.code == "forbidden"
    shown = Asked(3, A, "open", 3, False, results_shown=True, anonymous=False)
    assert decide_results(shown, moderator=False) is False  # the counts, not the names
    assert decide_results(shown, moderator=True) is True
    assert decide_results(OPEN, moderator=True) is False  # anonymous: not even moderators see names
