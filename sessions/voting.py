"""Poll rules: what a poll may be and when one may open, what an answer may be, how answers count,
what closing and showing results do. No I/O: each `decide_*` takes the facts a command loaded and
returns what to record and publish, or raises a `DomainError`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collab.errors import DomainError
from collab.policy import Denied

MAX_OPTIONS = 10


def parse_poll(args: dict[str, Any]) -> tuple[str, list[str], bool, bool]:
    """(question, options, multiple, anonymous) from a moderator's command."""
    question, options = args.get("question"), args.get("options")
    if not isinstance(question, str) or not question.strip() or len(question) > 300:
        raise DomainError("invalid", "question: 1 to 300 characters")
    if (not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS
            or not all(isinstance(o, str) and o.strip() and len(o) <= 100 for o in options)):
        raise DomainError("invalid", f"options: 2 to {MAX_OPTIONS} texts of at most 100 characters")
    multiple, anonymous = args.get("multiple", False), args.get("anonymous", True)
    if not isinstance(multiple, bool) or not isinstance(anonymous, bool):
        raise DomainError("invalid", "multiple and anonymous are true or false")
    return question.strip(), [o.strip() for o in options], multiple, anonymous


def decide_open(state: str, polls_allowed: bool) -> None:
    """A poll opens in a live phase that allows polls (`polls_allowed`: the current phase's say)."""
    if state != "live" or not polls_allowed:
        raise DomainError("polls_closed", "polls run in a live phase that allows them")


def check_choices(choices: object, n_options: int, multiple: bool) -> list[int]:
    if (not isinstance(choices, list) or not choices
            or not all(type(c) is int and 0 <= c < n_options for c in choices) or len(set(choices)) != len(choices)):
        raise DomainError("invalid", f"choices: a list of option numbers from 0 to {n_options - 1}")
    if not multiple and len(choices) != 1:
        raise DomainError("invalid", "this poll takes one choice")
    return sorted(choices)


def count(n_options: int, answers: list[list[int]]) -> dict[str, Any]:
    c = Counter(i for choices in answers for i in choices)
    return {"counts": [c.get(i, 0) for i in range(n_options)], "voters": len(answers)}


@dataclass(frozen=True)
class Asked:
    """A poll as the rules see it."""

    id: int
    activity_id: int
    status: str  # open, closed
    n_options: int
    multiple: bool
    results_shown: bool = False
    anonymous: bool = True


Answer = tuple[int, int, int, Any]  # (activity, poll, teacher, choices as sent)


def decide_answers(polls: dict[int, Asked], answers: list[Answer]) -> tuple[list, dict[tuple[int, int], list[int]]]:
    """Answers sent together, against the polls they name: each answer's outcome (its stored choices,
    or its refusal), and the answers to store as {(poll, teacher): choices}. A teacher's later answer
    replaces the earlier one, also within the batch."""
    outcomes: list = [None] * len(answers)
    latest: dict[tuple[int, int], list[int]] = {}
    for k, (activity_id, poll_id, user_id, raw) in enumerate(answers):
        poll = polls.get(poll_id)
        if poll is None or poll.activity_id != activity_id:
            outcomes[k] = DomainError("not_found", "no such poll in this activity")
        elif poll.status != "open":
            outcomes[k] = DomainError("poll_closed", "this poll is closed")
        else:
            try:
                outcomes[k] = latest[(poll_id, user_id)] = check_choices(raw, poll.n_options, poll.multiple)
            except DomainError as exc:
                outcomes[k] = exc
    return outcomes, latest


@dataclass(frozen=True)
class Change:
    changes: dict[str, Any]  # the poll's new fields
    event: dict[str, Any]
    with_results: bool  # the event carries the counts (the poll is closed, or its results are shown)


def _found(poll: Asked | None) -> Asked:
    if poll is None:
        raise DomainError("not_found", "no such poll in this activity")
    return poll


def decide_close(poll: Asked | None, now: datetime) -> Change:
    poll = _found(poll)
    if poll.status == "closed":
        raise DomainError("poll_closed", "already closed")
    return Change({"status": "closed", "closed_at": now}, {"type": "poll_closed", "poll_id": poll.id}, True)


def decide_show(poll: Asked | None, on: object) -> Change:
    """Show the results to the room (`on`), or hide them again."""
    poll = _found(poll)
    if not isinstance(on, bool):
        raise DomainError("invalid", "on must be true or false")
    return Change({"results_shown": on}, {"type": "poll_results_shown" if on else "poll_results_hidden",
                                          "poll_id": poll.id}, on or poll.status == "closed")


def decide_results(poll: Asked | None, moderator: bool) -> bool:
    """Results are the room's once shown, before that the moderators'. Returns whether they also see
    who chose what (moderators, of a poll that is not anonymous)."""
    poll = _found(poll)
    if not (poll.results_shown or moderator):
        raise Denied("forbidden", "activity.moderate")
    return moderator and not poll.anonymous
