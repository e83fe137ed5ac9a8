"""What the stage decides without I/O: who was invited up, what taking part does to a raised hand,
which room event closes the stage, who is on stage by the record, and which arguments are usable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from collab.errors import DomainError

LESSON = "lesson"  # the publisher id of the lesson video on the stage
MAX_VIEWS_PER_SOCKET = 8  # a viewer watches a few publishers at once, not hundreds
VIDEO_ACTIONS = ("start", "play", "pause", "seek", "stop")

INVITED = frozenset({"called", "on_stage"})  # hand states that let a teacher publish
LOWERED = "lowered"
CLOSING = frozenset({"ended", "archived"})  # room events after which nobody is on the stage


def invited(hand_status: str | None) -> bool:
    """An expert called on the teacher's raised hand (`called`), and they may have taken the stage
    since (`on_stage`): either way they may publish."""
    return hand_status in INVITED


def lowered_on_leaving(hand_status: str | None) -> bool:
    """A teacher who steps down from the stage has their hand lowered: coming back takes a new call."""
    return hand_status == "on_stage"


def lowered_on_removal(hand_status: str | None) -> bool:
    """A moderator taking someone off the stage withdraws the invitation too, accepted or not."""
    return invited(hand_status)


def is_person(publisher_id: int | str) -> bool:
    """A person on stage (a user id), not the lesson video: only people join and leave the record."""
    return isinstance(publisher_id, int)


def closes_the_stage(data: bytes | None) -> bool:
    """Whether a publication on the room's channel ends the activity (or archives it), which closes its
    stage. `data` is what the hub hands a node's watcher: one event as JSON, a directive to the hubs
    (`{"$kick": ...}`), or None when the bus was lost or came back."""
    if not data:
        return False
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(event, dict) and event.get("type") in CLOSING


def roster(records: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Who is on stage, from the recorded joins, leaves and removals in the order they happened
    (`(type, data)` pairs): each person once, in the order they came up."""
    on: dict[int, str] = {}
    for kind, data in records:
        if kind == "stage_joined":  # publishing again (a reconnect) keeps the place, with the newer name
            on[data["user_id"]] = data.get("name", "")
        else:
            on.pop(data.get("user_id"), None)
    return [{"user_id": u, "name": n} for u, n in on.items()]


def publisher_id(value: Any) -> int | str:
    """Whom a viewer asks to watch: a user id, or the lesson video."""
    if value != LESSON and type(value) is not int:
        raise DomainError("invalid", f"publisher_id: a user id, or {LESSON!r} for the lesson video")
    return value


def check_room_for_a_view(views_of_this_socket: int) -> None:
    if views_of_this_socket >= MAX_VIEWS_PER_SOCKET:
        raise DomainError("too_many_views", f"at most {MAX_VIEWS_PER_SOCKET} at once per connection")


def video_action(value: Any) -> str:
    if value not in VIDEO_ACTIONS:
        raise DomainError("invalid", "action is start, play, pause, seek or stop")
    return value


def seek_position(value: Any) -> float:
    if not isinstance(value, (int, float)) or value < 0:
        raise DomainError("invalid", "position: seconds from the start")
    return float(value)
