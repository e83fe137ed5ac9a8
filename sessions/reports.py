"""Attendance reports: per activity for organizers (JSON with the curve of presence over the live
window, and CSV), and a teacher's learning record.

Credit is for the teachers who attend. The organizer, hosts, experts and presenters run the activity:
they are reported under their role, apart from the teachers, and never counted as teachers who earned
no credit. The CSV is written for a person (headers in the reader's language, times on the activity's
clock to the second) or, with `machine=True`, in a form integrations can rely on (English snake_case
headers, ISO 8601 times with their offset)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.spreadsheet import safe_cell
from collab.store.models import User
from collab.time_zones import local
from sessions.attendance import Interval, Record, credit_threshold, curve, curve_step, record
from sessions.attendance_recorder import HEARTBEAT
from sessions.records import STAFF_ROLES, Activity, ActivityEvent, AttendanceInterval, aware

TEACHER = "teacher"


def roles_in(activity: Activity) -> dict[int, str]:
    """Who runs the activity, by user id, each under one role: the organizer first, then host, expert,
    presenter (someone listed twice is named by the first). Everyone else attends as a teacher."""
    roles: dict[int, str] = {activity.organizer_id: "organizer"}
    for role in STAFF_ROLES:
        for member in activity.staff:
            if member.role == role:
                roles.setdefault(member.user_id, role)
    return roles


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


def needed_seconds(activity: Activity, ratio: float) -> float:
    """Time present while live that earns a teacher credit for this activity."""
    return credit_threshold(scheduled_seconds(activity), ratio)


def _records(activity: Activity, by_user: dict[int, list[Interval]], ratio: float, now: datetime) -> list[Record]:
    window = live_window(activity, now)
    need = needed_seconds(activity, ratio)
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


def record_json(r: Record, user: User | None, role: str = TEACHER, group: str = "") -> dict:
    """One attendee's row. `credited` is null for staff: credit is not theirs to earn here. `group`:
    the teacher's group in each group phase ("分组研讨：第3组"), empty when there were none."""
    return {
        "user_id": r.user_id, "name": user.display_name if user else "", "school": user.school if user else "",
        "region": user.region if user else "", "role": role,
        "first_join": r.first_join.isoformat() if r.first_join else None,
        "last_leave": r.last_leave.isoformat() if r.last_leave else None,
        "seconds": r.seconds, "minutes": r.minutes, "rejoins": r.rejoins,
        "credited": r.credited if role == TEACHER else None, "group": group,
    }


async def users_by_id(db: AsyncSession, ids: list[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in (await db.execute(select(User).where(User.id.in_(ids)))).scalars()}


# The machine form's columns: the export's original English names, in their original order, with
# `role` added last. Integrations read these; change them only with a new format.
CSV_FIELDS = ["user_id", "name", "school", "region", "first_join", "last_leave", "minutes", "rejoins", "credited",
              "role"]
# The readable form: its columns in the order a person reads them, named in the reader's language.
# The two times name the clock they are on.
READABLE = ["user_id", "name", "role", "school", "region", "first_join", "last_leave", "minutes", "rejoins",
            "credited"]
HEADERS = {
    "zh": {"user_id": "用户编号", "name": "姓名", "role": "角色", "school": "学校", "region": "地区",
           "first_join": "首次进入（{zone}）", "last_leave": "最后离开（{zone}）", "minutes": "在线分钟",
           "rejoins": "重连次数", "credited": "获得学时", "group": "小组"},
    "en": {"user_id": "User ID", "name": "Name", "role": "Role", "school": "School", "region": "Region",
           "first_join": "First join ({zone})", "last_leave": "Last leave ({zone})", "minutes": "Minutes present",
           "rejoins": "Rejoins", "credited": "Credited", "group": "Group"},
}
ROLE_NAMES = {"zh": {"teacher": "教师", "organizer": "组织者", "host": "主持人", "expert": "专家", "presenter": "主讲人"},
              "en": {"teacher": "teacher", "organizer": "organizer", "host": "host", "expert": "expert",
                     "presenter": "presenter"}}
CREDITED = {"zh": {True: "是", False: "否", None: "不计学时"}, "en": {True: "yes", False: "no", None: "not counted"}}


def to_csv(rows: list[dict], zone: str, lang: str = "zh", machine: bool = False, groups: bool = False) -> str:
    """The report as CSV: `rows` from `record_json` (teachers, then staff). Times on `zone`'s clock to
    the second; readable in `lang` ("zh" or "en") unless `machine`. With `groups` (the activity had a
    group phase) the readable form ends with the teacher's groups; the machine form keeps its columns."""
    out = io.StringIO()
    out.write("\ufeff")  # so spreadsheet programs read the Chinese names as UTF-8
    writer = csv.writer(out)
    if machine:
        writer.writerow(CSV_FIELDS)
        for row in rows:
            cells = {**_cells(row), **{k: _iso(row[k], zone) for k in ("first_join", "last_leave")},
                     "credited": {True: "yes", False: "no", None: ""}[row["credited"]]}
            writer.writerow([cells[k] for k in CSV_FIELDS])
        return out.getvalue()
    columns = READABLE + ["group"] if groups else READABLE
    writer.writerow([HEADERS[lang][k].format(zone=zone) for k in columns])
    for row in rows:
        cells = {**_cells(row), **{k: _clock(row[k], zone) for k in ("first_join", "last_leave")},
                 "role": ROLE_NAMES[lang].get(row["role"], row["role"]), "credited": CREDITED[lang][row["credited"]],
                 "group": safe_cell(row.get("group", ""))}
        writer.writerow([cells[k] for k in columns])
    return out.getvalue()


def _cells(row: dict) -> dict:
    return {**row, "name": safe_cell(row["name"]), "school": safe_cell(row["school"]), "region": safe_cell(row["region"])}


def _iso(value: str | None, zone: str) -> str:
    return local(datetime.fromisoformat(value), zone).isoformat() if value else ""


def _clock(value: str | None, zone: str) -> str:
    return local(datetime.fromisoformat(value), zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""

