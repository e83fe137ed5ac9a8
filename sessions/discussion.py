"""Discussion rules: who may post now, and what becomes of the post. No I/O.

A post is checked against the activity as it stands (its state and the current phase's permissions),
the room's moderation settings (slow mode, pre-moderation, mutes) and the author's last post. Staff
(organizer, hosts, experts, presenters) are not held back by phase, slow mode or pre-moderation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from collab.errors import DomainError

MAX_BODY = 500
MIN_INTERVAL = 1.0  # seconds between two posts of one teacher, even without slow mode
MAX_SLOW_MODE = 600


class DiscussionError(DomainError):
    """A post or a moderation setting the discussion's rules refuse."""


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
        raise DiscussionError("invalid", "a message needs some text")
    body = body.strip()
    if len(body) > MAX_BODY:
        raise DiscussionError("invalid", f"a message has at most {MAX_BODY} characters")
    if room.state not in ("lobby", "live"):
        raise DiscussionError("chat_closed", "the room is not open")
    if author.staff:
        return body, "visible"
    if not room.chat_open:
        raise DiscussionError("chat_closed", "chat is closed during this phase")
    if author.muted_until is not None and author.muted_until > now:
        raise DiscussionError("muted", f"you are muted until {author.muted_until.isoformat()}")
    if author.last_post_at is not None:
        wait = max(room.slow_mode, MIN_INTERVAL) - (now - author.last_post_at).total_seconds()
        if wait > 0:
            code = "slow_mode" if room.slow_mode else "rate_limited"
            raise DiscussionError(code, f"wait {wait:.0f} more seconds before posting again")
    return body, ("held" if room.premoderation else "visible")


def mute_until(now: datetime, minutes: object) -> datetime | None:
    """`minutes` None mutes for the rest of the activity (None = no end)."""
    if minutes is None:
        return None
    if type(minutes) is not int or not 1 <= minutes <= 24 * 60:
        raise DiscussionError("invalid", "minutes must be a whole number from 1 to 1440")
    return now + timedelta(minutes=minutes)


def slow_mode_seconds(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_SLOW_MODE:
        raise DiscussionError("invalid", f"seconds must be a whole number from 0 to {MAX_SLOW_MODE}")
    return value
