"""A node's copy of a group phase keeps each group's size as teachers come, choose and are moved, without
counting every member at each ask (sessions/groups/book.py)."""

from __future__ import annotations

from sessions.groups.book import Group, PhaseBook


def test_sizes_follow_members_through_late_joins_moves_and_forgetting():
    groups = {10: Group(10, 1, "第1组", None, None), 11: Group(11, 2, "第2组", None, None)}
    book = PhaseBook(groups, {1: 10, 2: 10, 3: 11})
    assert book.counts() == {10: 2, 11: 1}
    book.put(4, 11)  # a late joiner
    book.put(1, 11)  # moved
    book.put(1, 11)  # told twice (its own node, then the broadcast): counted once
    assert book.counts() == {10: 1, 11: 3}
    book.drop(2)
    book.drop(99)  # someone this node never knew
    assert book.counts() == {10: 0, 11: 3} and book.member_of == {3: 11, 4: 11, 1: 11}
    assert [g.number for g in book.by_number()] == [1, 2]
