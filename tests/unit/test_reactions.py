"""Live reactions: which taps count, and when. Plain calls: no database, no sockets."""

from __future__ import annotations

import pytest

from collab.errors import DomainError
from sessions.reactions import KINDS, check_kind, decide_reaction


def test_a_known_kind_in_a_live_activity():
    assert check_kind("clap") == "clap" and "like" in KINDS
    decide_reaction("live")


@pytest.mark.parametrize("kind", ["boo", "", None, 1])
def test_unknown_kinds_are_invalid(kind):
    with pytest.raises(DomainError) as e:
        check_kind(kind)
    assert e.value.code == "invalid"


@pytest.mark.parametrize("state", ["scheduled", "lobby", "ended", "archived"])
def test_nothing_to_react_to_outside_a_live_activity(state):
    with pytest.raises(DomainError) as e:
        decide_reaction(state)
    assert e.value.code == "forbidden"
