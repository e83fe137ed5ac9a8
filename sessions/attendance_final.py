"""Closing an activity's attendance and telling it (`attendance.finalized`), exactly once per activity.

Minutes are final some time after the activity ends, not at its end: each node flushes its queued
presence intervals a second later, and an interval of a node that died counts until the node's last
heartbeat only once two heartbeats were missed (reports.intervals_for). So an activity is finalized
`--attendance-settle-seconds` after `ended_at` (65 s: two 30 s heartbeats and the flush), by whichever
node holds the bus lease `attendance:finalizer`, in one transaction that stamps
`activities.attendance_finalized_at` with a compare-and-set and writes the events to the webhook outbox:
two nodes racing while the lease changes hands cannot both report it, and a node that dies before its
commit reported nothing. A late correction is not re-sent; the report and CSV stay readable.

A national activity's 10,000 teachers do not go in one body: the teachers come in pages of
`--webhook-page-size` (1000 by default, ~280 KB), each its own event with `page` and `pages` and its own
`webhook-id`, each signed and retried alone, so a receiver never needs to call back in to fetch the list
(no key, no inbound route through its firewall) and a failed page is retried without re-sending the rest.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from collab.webhooks import outbox
from sessions import reports
from sessions.groups import record
from sessions.records import Activity, aware

log = logging.getLogger("collab.attendance")

LEASE_KEY = "attendance:finalizer"
LEASE = 10.0
EVERY = 2.0  # seconds between the lease holder's looks for activities that are due
PER_LOOK = 20


def pages_of(activity: Activity, teachers: list[dict], staff: list[dict], ratio: float, page_size: int,
             at: datetime) -> list[dict]:
    """The data of each `attendance.finalized` event: the activity and totals on every page, the
    teachers a page's worth at a time, the staff on the first page."""
    chunks = [teachers[i:i + page_size] for i in range(0, len(teachers), page_size)] or [[]]
    head = {
        "activity": {"id": activity.id, "title": activity.title, "level": activity.level, "region": activity.region,
                     "subject": activity.subject, "grade": activity.grade, "time_zone": activity.time_zone,
                     "starts_at": aware(activity.starts_at).isoformat(), "ends_at": aware(activity.ends_at).isoformat(),
                     "started_at": aware(activity.started_at).isoformat() if activity.started_at else None,
                     "ended_at": aware(activity.ended_at).isoformat() if activity.ended_at else None},
        "credit_ratio": ratio,
        "needed_minutes": round(reports.needed_seconds(activity, ratio) / 60, 1),
        "finalized_at": at.isoformat(),
        "teachers": len(teachers),
        "credited": sum(1 for t in teachers if t["credited"]),
    }
    return [{**head, "page": n, "pages": len(chunks), "attendees": chunk, "staff": staff if n == 1 else []}
            for n, chunk in enumerate(chunks, start=1)]


class Finalizer:
    def __init__(self, services) -> None:
        self.services = services
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="attendance-finalizer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        bus, node = self.services.hub.bus, self.services.settings.node_id
        while True:
            await asyncio.sleep(EVERY)
            try:
                if await bus.hold(LEASE_KEY, node, LEASE) == node:
                    await self.finalize_due()
            except Exception:  # the bus or the database is briefly away: what is due stays due
                log.exception("attendance finalizing failed; will retry")

    async def finalize_due(self) -> list[int]:
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.services.settings.attendance_settle_seconds)
        async with self.services.sessionmaker() as db:
            due = list((await db.execute(select(Activity.id).where(
                Activity.state.in_(("ended", "archived")), Activity.ended_at <= cutoff,
                Activity.attendance_finalized_at.is_(None)).order_by(Activity.ended_at).limit(PER_LOOK))).scalars())
        return [a for a in due if await self.finalize(a)]

    async def finalize(self, activity_id: int) -> bool:
        """Stamp the activity and write its events, in one transaction; False if another node did."""
        settings = self.services.settings
        now = datetime.now(timezone.utc)
        async with self.services.sessionmaker() as db:
            activity = await db.get(Activity, activity_id)
            records = await reports.records_for(db, activity, settings.credit_ratio)
            users = await reports.users_by_id(db, [r.user_id for r in records])
            roles = reports.roles_in(activity)
            groups = record.labels(activity, await record.groups_of(db, activity))
            rows = [{**reports.record_json(r, users.get(r.user_id), roles.get(r.user_id, reports.TEACHER),
                                           groups.get(r.user_id, "")),
                     # the teacher as the platform whose login they came through knows them (its JWT's sub)
                     "external_id": getattr(users.get(r.user_id), "idp_subject", None)} for r in records]
            stamped = await db.execute(
                update(Activity).where(Activity.id == activity_id, Activity.attendance_finalized_at.is_(None))
                .values(attendance_finalized_at=now).execution_options(synchronize_session=False))
            if stamped.rowcount != 1:
                await db.rollback()
                return False
            teachers = [r for r in rows if r["role"] == reports.TEACHER]
            staff = [r for r in rows if r["role"] != reports.TEACHER]
            pages = pages_of(activity, teachers, staff, settings.credit_ratio, settings.webhook_page_size, now)
            for data in pages:
                outbox.record(db, "attendance.finalized", data, now)
            await db.commit()
        log.info("attendance of activity %s finalized: %s teachers in %s pages", activity_id, len(teachers), len(pages))
        return True
