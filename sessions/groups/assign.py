"""Putting the room into groups when a group phase starts, and a late joiner into one after. No I/O.

`form` takes the attendees in the room at that moment and the phase's plan (docs/groups.md) and says
who goes where, in one pass: the caller stores it in one statement. `place` picks the group for a
teacher who comes later. Both are deterministic: `form` for a seed, `place` always, so two nodes asked
the same question give the same answer.

The modes:
- random, mix_schools, mix_regions: ceil(n / size) groups whose sizes differ by at most one. Mixing
  deals each school's (region's) teachers round-robin across the groups, so a school of m teachers
  is in min(m, groups) groups, which is as many schools per group as the room allows.
- by_school, by_region: a school's teachers together. A school larger than `size` fills groups of its
  own, balanced; the smaller schools are packed whole (first-fit decreasing) into groups of at most
  `size`; teachers who named no school are the filler, spread over the groups with the fewest members.
  No group exceeds `size`; there may be more than ceil(n / size) groups when schools do not pack.
- list: the organizer's roster names each listed teacher's group; the groups are the roster's names in
  the order first seen, then the plan's names the roster did not use. Teachers not on the list are
  placed as late joiners are; when every group is full, a new group takes them.
- self_select: the plan's named groups, empty: teachers choose.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sessions.agenda import GroupPlan


@dataclass(frozen=True, slots=True)
class Attendee:
    user_id: int
    school: str = ""
    region: str = ""


@dataclass
class Formed:
    """Group i (its number is i + 1) is called names[i] and holds the user ids members[i]."""

    names: list[str]
    members: list[list[int]]


@dataclass
class Load:
    """A group as it stands now, as much as `place` needs of it."""

    size: int
    schools: Counter[str] = field(default_factory=Counter)
    regions: Counter[str] = field(default_factory=Counter)


def default_name(number: int) -> str:
    return f"第{number}组"


def trait(mode: str) -> str | None:
    """What a plan groups by: "school" or "region" (keeping together or mixing), or None."""
    if mode in ("by_school", "mix_schools"):
        return "school"
    if mode in ("by_region", "mix_regions"):
        return "region"
    return None


def _attr(mode: str) -> str:
    return trait(mode) or "school"


def form(plan: GroupPlan, attendees: Sequence[Attendee], seed: int,
         roster: Mapping[int, str] | None = None) -> Formed:
    """The groups of a phase that starts with `attendees` in the room. Each attendee is in exactly one
    group (one listed twice counts once)."""
    people = list({a.user_id: a for a in reversed(attendees)}.values())[::-1]  # the first of each id
    rng = random.Random(seed)
    if plan.assign == "self_select":
        return Formed(list(plan.names), [[] for _ in plan.names])
    if plan.assign == "list":
        return _listed(plan, people, rng, roster or {})
    if not people:
        return Formed([], [])
    if plan.assign in ("by_school", "by_region"):
        groups = _together(plan.size, people, _attr(plan.assign), rng)
    else:
        count = -(-len(people) // plan.size)
        if plan.assign in ("mix_schools", "mix_regions"):
            named, unnamed = _by(people, _attr(plan.assign), rng)
            # each school's teachers one after another: dealt round-robin, a school of m lands in m
            # consecutive groups, and shares a group with itself only when it outnumbers the groups
            order = [uid for ids in named for uid in ids] + unnamed
        else:
            order = [a.user_id for a in people]
            rng.shuffle(order)
        groups = [order[i::count] for i in range(count)]  # dealt round-robin: sizes differ by at most one
    return Formed(_names(plan, len(groups)), groups)


def _names(plan: GroupPlan, count: int) -> list[str]:
    return [plan.names[i] if i < len(plan.names) else default_name(i + 1) for i in range(count)]


def _by(people: Sequence[Attendee], attr: str, rng: random.Random) -> tuple[list[list[int]], list[int]]:
    """The attendees as one list per school (region), each shuffled, the lists in a shuffled order;
    and apart, those who named none."""
    by: dict[str, list[int]] = defaultdict(list)
    for a in people:
        by[getattr(a, attr)].append(a.user_id)
    unnamed = by.pop("", [])
    named = [by[k] for k in sorted(by)]
    rng.shuffle(named)
    for ids in [*named, unnamed]:
        rng.shuffle(ids)
    return named, unnamed


def _together(size: int, people: Sequence[Attendee], attr: str, rng: random.Random) -> list[list[int]]:
    named, filler = _by(people, attr, rng)
    groups: list[list[int]] = []
    small = []
    for ids in named:
        if len(ids) > size:  # a school of its own groups, balanced
            own = -(-len(ids) // size)
            groups.extend(ids[i::own] for i in range(own))
        else:
            small.append(ids)
    # The smaller schools, whole, largest first, each into the first group with room for it: `room[c]`
    # is a heap of the groups with exactly c places left, so finding the first is a look at each c.
    own_groups = len(groups)  # the large schools' groups come first
    room: list[list[int]] = [[] for _ in range(size + 1)]
    for _ in range(max(-(-len(people) // size) - len(groups), 0)):
        groups.append([])
        room[size].append(len(groups) - 1)  # ascending: a heap as it is
    small.sort(key=len, reverse=True)  # stable: schools of one size keep their shuffled order
    for ids in small:
        fits = [room[c][0] for c in range(len(ids), size + 1) if room[c]]
        beside = [i for i in range(own_groups) if len(groups[i]) + len(ids) <= size]
        if fits:
            index = min(fits)
            left = size - len(groups[index])
            heapq.heappop(room[left])
        elif beside:  # no group of its own size has room: beside a large school, rather than alone
            index = min(beside, key=lambda i: (len(groups[i]), i))
            groups[index].extend(ids)
            continue
        else:
            groups.append([])
            index, left = len(groups) - 1, size
        groups[index].extend(ids)
        heapq.heappush(room[left - len(ids)], index)
    # The filler, each to the group with the fewest members that has room. They all fit: the groups
    # hold at least ceil(n / size) * size.
    fewest = [(len(g), i) for i, g in enumerate(groups) if len(g) < size]
    heapq.heapify(fewest)
    for uid in filler:
        n, i = heapq.heappop(fewest)
        groups[i].append(uid)
        if n + 1 < size:
            heapq.heappush(fewest, (n + 1, i))
    return [g for g in groups if g]  # a group the packing left empty and no filler reached


def _listed(plan: GroupPlan, people: Sequence[Attendee], rng: random.Random,
            roster: Mapping[int, str]) -> Formed:
    names = list(dict.fromkeys([*roster.values(), *plan.names]))
    index = {name: i for i, name in enumerate(names)}
    members: list[list[int]] = [[] for _ in names]
    unlisted = []
    for a in people:
        if a.user_id in roster:
            members[index[roster[a.user_id]]].append(a.user_id)
        else:
            unlisted.append(a.user_id)
    # Those not on the list as late joiners would be (`place`: the fewest members first), with new
    # groups opened first when the listed groups have no room for them all.
    room = sum(max(plan.size - len(m), 0) for m in members)
    for _ in range(-(-max(len(unlisted) - room, 0) // plan.size)):
        names.append(_unused_name(len(names) + 1, index))
        index[names[-1]] = len(names) - 1
        members.append([])
    rng.shuffle(unlisted)
    fewest = [(len(m), i) for i, m in enumerate(members)]
    heapq.heapify(fewest)
    for uid in unlisted:
        n, i = heapq.heappop(fewest)
        members[i].append(uid)
        heapq.heappush(fewest, (n + 1, i))
    return Formed(names, members)


def _unused_name(number: int, taken: Mapping[str, int]) -> str:
    name = default_name(number)
    while name in taken:
        number += 1
        name = default_name(number)
    return name


def place(plan: GroupPlan, groups: Sequence[Load], newcomer: Attendee) -> int:
    """The index of the group a late joiner joins: the one with the most room (the fewest members, the
    lowest index on a tie). By school (region), a group that already holds the newcomer's school and is
    below size comes first; mixing, a group below size without it comes first."""
    if not groups:
        raise ValueError("there are no groups to join")
    candidates = range(len(groups))
    if plan.assign in ("by_school", "by_region", "mix_schools", "mix_regions"):
        attr = _attr(plan.assign)
        mine = getattr(newcomer, attr)
        if mine:
            counts = [getattr(g, attr + "s") for g in groups]  # Load.schools, Load.regions
            together = plan.assign.startswith("by_")
            preferred = [i for i in candidates if groups[i].size < plan.size
                         and (counts[i][mine] > 0) == together]
            if preferred:
                candidates = preferred
    return min(candidates, key=lambda i: (groups[i].size, i))
