"""Poll rules: what a poll may be, what an answer may be, how answers count."""

from __future__ import annotations

import pytest

from collab.errors import DomainError
from sessions.voting import check_choices, count, parse_poll


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
