"""Discussion rules: who may post now, and what becomes of the post; what moderators may do to a
message, to the room's settings and to a teacher. No I/O: each `decide_*` takes the facts a command
loaded and returns what to record and publish, or raises a `DomainError`.

A post is checked against the activity as it stands (its state and the current phase's permissions),
the room's moderation settings (slow mode, pre-moderation, mutes) and the author's last post. Staff
(organizer, hosts, experts, presenters) are not held back by phase, slow mode or pre-moderation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from collab.errors import DomainError
from collab.policy import Denied

MAX_BODY = 500
MIN_INTERVAL = 1.0  # seconds between two posts of one teacher, even without slow mode
MAX_SLOW_MODE = 600


@dataclass(frozen=True)
class Room:
    state: str
    chat_open: bool  # the current phase allows chat
    slow_mode: int  # seconds between posts per teacher; 0 = off
    premoderation: bool


@dataclass(frozen=True)
class Author:
    staff: bool
    muted_until: datetime | None
    last_post_at: datetime | None


def check_post(room: Room, author: Author, body: object, now: datetime) -> tuple[str, str]:
    """Returns (clean body, status): "visible", or "held" for an expert to approve first."""
    if not isinstance(body, str) or not body.strip():
        raise DomainError("invalid", "a message needs some text")
    body = body.strip()
    if len(body) > MAX_BODY:
        raise DomainError("invalid", f"a message has at most {MAX_BODY} characters")
    if room.state not in ("lobby", "live"):
        raise DomainError("chat_closed", "the room is not open")
    if author.staff:
        return body, "visible"
    if not room.chat_open:
        raise DomainError("chat_closed", "chat is closed during this phase")
    if author.muted_until is not None and author.muted_until > now:
        raise DomainError("muted", f"you are muted until {author.muted_until.isoformat()}")
    if author.last_post_at is not None:
        wait = max(room.slow_mode, MIN_INTERVAL) - (now - author.last_post_at).total_seconds()
        if wait > 0:
            code = "slow_mode" if room.slow_mode else "rate_limited"
            raise DomainError(code, f"wait {wait:.0f} more seconds before posting again")
    return body, ("held" if room.premoderation else "visible")


def mute_until(now: datetime, minutes: object) -> datetime | None:
    """`minutes` None mutes for the rest of the activity (None = no end)."""
    if minutes is None:
        return None
    if type(minutes) is not int or not 1 <= minutes <= 24 * 60:
        raise DomainError("invalid", "minutes must be a whole number from 1 to 1440")
    return now + timedelta(minutes=minutes)


def slow_mode_seconds(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_SLOW_MODE:
        raise DomainError("invalid", f"seconds must be a whole number from 0 to {MAX_SLOW_MODE}")
    return value


# -- a post -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    body: str
    status: str  # visible, or held for an expert to approve
    reply_to: int | None


def decide_post(room: Room, author: Author, body: object, reply_to: object, parent: str | None,
                now: datetime) -> Post:
    """`parent`: the status of the message `reply_to` names, if it is one of this activity's (else None)."""
    body, status = check_post(room, author, body, now)
    if reply_to is not None and (type(reply_to) is not int or parent != "visible"):
        raise DomainError("invalid", "reply_to must be a visible message of this activity")
    return Post(body, status, reply_to)


# -- moderating a message ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A message as the moderation rules see it; None for one that is not in this activity."""

    id: int
    user_id: int
    status: str  # visible, held, hidden, deleted


@dataclass(frozen=True)
class Change:
    changes: dict[str, Any]  # the message's new fields
    event: dict[str, Any]  # for the activity's record and the moderators' desk (and the room)


MESSAGE_ACTIONS = ("delete", "hide", "pin", "unpin", "approve")


def decide_message(action: str, message: Message | None, actor_id: int, moderator: bool) -> Change:
    """A teacher deletes their own message; moderators delete, hide, pin, unpin and approve any."""
    if message is None:
        raise DomainError("not_found", "no such message in this activity")
    if not moderator and not (action == "delete" and message.user_id == actor_id):
        raise Denied("forbidden", "activity.moderate")
    if action == "delete":
        if message.status == "deleted":
            raise DomainError("invalid", "already deleted")
        return Change({"status": "deleted"}, {"type": "chat_deleted", "message_id": message.id})
    if action == "hide":
        return Change({"status": "hidden"}, {"type": "chat_hidden", "message_id": message.id})
    if action in ("pin", "unpin"):
        if message.status != "visible":
            raise DomainError("invalid", "only a visible message can be pinned")
        return Change({"pinned": action == "pin"}, {"type": f"chat_{action}ned", "message_id": message.id})
    if action == "approve":  # the message then enters the room as a new post
        if message.status != "held":
            raise DomainError("invalid", "that message is not waiting for approval")
        return Change({"status": "visible"}, {"type": "chat_approved", "message_id": message.id})
    raise ValueError(action)


# -- the room's settings and its teachers -----------------------------------------------------------


def decide_slow_mode(seconds: object) -> dict[str, Any]:
    return {"type": "slow_mode", "seconds": slow_mode_seconds(seconds)}


def decide_premoderation(on: object) -> dict[str, Any]:
    if not isinstance(on, bool):
        raise DomainError("invalid", "on must be true or false")
    return {"type": "premoderation", "on": on}


@dataclass(frozen=True)
class Target:
    """The teacher a moderator acts on: `user_id` as sent, whether such a user exists, and their place
    in the activity."""

    user_id: object
    exists: bool
    staff: bool = False
    organizer: bool = False


def _target(t: Target) -> int:
    if type(t.user_id) is not int:
        raise DomainError("invalid", "user_id must be a int")
    if not t.exists:
        raise DomainError("not_found", "no such user")
    return t.user_id


def decide_mute(target: Target, minutes: object, now: datetime) -> tuple[datetime | None, dict[str, Any]]:
    """(until, event): `until` None mutes for the rest of the activity."""
    user_id = _target(target)
    until = mute_until(now, minutes)
    return until, {"type": "muted", "user_id": user_id, "until": until.isoformat() if until else None}


def decide_unmute(target: Target) -> dict[str, Any]:
    return {"type": "unmuted", "user_id": _target(target)}


def decide_remove(target: Target) -> dict[str, Any]:
    """Out of the room on every node until readmitted; staff stay in their own activity."""
    user_id = _target(target)
    if target.staff or target.organizer:
        raise DomainError("invalid", "staff cannot be removed from their own activity")
    return {"type": "teacher_removed", "user_id": user_id}


def decide_readmit(target: Target) -> dict[str, Any]:
    return {"type": "teacher_readmitted", "user_id": _target(target)}
