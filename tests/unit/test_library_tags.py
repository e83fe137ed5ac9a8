"""Library tags as people type them: commas of either width, 、, spaces around, repeats."""

import pytest

from collab.errors import DomainError
from collab.studios.library import parse_tags


def test_tags_split_on_commas_of_either_width_and_the_enumeration_comma():
    assert parse_tags("课件, 八年级，一次函数、教学设计 ,课件") == "|课件|八年级|一次函数|教学设计|"
    assert parse_tags(["课件", " 练习 "]) == "|课件|练习|"
    assert parse_tags("") == ""


def test_bad_tags_are_refused():
    with pytest.raises(DomainError):
        parse_tags("a|b")
    with pytest.raises(DomainError):
        parse_tags(5)
