"""Schedules and agendas: what an organizer may submit, and the errors that point at the field."""

from __future__ import annotations

import pytest

from sessions.agenda import DEFAULTS, AgendaError, parse_schedule, planned_minutes, schedule_json

BASE = {"title": "初中数学 “函数的概念” 同课异构", "starts_at": "2026-12-01T14:00:00+08:00",
        "ends_at": "2026-12-01T16:30:00+08:00", "level": "national", "subject": "math", "grade": "8",
        "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 45},
                   {"kind": "discussion", "minutes": 30},
                   {"kind": "expert_guidance", "title": "专家点评", "minutes": 30, "questions": False},
                   {"kind": "online_interaction", "minutes": 20}]}


def test_a_full_schedule():
    s = parse_schedule(BASE)
    assert [p.kind for p in s.phases] == ["lesson_display", "discussion", "expert_guidance", "online_interaction"]
    assert planned_minutes(s) == 125
    assert s.phases[1].title == "discussion"  # a default title from the kind
    assert s.phases[0].chat is False and s.phases[1].chat is True  # kind defaults
    assert s.phases[2].questions is False  # the organizer's choice wins over the default
    assert s.visibility == "registered" and s.registration == "open" and s.capacity == 10_000


@pytest.mark.parametrize("change,field", [
    ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"level": "galaxy"}, "level"),
    ({"starts_at": "tomorrow"}, "starts_at"),
    ({"starts_at": "2026-12-01T14:00:00"}, "starts_at"),  # no time zone
    ({"ends_at": "2026-12-01T13:00:00+08:00"}, "ends_at"),  # before the start
    ({"ends_at": "2026-12-03T13:00:00+08:00"}, "ends_at"),  # over a day
    ({"capacity": 0}, "capacity"),
    ({"capacity": "many"}, "capacity"),
    ({"visibility": "secret"}, "visibility"),
    ({"agenda": "all of it"}, "agenda"),
    ({"agenda": [{"kind": "nap"}]}, "kind"),
    ({"agenda": [{"kind": "discussion", "minutes": 0}]}, "agenda[0].minutes"),
    ({"agenda": [{"kind": "discussion", "chat": "yes"}]}, "agenda[0].chat"),
    ({"agenda": [{"kind": "discussion"}] * 21}, "agenda"),
])
def test_errors_name_the_field(change, field):
    with pytest.raises(AgendaError) as e:
        parse_schedule({**BASE, **change})
    assert e.value.field == field


def test_an_edit_keeps_what_it_does_not_mention():
    s = parse_schedule(BASE)
    edited = parse_schedule({"title": "改名了", "capacity": 500}, current=s)
    assert edited.title == "改名了" and edited.capacity == 500
    assert edited.phases == s.phases and edited.starts_at == s.starts_at


def test_json_round_trip():
    s = parse_schedule(BASE)
    assert parse_schedule(schedule_json(s)) == s


def test_every_kind_has_defaults_for_every_permission():
    for kind, perms in DEFAULTS.items():
        assert set(perms) == {"chat", "questions", "hands", "polls"}, kind
