"""Which group phase a command acts in, and the group commands' own rules (sessions/groups/rules.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from collab.errors import DomainError
from sessions.groups import rules

PLAN = {"size": 4, "assign": "self_select", "names": ["甲", "乙"]}
NOW = datetime(2027, 5, 1, 6, 0, tzinfo=timezone.utc)


def view(state: str, current: int | None, plans=(None, PLAN, None, {"size": 6, "assign": "random"}, None)):
    return SimpleNamespace(state=state, current_phase=current, phases=[SimpleNamespace(groups=p) for p in plans])


def test_the_running_group_phase_is_the_current_phase_of_a_live_activity_when_it_has_groups():
    assert rules.running_group_phase(view("live", 1)) == rules.GroupPhase.stored(1, PLAN)
    assert rules.running_group_phase(view("live", 2)) is None
    assert rules.running_group_phase(view("lobby", None)) is None
    assert rules.running_group_phase(view("ended", 1)) is None


def test_after_a_group_phase_its_groups_are_still_the_ones_addressed_for_the_report_back():
    assert rules.last_group_phase(view("live", 2)).phase == 1  # the report-back follows the groups
    assert rules.last_group_phase(view("live", 4)).phase == 3
    assert rules.last_group_phase(view("live", 0)) is None  # none has run yet
    assert rules.last_group_phase(view("ended", 4)).phase == 3  # the record: the last one
    assert rules.last_group_phase(view("scheduled", None)) is None


def test_a_group_message_follows_the_rooms_limits_and_staff_are_exempt():
    assert rules.check_post("  我们组认为……  ", None, None, False, NOW) == "我们组认为……"
    for body in ("", "   ", None, 5, "x" * 501):
        with pytest.raises(DomainError) as e:
            rules.check_post(body, None, None, False, NOW)
        assert e.value.code == "invalid"
    with pytest.raises(DomainError) as e:
        rules.check_post("hi", NOW + timedelta(minutes=5), None, False, NOW)
    assert e.value.code == "muted"
    with pytest.raises(DomainError) as e:
        rules.check_post("hi", None, NOW - timedelta(milliseconds=300), False, NOW)
    assert e.value.code == "rate_limited"
    assert rules.check_post("hi", NOW + timedelta(minutes=5), NOW, True, NOW) == "hi"


def test_choosing_is_only_for_self_selection_and_only_into_a_group_with_room():
    phase = rules.GroupPhase.stored(1, PLAN)
    rules.check_choice(phase, None, 7, 3)
    with pytest.raises(DomainError) as e:
        rules.check_choice(phase, None, 7, 4)
    assert e.value.code == "group_full"
    with pytest.raises(DomainError) as e:
        rules.check_choice(rules.GroupPhase.stored(3, {"size": 6, "assign": "random"}), None, 7, 0)
    assert e.value.code == "not_self_select"
    with pytest.raises(DomainError) as e:
        rules.check_choice(phase, 7, 7, 1)
    assert e.value.code == "invalid"


def test_the_rapporteur_is_one_of_the_group():
    assert rules.check_rapporteur({3, 4}, 4) == 4
    for who in (5, "4", None, True):
        with pytest.raises(DomainError) as e:
            rules.check_rapporteur({3, 4}, who)
        assert e.value.code == "not_in_group"
