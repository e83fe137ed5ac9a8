"""Forming breakout groups from the room, and placing a late joiner (sessions/groups/assign.py): every
teacher in exactly one group, groups of the planned size, a school kept together or spread as the plan
says, the same groups for the same seed."""

from __future__ import annotations

import math
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.agenda import ASSIGN, GroupPlan
from sessions.groups.assign import Attendee, Formed, Load, default_name, form, place

FORMED_MODES = ("random", "by_school", "mix_schools", "by_region", "mix_regions")
SCHOOLS = ["", "杭州一中", "杭州二中", "宁波中学", "温州中学", "绍兴一中", "嘉兴三中"]
REGIONS = ["", "杭州", "宁波", "温州"]


@st.composite
def rooms(draw, max_people=120):
    n = draw(st.integers(0, max_people))
    schools = draw(st.lists(st.sampled_from(SCHOOLS), min_size=n, max_size=n))
    regions = draw(st.lists(st.sampled_from(REGIONS), min_size=n, max_size=n))
    return [Attendee(1000 + i, s, r) for i, (s, r) in enumerate(zip(schools, regions))]


sizes = st.integers(2, 12)
seeds = st.integers(0, 2**32)


def where(formed: Formed) -> dict[int, int]:
    return {uid: i for i, members in enumerate(formed.members) for uid in members}


@settings(max_examples=150, deadline=None)
@given(rooms(), sizes, st.sampled_from(FORMED_MODES + ("list",)), seeds)
def test_everyone_in_the_room_is_in_exactly_one_group(people, size, mode, seed):
    roster = {a.user_id: f"名单{a.user_id % 3}" for a in people[::2]} if mode == "list" else None
    formed = form(GroupPlan(size=size, assign=mode), people + people[:3], seed, roster)  # some twice
    everyone = [uid for members in formed.members for uid in members]
    assert sorted(everyone) == sorted(a.user_id for a in people)
    assert len(formed.names) == len(formed.members) == len(set(formed.names))


@settings(max_examples=150, deadline=None)
@given(rooms(), sizes, st.sampled_from(("random", "mix_schools", "mix_regions")), seeds)
def test_random_and_mixed_groups_are_ceil_n_over_size_of_nearly_equal_size(people, size, mode, seed):
    formed = form(GroupPlan(size=size, assign=mode), people, seed)
    assert len(formed.members) == math.ceil(len(people) / size)
    lengths = [len(m) for m in formed.members]
    if lengths:
        assert max(lengths) - min(lengths) <= 1 and max(lengths) <= size


@settings(max_examples=150, deadline=None)
@given(rooms(), sizes, st.sampled_from(("by_school", "by_region")), seeds)
def test_by_school_keeps_a_school_together_when_it_fits_and_gives_a_big_one_groups_of_its_own(people, size, mode, seed):
    attr = "school" if mode == "by_school" else "region"
    formed = form(GroupPlan(size=size, assign=mode), people, seed)
    at = where(formed)
    assert all(0 < len(m) <= size for m in formed.members)
    if people:
        assert len(formed.members) >= math.ceil(len(people) / size)
    of = {a.user_id: getattr(a, attr) for a in people}
    for school, count in Counter(of.values()).items():
        if not school:
            continue
        groups = {at[uid] for uid, s in of.items() if s == school}
        if count <= size:
            assert len(groups) == 1, (school, count)
        else:
            assert len(groups) == math.ceil(count / size)
            own = [formed.members[g] for g in groups]
            # groups of its own, balanced; beside it may sit a small school that fits nowhere else (rather
            # than a teacher alone in a group of one), and filler
            mine = [sum(of[uid] == school for uid in m) for m in own]
            assert max(mine) - min(mine) <= 1
            assert all(len({of[uid] for uid in m} - {school, ""}) <= 1 + len(m) - mine[k] for k, m in enumerate(own))


def test_teachers_without_a_school_fill_the_groups_with_the_fewest():
    people = [Attendee(i, "甲校") for i in range(6)] + [Attendee(10 + i, "乙校") for i in range(6)] + \
             [Attendee(20 + i) for i in range(8)]
    formed = form(GroupPlan(size=8, assign="by_school"), people, 1)
    assert sorted(map(len, formed.members)) == [6, 7, 7]  # 3 groups; the two schools apart, the rest spread
    at = where(formed)
    assert len({at[i] for i in range(6)}) == 1 and len({at[10 + i] for i in range(6)}) == 1
    assert at[0] != at[10]


@settings(max_examples=150, deadline=None)
@given(rooms(), sizes, st.sampled_from(("mix_schools", "mix_regions")), seeds)
def test_mixing_spreads_each_school_over_as_many_groups_as_it_can(people, size, mode, seed):
    attr = "school" if mode == "mix_schools" else "region"
    formed = form(GroupPlan(size=size, assign=mode), people, seed)
    k = len(formed.members)
    at = where(formed)
    of = {a.user_id: getattr(a, attr) for a in people}
    for school, count in Counter(of.values()).items():
        if not school:
            continue
        per_group = Counter(at[uid] for uid, s in of.items() if s == school)
        assert len(per_group) == min(count, k)
        assert max(per_group.values()) <= math.ceil(count / k)


def test_mixing_puts_four_schools_in_every_group_of_four():
    people = [Attendee(s * 10 + i, f"学校{s}") for s in range(4) for i in range(4)]
    formed = form(GroupPlan(size=4, assign="mix_schools"), people, 3)
    assert [len({uid // 10 for uid in m}) for m in formed.members] == [4, 4, 4, 4]
    together = form(GroupPlan(size=4, assign="by_school"), people, 3)
    assert sorted(len({uid // 10 for uid in m}) for m in together.members) == [1, 1, 1, 1]


@settings(max_examples=60, deadline=None)
@given(rooms(), sizes, st.sampled_from(FORMED_MODES), seeds)
def test_the_same_seed_forms_the_same_groups(people, size, mode, seed):
    plan = GroupPlan(size=size, assign=mode)
    assert form(plan, people, seed) == form(plan, list(people), seed)


def test_another_seed_forms_other_groups():
    people = [Attendee(i) for i in range(40)]
    plan = GroupPlan(size=5)
    assert form(plan, people, 1) != form(plan, people, 2)


def test_nobody_in_the_room_makes_no_groups_but_named_ones():
    for mode in FORMED_MODES:
        assert form(GroupPlan(assign=mode), [], 1) == Formed([], [])
    chosen = form(GroupPlan(assign="self_select", names=("代数", "几何")), [Attendee(1), Attendee(2)], 1)
    assert chosen == Formed(["代数", "几何"], [[], []])  # teachers choose for themselves
    listed = form(GroupPlan(assign="list", names=("备用组",)), [], 1, {1: "一组", 2: "二组", 3: "一组"})
    assert listed == Formed(["一组", "二组", "备用组"], [[], [], []])


def test_groups_take_the_plans_names_then_numbers():
    formed = form(GroupPlan(size=2, names=("红队", "蓝队")), [Attendee(i) for i in range(7)], 5)
    assert formed.names == ["红队", "蓝队", "第3组", "第4组"]
    assert default_name(12) == "第12组"


def test_the_list_puts_each_listed_teacher_in_their_group_and_places_the_rest():
    people = [Attendee(i, "甲校" if i < 5 else "乙校") for i in range(1, 13)]
    roster = {3: "二组", 1: "一组", 2: "一组", 4: "二组", 99: "三组"}  # 99 is not in the room
    formed = form(GroupPlan(size=4, assign="list", names=("一组", "机动组")), people, 8, roster)
    assert formed.names == ["二组", "一组", "三组", "机动组"]
    at = where(formed)
    assert at[3] == at[4] == 0 and at[1] == at[2] == 1
    assert sorted(map(len, formed.members)) == [3, 3, 3, 3]  # the 8 not listed, to the fewest first
    crowded = form(GroupPlan(size=2, assign="list"), people, 8, {1: "一组"})  # no room: new groups open
    assert crowded.names[0] == "一组" and all(len(m) <= 2 for m in crowded.members)
    assert len(crowded.members) == 6 and crowded.names[1:] == [f"第{i}组" for i in range(2, 7)]


def load(size, schools=(), regions=()):
    return Load(size, Counter(schools), Counter(regions))


def test_a_late_joiner_goes_where_there_is_most_room():
    groups = [load(3), load(2), load(2), load(4)]
    assert place(GroupPlan(size=4), groups, Attendee(1, "甲校")) == 1  # fewest, the lowest on a tie
    assert place(GroupPlan(size=4, assign="list"), groups, Attendee(1)) == 1
    assert place(GroupPlan(size=4, assign="self_select", names=("a", "b")), groups, Attendee(1)) == 1
    full = [load(5), load(4)]
    assert place(GroupPlan(size=4), full, Attendee(1)) == 1  # nobody is left out when all are full
    with pytest.raises(ValueError):
        place(GroupPlan(), [], Attendee(1))


def test_a_late_joiner_by_school_joins_their_school_while_it_has_room():
    groups = [load(2, {"乙校": 2}), load(3, {"甲校": 3}), load(3, {"甲校": 2, "丙校": 1}), load(4, {"甲校": 4})]
    plan = GroupPlan(size=4, assign="by_school")
    assert place(plan, groups, Attendee(1, "甲校")) == 1  # with 甲校 and room; the fewest of those
    assert place(plan, groups, Attendee(1, "丁校")) == 0  # no group of theirs: the most room
    assert place(plan, groups, Attendee(1, "")) == 0
    assert place(plan, [load(4, {"甲校": 4}), load(3, {"乙校": 3})], Attendee(1, "甲校")) == 1  # theirs is full
    by_region = GroupPlan(size=4, assign="by_region")
    assert place(by_region, [load(1, regions={"宁波": 1}), load(3, regions={"杭州": 3})], Attendee(1, "", "杭州")) == 1


def test_a_late_joiner_when_mixing_joins_a_group_without_their_school():
    groups = [load(2, {"甲校": 2}), load(3, {"乙校": 3}), load(3, {"甲校": 1, "丙校": 2})]
    plan = GroupPlan(size=4, assign="mix_schools")
    assert place(plan, groups, Attendee(1, "甲校")) == 1
    assert place(plan, groups, Attendee(1, "乙校")) == 0
    assert place(plan, [load(4, {"乙校": 4}), load(3, {"甲校": 3})], Attendee(1, "甲校")) == 1  # the other is full
    mix_regions = GroupPlan(size=4, assign="mix_regions")
    assert place(mix_regions, [load(1, regions={"杭州": 1}), load(3, regions={"宁波": 3})], Attendee(1, "", "杭州")) == 1


def test_every_mode_of_the_agenda_is_formed():
    assert set(ASSIGN) == set(FORMED_MODES) | {"list", "self_select"}


def test_a_national_room_of_ten_thousand():
    people = [Attendee(i, f"学校{i % 1500}" if i % 10 else "", f"地区{i % 31}") for i in range(10_000)]
    for mode in FORMED_MODES + ("list",):
        roster = {i: f"名单组{i % 40}" for i in range(0, 10_000, 4)} if mode == "list" else None
        started = time.perf_counter()
        formed = form(GroupPlan(size=8, assign=mode), people, 42, roster)
        took = time.perf_counter() - started
        print(f"\n{mode}: 10,000 attendees into {len(formed.members)} groups in {took * 1000:.1f} ms")
        assert sum(map(len, formed.members)) == 10_000


def test_a_lone_teacher_of_a_small_school_joins_a_large_schools_group_rather_than_sitting_alone():
    from sessions.agenda import GroupPlan
    from sessions.groups.assign import Attendee, form

    people = [Attendee(i, "大学校") for i in range(1, 10)] + [Attendee(100, "村小")]
    formed = form(GroupPlan(size=8, assign="by_school"), people, seed=3)
    assert sorted(len(g) for g in formed.members) == [5, 5]  # not 4, 5 and a group of one
    assert sum(100 in g for g in formed.members) == 1
