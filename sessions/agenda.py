"""An activity's agenda: its phases and what each phase lets attendees do. No I/O.

The model is the national collective teaching-research activity: a lesson example is displayed,
teachers discuss, experts give guidance, everyone interacts. Each phase kind comes with the
permissions that fit it; an organizer may change them per phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collab.errors import DomainError

KINDS = ("lesson_display", "discussion", "expert_guidance", "online_interaction", "group_discussion", "custom")
LEVELS = ("national", "province", "city", "county", "school")
VISIBILITIES = ("public", "registered", "invited")
REGISTRATION = ("open", "approval")
PERMISSIONS = ("chat", "questions", "hands", "polls")

# What a phase of each kind allows unless the organizer says otherwise.
DEFAULTS: dict[str, dict[str, bool]] = {
    "lesson_display": {"chat": False, "questions": True, "hands": False, "polls": False},
    "discussion": {"chat": True, "questions": True, "hands": True, "polls": False},
    "expert_guidance": {"chat": False, "questions": True, "hands": False, "polls": False},
    "online_interaction": {"chat": True, "questions": True, "hands": True, "polls": True},
    # the talk happens inside the groups (docs/groups.md): the main room keeps only its chat
    "group_discussion": {"chat": True, "questions": False, "hands": False, "polls": False},
    "custom": {"chat": True, "questions": True, "hands": False, "polls": False},
}

MAX_PHASES = 20
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_CAPACITY = 1_000_000
DEFAULT_FRONT_ROW = 30  # a small studio session stays all real-time; a national one is mostly the program
MAX_FRONT_ROW = 500  # a node serves a few hundred WebRTC viewers; more is the program's job

# A group phase's plan (docs/groups.md): how many per group, how they are put together, what they discuss.
ASSIGN = ("random", "by_school", "mix_schools", "by_region", "mix_regions", "list", "self_select")
GROUP_SIZE = (2, 50)
MAX_GROUP_QUESTIONS = 10
MAX_GROUP_QUESTION = 300
MAX_GROUP_NAME = 100
MAX_GROUP_NAMES = 200
SELF_SELECT_NAMES = (2, MAX_GROUP_NAMES)  # teachers choose among named groups: at least two of them


class AgendaError(DomainError):
    """Input an organizer must correct; `field` names what, for the form to point at."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(None, message)  # the class's code: "invalid", or a subclass's own
        self.field = field


@dataclass(frozen=True)
class GroupPlan:
    """How a group-discussion phase splits the room: `size` per group, the `assign` mode, the guiding
    `questions` the notes start from, and the groups' `names` (第1组, 第2组, … when none)."""

    size: int = 8
    assign: str = "random"
    questions: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Phase:
    kind: str
    title: str
    minutes: int
    chat: bool
    questions: bool
    hands: bool
    polls: bool
    groups: GroupPlan | None = None  # the plan of a group_discussion phase, and only of one

    def allows(self, action: str) -> bool:
        return bool(getattr(self, action)) if action in PERMISSIONS else False


@dataclass(frozen=True)
class Schedule:
    title: str
    description: str
    subject: str
    grade: str
    level: str
    region: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    visibility: str
    registration: str
    phases: tuple[Phase, ...] = field(default_factory=tuple)
    # attendees (besides the stage and its moderators) who watch the stage over WebRTC, in real time,
    # while the program is on; the rest watch the program over HLS (docs/stage.md)
    front_row: int = DEFAULT_FRONT_ROW


def _text(data: dict[str, Any], key: str, limit: int, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise AgendaError(key, f"{key} must be text")
    value = value.strip()
    if required and not value:
        raise AgendaError(key, f"{key} is required")
    if len(value) > limit:
        raise AgendaError(key, f"{key} is longer than {limit} characters")
    return value


def _choice(data: dict[str, Any], key: str, options: tuple[str, ...], default: str) -> str:
    value = data.get(key, default)
    if value not in options:
        raise AgendaError(key, f"{key} must be one of {', '.join(options)}")
    return value


def _when(data: dict[str, Any], key: str) -> datetime:
    raw = data.get(key)
    if not isinstance(raw, str):
        raise AgendaError(key, f"{key} must be an ISO 8601 time with a zone, e.g. 2026-12-01T14:00:00+08:00")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise AgendaError(key, f"{key} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise AgendaError(key, f"{key} needs a time zone (teachers attend from several)")
    return value


def parse_phase(data: Any, index: int) -> Phase:
    where = f"agenda[{index}]"
    if not isinstance(data, dict):
        raise AgendaError(where, "each phase is an object")
    kind = _choice(data, "kind", KINDS, "custom")
    title = _text(data, "title", MAX_TITLE) or kind.replace("_", " ")
    minutes = data.get("minutes", 15)
    if type(minutes) is not int or not 1 <= minutes <= 600:
        raise AgendaError(f"{where}.minutes", "minutes must be a whole number from 1 to 600")
    perms = dict(DEFAULTS[kind])
    for name in PERMISSIONS:
        if name in data:
            if not isinstance(data[name], bool):
                raise AgendaError(f"{where}.{name}", f"{name} must be true or false")
            perms[name] = data[name]
    plan = data.get("groups")  # null is absent: what phase_json writes for the other kinds
    if kind == "group_discussion":
        groups: GroupPlan | None = parse_group_plan(plan if plan is not None else {}, f"{where}.groups")
    elif plan is not None:
        raise AgendaError(f"{where}.groups", "only a group_discussion phase has groups")
    else:
        groups = None
    return Phase(kind=kind, title=title, minutes=minutes, **perms, groups=groups)


def parse_group_plan(data: Any, where: str = "groups") -> GroupPlan:
    """A group phase's plan from the form, or from what `group_plan_json` stored. `where` prefixes the
    field an error names (`agenda[2].groups.size`)."""
    if not isinstance(data, dict):
        raise AgendaError(where, "groups is an object: size, assign, questions, names")
    size = data.get("size", GroupPlan.size)
    low, high = GROUP_SIZE
    if type(size) is not int or not low <= size <= high:
        raise AgendaError(f"{where}.size", f"size must be a whole number from {low} to {high}")
    assign = data.get("assign", GroupPlan.assign)
    if assign not in ASSIGN:
        raise AgendaError(f"{where}.assign", f"assign must be one of {', '.join(ASSIGN)}")
    questions = tuple(q for q in _texts(data, "questions", where, MAX_GROUP_QUESTION) if q)
    if len(questions) > MAX_GROUP_QUESTIONS:
        raise AgendaError(f"{where}.questions", f"at most {MAX_GROUP_QUESTIONS} questions")
    names = _texts(data, "names", where, MAX_GROUP_NAME)
    if "" in names:
        raise AgendaError(f"{where}.names", f"names[{names.index('')}] is empty")
    if len(set(names)) < len(names):
        twice = next(n for i, n in enumerate(names) if n in names[:i])
        raise AgendaError(f"{where}.names", f"the name {twice} is there twice")
    if assign == "self_select" and not SELF_SELECT_NAMES[0] <= len(names) <= SELF_SELECT_NAMES[1]:
        raise AgendaError(f"{where}.names", "self_select needs from {} to {} group names".format(*SELF_SELECT_NAMES))
    if len(names) > MAX_GROUP_NAMES:
        raise AgendaError(f"{where}.names", f"at most {MAX_GROUP_NAMES} group names")
    return GroupPlan(size=size, assign=assign, questions=questions, names=names)


def _texts(data: dict[str, Any], key: str, where: str, limit: int) -> tuple[str, ...]:
    """A list of texts, each stripped and at most `limit` characters."""
    value = data.get(key, [])
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise AgendaError(f"{where}.{key}", f"{key} must be a list of texts")
    out = tuple(v.strip() for v in value)
    for i, v in enumerate(out):
        if len(v) > limit:
            raise AgendaError(f"{where}.{key}", f"{key}[{i}] is longer than {limit} characters")
    return out


def group_plan_json(plan: GroupPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {"size": plan.size, "assign": plan.assign, "questions": list(plan.questions), "names": list(plan.names)}


def parse_schedule(data: dict[str, Any], current: Schedule | None = None) -> Schedule:
    """A whole schedule from form data; with `current`, absent fields keep their values (an edit)."""
    if current is not None:
        merged = schedule_json(current)
        merged.update({k: v for k, v in data.items() if k in merged})
        data = merged
    agenda = data.get("agenda", [])
    if not isinstance(agenda, list) or len(agenda) > MAX_PHASES:
        raise AgendaError("agenda", f"agenda is a list of at most {MAX_PHASES} phases")
    schedule = Schedule(
        title=_text(data, "title", MAX_TITLE, required=True),
        description=_text(data, "description", MAX_DESCRIPTION),
        subject=_text(data, "subject", 50),
        grade=_text(data, "grade", 50),
        level=_choice(data, "level", LEVELS, "school"),
        region=_text(data, "region", 100),
        starts_at=_when(data, "starts_at"),
        ends_at=_when(data, "ends_at"),
        capacity=data.get("capacity", 10_000),
        visibility=_choice(data, "visibility", VISIBILITIES, "registered"),
        registration=_choice(data, "registration", REGISTRATION, "open"),
        phases=tuple(parse_phase(p, i) for i, p in enumerate(agenda)),
        front_row=data.get("front_row", DEFAULT_FRONT_ROW),
    )
    if type(schedule.front_row) is not int or not 0 <= schedule.front_row <= MAX_FRONT_ROW:
        raise AgendaError("front_row", f"front_row must be a whole number from 0 to {MAX_FRONT_ROW}")
    if type(schedule.capacity) is not int or not 1 <= schedule.capacity <= MAX_CAPACITY:
        raise AgendaError("capacity", f"capacity must be a whole number from 1 to {MAX_CAPACITY:,}")
    if schedule.ends_at <= schedule.starts_at:
        raise AgendaError("ends_at", "the activity must end after it starts")
    if (schedule.ends_at - schedule.starts_at).total_seconds() > 24 * 3600:
        raise AgendaError("ends_at", "an activity lasts at most 24 hours")
    return schedule


def planned_minutes(schedule: Schedule) -> int:
    return sum(p.minutes for p in schedule.phases)


def phase_json(p: Phase) -> dict[str, Any]:
    return {"kind": p.kind, "title": p.title, "minutes": p.minutes, "chat": p.chat, "questions": p.questions,
            "hands": p.hands, "polls": p.polls, "groups": group_plan_json(p.groups)}


def schedule_json(s: Schedule) -> dict[str, Any]:
    return {
        "title": s.title, "description": s.description, "subject": s.subject, "grade": s.grade,
        "level": s.level, "region": s.region, "starts_at": s.starts_at.isoformat(),
        "ends_at": s.ends_at.isoformat(), "capacity": s.capacity, "visibility": s.visibility,
        "registration": s.registration, "agenda": [phase_json(p) for p in s.phases], "front_row": s.front_row,
    }
