"""A group-discussion phase in the agenda: its plan, the defaults, the errors that name the field, and
the plan kept through storage and edits."""

from __future__ import annotations

import pytest

from sessions.agenda import (
    DEFAULTS,
    AgendaError,
    GroupPlan,
    group_plan_json,
    parse_group_plan,
    parse_schedule,
    schedule_json,
)

BASE = {"title": "八年级数学分组研讨", "starts_at": "2026-12-01T14:00:00+08:00",
        "ends_at": "2026-12-01T16:30:00+08:00",
        "agenda": [{"kind": "lesson_display", "minutes": 40},
                   {"kind": "group_discussion", "title": "分组研讨", "minutes": 20,
                    "groups": {"size": 6, "assign": "by_school",
                               "questions": ["  本节课的教学目标达成了吗？ ", "", "哪个环节最值得借鉴？"]}},
                   {"kind": "expert_guidance", "minutes": 20}]}


def agenda(*phases):
    return {**BASE, "agenda": list(phases)}


def test_a_group_phase_carries_its_plan():
    s = parse_schedule(BASE)
    plan = s.phases[1].groups
    assert plan == GroupPlan(size=6, assign="by_school",
                             questions=("本节课的教学目标达成了吗？", "哪个环节最值得借鉴？"))  # stripped, blanks dropped
    assert s.phases[0].groups is None and s.phases[2].groups is None


def test_a_group_phase_talks_in_its_groups_and_not_in_the_main_room():
    assert DEFAULTS["group_discussion"] == {"chat": True, "questions": False, "hands": False, "polls": False}
    p = parse_schedule(agenda({"kind": "group_discussion"})).phases[0]
    assert (p.chat, p.questions, p.hands, p.polls) == (True, False, False, False)
    assert p.groups == GroupPlan()  # no plan given: eight to a group, at random
    assert p.groups.size == 8 and p.groups.assign == "random"
    assert parse_schedule(agenda({"kind": "group_discussion", "groups": None})).phases[0].groups == GroupPlan()


def test_self_select_names_the_groups_teachers_choose_from():
    p = parse_schedule(agenda({"kind": "group_discussion", "groups": {
        "assign": "self_select", "names": [" 代数组 ", "几何组", "统计组"]}})).phases[0]
    assert p.groups.names == ("代数组", "几何组", "统计组")


@pytest.mark.parametrize("groups,field,words", [
    ({"size": 1}, "agenda[1].groups.size", "from 2 to 50"),
    ({"size": 51}, "agenda[1].groups.size", "from 2 to 50"),
    ({"size": "8"}, "agenda[1].groups.size", "whole number"),
    ({"size": True}, "agenda[1].groups.size", "whole number"),
    ({"assign": "alphabetical"}, "agenda[1].groups.assign", "one of random"),
    ({"questions": ["问"] * 11}, "agenda[1].groups.questions", "at most 10"),
    ({"questions": ["问" * 301]}, "agenda[1].groups.questions", "questions[0] is longer than 300"),
    ({"questions": "一个问题"}, "agenda[1].groups.questions", "list of texts"),
    ({"questions": [1]}, "agenda[1].groups.questions", "list of texts"),
    ({"names": ["甲组", "  "]}, "agenda[1].groups.names", "names[1] is empty"),
    ({"names": ["组" * 101]}, "agenda[1].groups.names", "longer than 100"),
    ({"names": ["甲组", "乙组", "甲组"]}, "agenda[1].groups.names", "甲组 is there twice"),
    ({"names": [f"组{i}" for i in range(201)]}, "agenda[1].groups.names", "at most 200"),
    ({"assign": "self_select"}, "agenda[1].groups.names", "from 2 to 200"),
    ({"assign": "self_select", "names": ["唯一组"]}, "agenda[1].groups.names", "from 2 to 200"),
    ({"assign": "self_select", "names": [f"组{i}" for i in range(201)]}, "agenda[1].groups.names", "from 2 to 200"),
    ("eight", "agenda[1].groups", "an object"),
])
def test_a_bad_plan_names_the_field(groups, field, words):
    data = agenda({"kind": "discussion"}, {"kind": "group_discussion", "groups": groups})
    with pytest.raises(AgendaError) as e:
        parse_schedule(data)
    assert e.value.field == field and e.value.code == "invalid"
    assert words in e.value.message


def test_only_a_group_phase_has_groups():
    with pytest.raises(AgendaError) as e:
        parse_schedule(agenda({"kind": "lesson_display"}, {"kind": "discussion", "groups": {"size": 4}}))
    assert e.value.field == "agenda[1].groups"
    assert parse_schedule(agenda({"kind": "discussion", "groups": None})).phases[0].groups is None


def test_the_plan_survives_storage_and_edits():
    s = parse_schedule(BASE)
    stored = schedule_json(s)
    assert stored["agenda"][1]["groups"] == {"size": 6, "assign": "by_school", "names": [],
                                             "questions": ["本节课的教学目标达成了吗？", "哪个环节最值得借鉴？"]}
    assert stored["agenda"][0]["groups"] is None
    assert parse_schedule(stored) == s  # what was written reads back the same
    edited = parse_schedule({"title": "改过的标题"}, current=s)  # an edit that leaves the agenda alone keeps it
    assert edited.title == "改过的标题" and edited.phases == s.phases
    plan = GroupPlan(size=4, assign="self_select", questions=("问题一",), names=("一组", "二组"))
    assert parse_group_plan(group_plan_json(plan)) == plan
    assert group_plan_json(None) is None


def test_changing_a_group_phase_to_another_kind_needs_its_plan_dropped():
    s = parse_schedule(BASE)
    data = schedule_json(s)
    data["agenda"][1]["kind"] = "discussion"  # the form sends the kind without the plan; a client that kept it is told
    with pytest.raises(AgendaError) as e:
        parse_schedule(data)
    assert e.value.field == "agenda[1].groups"
