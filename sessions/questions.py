"""Q&A rules: who may ask when, what a vote counts, what moderators may do to a question, and the
order questions are shown in. No I/O: each `decide_*` takes the facts a command loaded and returns
what to record and publish, or raises a `DomainError`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from collab.errors import DomainError

MAX_QUESTION = 300
MAX_ANSWER = 2000
SHOWN = ("open", "answered")  # what the room sees; "pending" waits for approval, "dismissed" is gone


def decide_ask(state: str, questions_open: bool, staff: bool, body: object, approval: bool) -> tuple[str, str]:
    """(clean body, status): "open", or "pending" when questions wait for approval (staff's never do)."""
    if not isinstance(body, str) or not body.strip():
        raise DomainError("invalid", "a question needs some text")
    body = body.strip()
    if len(body) > MAX_QUESTION:
        raise DomainError("invalid", f"a question has at most {MAX_QUESTION} characters")
    if state not in ("lobby", "live"):
        raise DomainError("questions_closed", "questions open when the activity does")
    if not (questions_open or staff):
        raise DomainError("questions_closed", "questions are closed during this phase")
    return body, ("pending" if approval and not staff else "open")


# -- votes ------------------------------------------------------------------------------------------

Vote = tuple[int, int, int]  # (activity, question, teacher)


def decide_votes(questions: dict[int, tuple[int, str]], votes: list[Vote]) -> tuple[list, dict[tuple[int, int], int]]:
    """Upvotes sent together, against the questions they name ({id: (activity, status)}): each vote's
    refusal (None where it may count), and the votes to store as {(question, teacher): index}. One
    vote per teacher and question: a double click within the batch is refused like a later one."""
    outcomes: list = [None] * len(votes)
    fresh: dict[tuple[int, int], int] = {}
    for k, (activity_id, question_id, user_id) in enumerate(votes):
        found = questions.get(question_id)
        if found is None or found[0] != activity_id:
            outcomes[k] = DomainError("not_found", "no such question in this activity")
        elif found[1] != "open":
            outcomes[k] = DomainError("question_closed", "only open questions take votes")
        elif (question_id, user_id) in fresh:
            outcomes[k] = DomainError("already_voted", "one vote per teacher")
        else:
            fresh[(question_id, user_id)] = k
    return outcomes, fresh


def decide_retract(status: str | None, voted: bool) -> None:
    """Take one's vote back: `status` None for a question not in this activity."""
    if status is None:
        raise DomainError("not_found", "no such question in this activity")
    if status != "open":
        raise DomainError("question_closed", "only open questions take votes")
    if not voted:
        raise DomainError("invalid", "you have not voted for this question")


# -- moderating a question --------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A question as the moderation rules see it; None for one that is not in this activity."""

    id: int
    status: str  # pending, open, answered, dismissed


@dataclass(frozen=True)
class Change:
    changes: dict[str, Any]  # the question's new fields
    event: dict[str, Any]
    clear_spotlight: bool = False  # take the spotlight off every other question of the activity


def _found(q: Asked | None) -> Asked:
    if q is None:
        raise DomainError("not_found", "no such question in this activity")
    return q


def decide_answer(q: Asked | None, live: object, text: object, by: int, now: datetime) -> Change:
    q = _found(q)
    if not isinstance(live, bool) or (text is not None and not isinstance(text, str)):
        raise DomainError("invalid", "answer with text, or live: true")
    if not live and not (text and text.strip()):
        raise DomainError("invalid", "answer with text, or mark it answered live")
    if text and len(text) > MAX_ANSWER:
        raise DomainError("invalid", f"an answer has at most {MAX_ANSWER} characters")
    if q.status not in SHOWN:
        raise DomainError("invalid", "that question is not open")
    answer = text.strip() if text else None
    return Change({"status": "answered", "answered_live": live, "answer": answer, "answered_by": by,
                   "answered_at": now},
                  {"type": "question_answered", "question_id": q.id, "answer": answer, "live": live})


def decide_spotlight(q: Asked | None) -> Change:
    q = _found(q)
    if q.status not in SHOWN:
        raise DomainError("invalid", "only a visible question can be spotlit")
    return Change({"spotlight": True}, {"type": "question_spotlight", "question_id": q.id}, clear_spotlight=True)


def decide_spotlight_off() -> Change:
    return Change({}, {"type": "question_spotlight", "question_id": None}, clear_spotlight=True)


def decide_dismiss(q: Asked | None) -> Change:
    q = _found(q)
    return Change({"status": "dismissed", "spotlight": False}, {"type": "question_dismissed", "question_id": q.id})


def decide_approve(q: Asked | None) -> Change:
    """The approved question enters the room: the event carries it whole (the command adds it)."""
    q = _found(q)
    if q.status != "pending":
        raise DomainError("invalid", "that question is not waiting for approval")
    return Change({"status": "open"}, {"type": "question"})


def decide_approval(on: object) -> dict[str, Any]:
    """Hold new questions for approval, or stop."""
    if not isinstance(on, bool):
        raise DomainError("invalid", "on must be true or false")
    return {"type": "qa_approval", "on": on}


# -- showing ----------------------------------------------------------------------------------------


def ordered(questions: Iterable, sort: str) -> list:
    """Spotlight first; then by votes (ties: older first) or by time."""
    if sort == "votes":
        key = lambda q: (not q.spotlight, -q.votes, q.id)  # noqa: E731
    else:
        key = lambda q: (not q.spotlight, q.id)  # noqa: E731
    return sorted(questions, key=key)
