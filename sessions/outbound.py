"""What live activities tell the teacher-management system: the data of each webhook event
(collab/webhooks, docs/integration.md). Each event is added to the transaction of the change it reports
(`collab.webhooks.outbox`), by the code that makes the change: scheduling.py, live.py and
attendance_final.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sessions import scheduling
from sessions.records import aware

# A lifecycle event of record (sessions.lifecycle) and the webhook event it is, for those a receiver hears.
LIFECYCLE = {"started": "activity.started", "phase_changed": "activity.phase_changed", "ended": "activity.ended"}


def activity(a) -> dict[str, Any]:
    """An activity (a row or a `RoomView`) as the scheduling events carry it: its schedule and agenda,
    without the display names of its staff."""
    body = scheduling.activity_json(a, names={})
    body.pop("names", None)
    return body


def _iso(value: datetime | None) -> str | None:
    return aware(value).isoformat() if value is not None else None


def lifecycle(view, after, event: dict[str, Any]) -> dict[str, Any]:
    """`activity.started`, `.phase_changed`, `.ended`: the activity (`view`, as loaded) in its new
    state `after` (a `lifecycle.LiveState`)."""
    phase = view.phases[after.current_phase] if after.current_phase is not None else None
    return {
        "activity_id": view.id, "title": view.title, "state": after.state,
        "phase": None if phase is None else {"index": after.current_phase, "kind": phase.kind, "title": phase.title,
                                             "minutes": phase.minutes},
        "from_phase": event.get("from"),
        "started_at": _iso(after.started_at), "ended_at": _iso(after.ended_at),
        "phase_started_at": _iso(after.phase_started_at),
    }


def decision(a, user_id: int, status: str, decided_by: str) -> dict[str, Any]:
    """`registration.decided`: approved or rejected, by the organizer, by open registration (approved at
    once) or through an invitation link."""
    return {"activity_id": a.id, "title": a.title, "user_id": user_id, "status": status, "decided_by": decided_by}
