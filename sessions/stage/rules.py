"""What the stage decides without I/O: who was invited up, what taking part does to a raised hand,
which room event closes the stage, who is on stage by the record, which arguments are usable, and how
a shared screen is named (its own publication, `"screen:<user id>"`, beside its owner's camera)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from collab.errors import DomainError

LESSON = "lesson"  # the publisher id of the lesson video on the stage
SCREEN = "screen:"  # a shared screen's publisher id is this and its owner's user id
SOURCES = ("camera", "screen")  # what a person publishes: camera and microphone, or a screen (and its sound)
MAX_VIEWS_PER_SOCKET = 8  # a viewer watches a few publishers at once, not hundreds
MAX_GROUP_STAGE = 8  # members of a group with a small stage at most: the others of 8 fit a socket's views
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
    """A person on stage (a user id), not the lesson video or a screen: only people join and leave the
    record."""
    return isinstance(publisher_id, int)


def screen_of(user_id: int) -> str:
    """The publisher id of `user_id`'s shared screen."""
    return f"{SCREEN}{user_id}"


def owner_of(publisher_id: Any) -> int | None:
    """The person behind a publication: themselves for a camera, the sharer for a screen (None for the
    lesson video or anything that is not a publisher id)."""
    if type(publisher_id) is int:
        return publisher_id
    if isinstance(publisher_id, str) and publisher_id.startswith(SCREEN):
        rest = publisher_id[len(SCREEN):]
        if rest.isascii() and rest.isdigit() and not rest.startswith("0"):
            return int(rest)
    return None


def is_screen(publisher_id: Any) -> bool:
    return isinstance(publisher_id, str) and owner_of(publisher_id) is not None


def source(value: Any) -> str:
    """What `stage.publish`, `stage.leave` and `stage.remove` are about: the camera (the default) or a
    shared screen."""
    if value is None:
        return "camera"
    if value not in SOURCES:
        raise DomainError("invalid", "source: 'camera' or 'screen'")
    return value


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


def closes_group_stage(data: bytes | None, phase: int | None) -> bool:
    """Whether a publication on the room's channel ends a group's small stage, made in group phase
    `phase`: the activity ends, or moves to another phase (the groups return to the room)."""
    if not data:
        return False
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(event, dict):
        return False
    kind = event.get("type")
    return kind in CLOSING or kind == "phase_changed" and event.get("phase") != phase


def check_group_size(members: int) -> None:
    """A small stage is for a small group: every member a peer of the relay, watching all the others."""
    if members > MAX_GROUP_STAGE:
        raise DomainError("group_too_large", f"a group's stage is for groups of at most {MAX_GROUP_STAGE} people")


def group_publisher_id(value: Any) -> int:
    """Whom a group member watches on the group's stage: another member's camera (a user id)."""
    if type(value) is not int or value < 1:
        raise DomainError("invalid", "publisher_id: the user id of someone on the group's stage")
    return value


ROSTER_EVENTS = ("stage_joined", "stage_left", "stage_removed", "screen_started", "screen_stopped")


def roster(records: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Who is on stage, from the recorded joins, leaves, removals and screen shares in the order they
    happened (`(type, data)` pairs; data's `user_id` is always the person): each person and each shared
    screen once, in the order they came up. Taking someone off the stage ends their screen too."""
    on: dict[int | str, dict[str, Any]] = {}
    for kind, data in records:
        user_id = data.get("user_id")
        if kind == "stage_joined":  # publishing again (a reconnect) keeps the place, with the newer name
            on[user_id] = {"user_id": user_id, "name": data.get("name", "")}
        elif kind == "screen_started":
            on[screen_of(user_id)] = {"user_id": screen_of(user_id), "name": data.get("name", ""),
                                      "owner_id": user_id, "source": "screen"}
        elif kind == "screen_stopped":
            on.pop(screen_of(user_id), None)
        else:
            on.pop(user_id, None)
            if kind == "stage_removed":
                on.pop(screen_of(user_id), None)
    return list(on.values())


def publisher_id(value: Any) -> int | str:
    """Whom a viewer asks to watch: a user id, someone's shared screen, or the lesson video."""
    if value != LESSON and type(value) is not int and not is_screen(value):
        raise DomainError("invalid", f"publisher_id: a user id, 'screen:<user id>', or {LESSON!r} for the lesson video")
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
