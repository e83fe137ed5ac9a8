"""What a group command may do, decided from the facts its handler loaded. No I/O.

Each `decide_*` returns what to record and publish or raises a `DomainError` with a stable code
(docs/groups.md, "Errors"). Group chat follows the main discussion's rules where they make sense for
six or eight people: the same length limit, one post a second, and a teacher muted in the activity is
muted in the groups too. There is no pre-moderation: moderators hide afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collab.errors import DomainError
from sessions.agenda import GroupPlan, parse_group_plan
from sessions.discussion import MAX_BODY, MIN_INTERVAL


@dataclass(frozen=True)
class GroupPhase:
    """The group phase a command acts in: its position and plan."""

    phase: int
    plan: GroupPlan

    @classmethod
    def stored(cls, phase: int, plan: dict[str, Any]) -> GroupPhase:
        """From the phase's stored plan (as `agenda.group_plan_json` wrote it)."""
        return cls(phase, parse_group_plan(plan))

    @property
    def mode(self) -> str:
        return self.plan.assign

    @property
    def size(self) -> int:
        return self.plan.size


def running_group_phase(view) -> GroupPhase | None:
    """The group phase the activity is in now (live, its current phase has groups), else None."""
    if view.state != "live" or view.current_phase is None:
        return None
    plan = view.phases[view.current_phase].groups
    return GroupPhase.stored(view.current_phase, plan) if plan else None


def last_group_phase(view) -> GroupPhase | None:
    """The running group phase, or the latest one before the current phase (the report-back comes after
    it), or the last of the agenda once the activity is over."""
    running = running_group_phase(view)
    if running is not None:
        return running
    upto = view.current_phase if view.state == "live" and view.current_phase is not None else len(view.phases) - 1
    if view.state in ("scheduled", "lobby", "cancelled"):
        return None
    for i in range(upto, -1, -1):
        if view.phases[i].groups:
            return GroupPhase.stored(i, view.phases[i].groups)
    return None


def need_running(view) -> GroupPhase:
    phase = running_group_phase(view)
    if phase is None:
        raise DomainError("no_groups", "no group discussion is running")
    return phase


def check_post(body: object, muted_until: datetime | None, last_post_at: datetime | None, exempt: bool,
               now: datetime) -> str:
    """The clean body of a group message, or a refusal."""
    if not isinstance(body, str) or not body.strip():
        raise DomainError("invalid", "a message needs some text")
    body = body.strip()
    if len(body) > MAX_BODY:
        raise DomainError("invalid", f"a message has at most {MAX_BODY} characters")
    if exempt:
        return body
    if muted_until is not None and muted_until > now:
        raise DomainError("muted", f"you are muted until {muted_until.isoformat()}")
    if last_post_at is not None and (now - last_post_at).total_seconds() < MIN_INTERVAL:
        raise DomainError("rate_limited", "wait a moment before posting again")
    return body


def check_choice(phase: GroupPhase, current_group: int | None, chosen: int, members_now: int) -> None:
    """A teacher choosing a group: only under self-selection, only into a group with room."""
    if phase.mode != "self_select":
        raise DomainError("not_self_select", "groups are assigned in this phase; a host can move you")
    if current_group == chosen:
        raise DomainError("invalid", "you are already in that group")
    if members_now >= phase.size:
        raise DomainError("group_full", f"that group is full ({phase.size} people)")


def check_rapporteur(member_ids: set[int], user_id: object) -> int:
    if type(user_id) is not int or user_id not in member_ids:
        raise DomainError("not_in_group", "the rapporteur must be a member of the group")
    return user_id


def check_broadcast(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise DomainError("invalid", "a broadcast needs some text")
    body = body.strip()
    if len(body) > MAX_BODY:
        raise DomainError("invalid", f"a broadcast has at most {MAX_BODY} characters")
    return body
