"""The audit log: who did what to what, when and from where (table `audit_events`).

`record` adds a row to the caller's database session, so it commits in the same transaction as the
action it describes: an action that is rolled back leaves no audit row, and no stored action lacks one.
Rows are only ever added; the API reads and exports them (collab/api/audit.py) and has no route that
changes one.

Where the request came from: API routes learn it once, where they learn the caller
(`collab.api.common.current_actor` sets `ORIGIN`); `/ws` commands pass their socket's peer address.
"""

from __future__ import annotations

import contextvars
import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.auth.actor import Actor
from collab.spreadsheet import safe_cell
from collab.store.models import AuditEvent
from collab.time_zones import local


@dataclass(frozen=True, slots=True)
class Origin:
    address: str = ""
    user_agent: str = ""


ORIGIN: contextvars.ContextVar[Origin] = contextvars.ContextVar("collab_audit_origin", default=Origin())

# What the command line records as its origin and its actor: an operator on a server's shell.
CLI = Origin("local", "collab-cli")
CLI_NAME = "命令行（CLI）"

_DETAIL_BYTES = 4 * 1024  # a "small JSON detail": a runaway detail is cut, never refused (the action happened)


def record(db: AsyncSession, actor: Actor | None, action: str, target_type: str = "", target_id: Any = "",
           detail: dict[str, Any] | None = None, *, activity_id: int | None = None, studio_id: int | None = None,
           address: str | None = None, user_agent: str | None = None, actor_name: str | None = None) -> AuditEvent:
    """Add one audit row to `db`'s transaction (the caller commits it with its action). `actor` None is
    the command line (or the system); `address`/`user_agent` default to the request's (`ORIGIN`)."""
    origin = ORIGIN.get()
    detail = dict(detail or {})
    if len(orjson.dumps(detail)) > _DETAIL_BYTES:
        detail = {"truncated": True}
    row = AuditEvent(
        at=datetime.now(timezone.utc),
        actor_user_id=actor.user_id if actor is not None and not actor.is_service else None,
        actor_key_id=actor.key_id if actor is not None else None,
        actor_name=(actor_name if actor_name is not None else actor.name if actor is not None else "")[:100],
        action=action[:64], target_type=target_type[:32], target_id=str(target_id)[:64],
        activity_id=activity_id, studio_id=studio_id, detail=detail,
        address=(address if address is not None else origin.address)[:64],
        user_agent=(user_agent if user_agent is not None else origin.user_agent)[:300],
    )
    db.add(row)
    return row


# -- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What an admin asks the log for. Every field is optional; `after`/`before` page by id."""

    actor_user_id: int | None = None
    actor_key_id: int | None = None
    action: str | None = None  # exact, or a family with a trailing ".*" (chat.*)
    target_type: str | None = None
    target_id: str | None = None
    activity_id: int | None = None
    studio_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int | None = None   # ids greater than this, oldest first (reading forward, exports)
    before: int | None = None  # ids less than this, newest first (paging back from the latest)


async def query(db: AsyncSession, f: Filters, limit: int) -> list[AuditEvent]:
    q = select(AuditEvent)
    for column, value in ((AuditEvent.actor_user_id, f.actor_user_id), (AuditEvent.actor_key_id, f.actor_key_id),
                          (AuditEvent.target_type, f.target_type), (AuditEvent.target_id, f.target_id),
                          (AuditEvent.activity_id, f.activity_id), (AuditEvent.studio_id, f.studio_id)):
        if value is not None:
            q = q.where(column == value)
    if f.action is not None:
        if f.action.endswith(".*"):
            q = q.where(AuditEvent.action.startswith(f.action[:-1], autoescape=True))
        else:
            q = q.where(AuditEvent.action == f.action)
    if f.since is not None:
        q = q.where(AuditEvent.at >= f.since)
    if f.until is not None:
        q = q.where(AuditEvent.at < f.until)
    if f.after is not None:
        q = q.where(AuditEvent.id > f.after)
    if f.before is not None:
        q = q.where(AuditEvent.id < f.before)
    q = q.order_by(AuditEvent.id if f.after is not None else AuditEvent.id.desc()).limit(limit)
    return list((await db.execute(q)).scalars())


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)  # SQLite drops the zone


def event_json(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id, "at": _utc(e.at).isoformat(),
        "actor": {"user_id": e.actor_user_id, "key_id": e.actor_key_id, "name": e.actor_name},
        "action": e.action, "target": {"type": e.target_type, "id": e.target_id},
        "activity_id": e.activity_id, "studio_id": e.studio_id, "detail": e.detail or {},
        "address": e.address, "user_agent": e.user_agent,
    }


# -- exports ---------------------------------------------------------------------------------------

CSV_FIELDS = ["id", "at", "actor_user_id", "actor_key_id", "actor_name", "action", "target_type", "target_id",
              "activity_id", "studio_id", "detail", "address", "user_agent"]
HEADERS = {
    "zh": {"id": "编号", "at": "时间（{zone}）", "actor_user_id": "操作者用户编号", "actor_key_id": "服务密钥编号",
           "actor_name": "操作者", "action": "操作", "target_type": "对象类型", "target_id": "对象编号",
           "activity_id": "活动编号", "studio_id": "工作室编号", "detail": "详情", "address": "来源地址",
           "user_agent": "客户端"},
    "en": {"id": "ID", "at": "Time ({zone})", "actor_user_id": "Actor user ID", "actor_key_id": "Service key ID",
           "actor_name": "Actor", "action": "Action", "target_type": "Target type", "target_id": "Target ID",
           "activity_id": "Activity ID", "studio_id": "Studio ID", "detail": "Detail", "address": "Address",
           "user_agent": "User agent"},
}


def _cells(e: AuditEvent, zone: str) -> dict[str, Any]:
    return {"id": e.id, "at": local(_utc(e.at), zone).strftime("%Y-%m-%d %H:%M:%S"),
            "actor_user_id": "" if e.actor_user_id is None else e.actor_user_id,
            "actor_key_id": "" if e.actor_key_id is None else e.actor_key_id,
            "actor_name": safe_cell(e.actor_name), "action": e.action, "target_type": e.target_type,
            "target_id": safe_cell(e.target_id), "activity_id": "" if e.activity_id is None else e.activity_id,
            "studio_id": "" if e.studio_id is None else e.studio_id,
            "detail": safe_cell(orjson.dumps(e.detail or {}).decode()), "address": e.address,
            "user_agent": safe_cell(e.user_agent)}


def to_csv(rows: list[AuditEvent], zone: str, lang: str = "zh") -> str:
    """Headers in the reader's language, times on `zone`'s clock to the second (named in the header)."""
    out = io.StringIO()
    out.write("\ufeff")  # spreadsheet programs read the Chinese headers as UTF-8
    writer = csv.writer(out)
    writer.writerow([HEADERS[lang][k].format(zone=zone) for k in CSV_FIELDS])
    for e in rows:
        cells = _cells(e, zone)
        writer.writerow([cells[k] for k in CSV_FIELDS])
    return out.getvalue()


def to_jsonl(rows: list[AuditEvent]) -> bytes:
    """One event a line, as the JSON API gives it (times in UTC)."""
    return b"".join(orjson.dumps(event_json(e)) + b"\n" for e in rows)

