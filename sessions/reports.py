"""Attendance reports: per activity for organizers (JSON with the curve of presence over the live
window, and CSV), and a teacher's learning record."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.store.models import User
from sessions.attendance import Interval, Record, credit_threshold, curve, curve_step, record
from sessions.attendance_recorder import HEARTBEAT
from sessions.records import Activity, ActivityEvent, AttendanceInterval, aware


def live_window(a: Activity, now: datetime) -> Interval | None:
    if a.started_at is None:
        return None
    end = aware(a.ended_at) if a.ended_at is not None else now
    return Interval(aware(a.started_at), end)


def scheduled_seconds(a: Activity) -> float:
    return (aware(a.ends_at) - aware(a.starts_at)).total_seconds()


async def intervals_for(db: AsyncSession, activity: Activity, now: datetime,
                        user_id: int | None = None) -> dict[int, list[Interval]]:
    """Each attendee's stored intervals, as they stand at `now`."""
    q = select(AttendanceInterval).where(AttendanceInterval.activity_id == activity.id)
    if user_id is not None:
        q = q.where(AttendanceInterval.user_id == user_id)
    by_user: dict[int, list[Interval]] = defaultdict(list)
    for row in (await db.execute(q)).scalars():
        # An open interval runs until now while its node still beats (the live window clips it at the
        # activity's end); a node that stopped beating died, and its intervals end at its last beat.
        if row.left_at is not None:
            end = aware(row.left_at)
        elif (now - aware(row.last_seen)).total_seconds() < 2 * HEARTBEAT:
            end = now
        else:
            end = aware(row.last_seen)
        by_user[row.user_id].append(Interval(aware(row.joined_at), end))
    return by_user


def _records(activity: Activity, by_user: dict[int, list[Interval]], ratio: float, now: datetime) -> list[Record]:
    window = live_window(activity, now)
    need = credit_threshold(scheduled_seconds(activity), ratio)
    return [record(u, ivs, window, need) for u, ivs in sorted(by_user.items())]


async def records_for(db: AsyncSession, activity: Activity, ratio: float,
                      user_id: int | None = None) -> list[Record]:
    now = datetime.now(timezone.utc)
    return _records(activity, await intervals_for(db, activity, now, user_id), ratio, now)


@dataclass(frozen=True)
class Report:
    records: list[Record]
    step: int  # seconds between two points of the curve
    curve: list[tuple[datetime, int]]  # people present at each step of the live window
    phases: list[dict]  # when each phase began: {phase, kind, title, at}


async def report_for(db: AsyncSession, activity: Activity, ratio: float) -> Report:
    """The whole attendance report: one record per attendee, the curve, and the phase marks."""
    now = datetime.now(timezone.utc)
    by_user = await intervals_for(db, activity, now)
    window = live_window(activity, now)
    step = curve_step((window.end - window.start).total_seconds()) if window else 60
    return Report(records=_records(activity, by_user, ratio, now), step=step,
                  curve=curve(by_user, window, step), phases=await phase_marks(db, activity))


async def phase_marks(db: AsyncSession, activity: Activity) -> list[dict]:
    """The moments the live activity entered a phase, from its recorded events, in order."""
    rows = (await db.execute(select(ActivityEvent).where(
        ActivityEvent.activity_id == activity.id, ActivityEvent.type.in_(("started", "phase_changed")))
        .order_by(ActivityEvent.id))).scalars()
    out = []
    for ev in rows:
        index = (ev.data or {}).get("phase")
        if type(index) is not int or not 0 <= index < len(activity.phases):
            continue
        p = activity.phases[index]
        out.append({"phase": index, "kind": p.kind, "title": p.title, "at": aware(ev.at).isoformat()})
    return out


def curve_json(report: Report) -> list[dict]:
    return [{"at": t.isoformat(), "present": n} for t, n in report.curve]


def record_json(r: Record, user: User | None) -> dict:
    return {
        "user_id": r.user_id, "name": user.display_name if user else "", "school": user.school if user else "",
        "region": user.region if user else "",
        "first_join": r.first_join.isoformat() if r.first_join else None,
        "last_leave": r.last_leave.isoformat() if r.last_leave else None,
        "seconds": r.seconds, "minutes": r.minutes, "rejoins": r.rejoins, "credited": r.credited,
    }


async def users_by_id(db: AsyncSession, ids: list[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in (await db.execute(select(User).where(User.id.in_(ids)))).scalars()}


CSV_FIELDS = ["user_id", "name", "school", "region", "first_join", "last_leave", "minutes", "rejoins", "credited"]


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # so spreadsheet programs read the Chinese names as UTF-8
    writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "name": _safe(row["name"]), "school": _safe(row["school"]),
                         "region": _safe(row["region"]), "credited": "yes" if row["credited"] else "no"})
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell starting with = + - @ is a formula to a spreadsheet: never let a name run one."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
