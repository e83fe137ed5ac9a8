"""Which events of an activity's record are staff actions the audit log keeps (collab/audit.py).

`sessions.room.record` writes the audit row beside the event, in the same transaction: moderation
(hide, approve, mute, slow mode, pre-moderation, removal and readmission), and the stage (a teacher
called up from their raised hand, someone taken off the stage). The address is the socket's peer.
"""

from __future__ import annotations

from typing import Any

from collab import audit

# event type -> (audit action, what the target is, the event's field that names it: None, the activity)
AUDITED: dict[str, tuple[str, str, str | None]] = {
    "chat_hidden": ("chat.hide", "chat_message", "message_id"),
    "chat_approved": ("chat.approve", "chat_message", "message_id"),
    "muted": ("chat.mute", "user", "user_id"),
    "unmuted": ("chat.unmute", "user", "user_id"),
    "slow_mode": ("chat.slow_mode", "activity", None),
    "premoderation": ("chat.premoderation", "activity", None),
    "question_dismissed": ("question.dismiss", "question", "question_id"),
    "teacher_removed": ("activity.remove", "user", "user_id"),
    "teacher_readmitted": ("activity.readmit", "user", "user_id"),
    "hand_called": ("stage.call", "user", "user_id"),
    "stage_removed": ("stage.remove", "user", "user_id"),
    "group_chat_hidden": ("group.hide", "group_message", "message_id"),
    "group_moved": ("group.move", "user", "user_id"),
    "group_broadcast": ("group.broadcast", "activity", None),
}


def note(ctx, db, activity_id: int, event: dict[str, Any]) -> None:
    """Add the audit row of `event` to `db`'s transaction, if it is an audited staff action."""
    found = AUDITED.get(event["type"])
    if found is None:
        return
    action, target_type, field = found
    target = activity_id if field is None else event.get(field)
    detail = {k: v for k, v in event.items() if k not in ("type", "id", "name")}
    client = ctx.client
    audit.record(db, ctx.actor, action, target_type, "" if target is None else target, detail,
                 activity_id=activity_id, address=client.wire.peer if client is not None else None,
                 user_agent="" if client is not None else None)
