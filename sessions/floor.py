"""Raised hands: the rules of the queue for the floor. No I/O: each `decide_*` takes the facts a
command loaded (the hand's status: raised, lowered, called, on_stage; None for a teacher who never
raised it) and returns what to record and publish, or raises a `DomainError`."""

from __future__ import annotations

from typing import Any

from collab.errors import DomainError
from collab.policy import Denied


def decide_raise(state: str, hands_allowed: bool, user_id: int, hand: str | None,
                 ahead: int) -> tuple[dict[str, Any], int]:
    """(event, position in the queue): `hands_allowed` is the current phase's say, `ahead` the number
    of hands raised before this one; raising again after lowering goes to the back of the queue."""
    if state != "live" or not hands_allowed:
        raise DomainError("hands_closed", "hands are not taken during this phase")
    if hand == "raised":
        raise DomainError("already_raised", "your hand is already raised")
    return {"type": "hand_raised", "user_id": user_id}, ahead + 1


def decide_lower(user_id: object, actor_id: int, moderator: bool, hand: str | None) -> dict[str, Any]:
    """Teachers lower their own hand, moderators anyone's. A teacher called on stage may still say no:
    lowering their own called hand declines."""
    if type(user_id) is not int:
        raise DomainError("invalid", "user_id must be a user id")
    if user_id != actor_id and not moderator:
        raise Denied("forbidden", "activity.moderate")
    declined = hand == "called" and user_id == actor_id
    if hand != "raised" and not declined:
        raise DomainError("not_raised", "that hand is not raised")
    return {"type": "hand_lowered", "user_id": user_id, **({"declined": True} if declined else {})}


def decide_call(user_id: int, hand: str | None, name: str | None) -> dict[str, Any]:
    """An expert calls on a teacher whose hand is raised: the whole room sees who is invited to speak."""
    if hand != "raised":
        raise DomainError("not_raised", "call on a teacher whose hand is raised")
    return {"type": "hand_called", "user_id": user_id, "name": name or ""}
