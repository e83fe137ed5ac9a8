"""The audit log over the API: read it (admins) with filters and paging, export it as CSV or JSON lines.
There is no route that changes or deletes an entry: PUT, PATCH and DELETE are answered 405."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab import audit, time_zones
from collab.api.common import authorized, json_response, reader_lang
from collab.errors import DomainError

PAGE = 100
PAGE_MAX = 1000
EXPORT_MAX = 100_000  # rows in one export; a longer one continues with after=<the last id>

_FILTERS = """
      - {name: actor, in: query, description: "a user's id: what they did", schema: {type: integer}}
      - {name: key, in: query, description: "a service key's id: its calls", schema: {type: integer}}
      - {name: action, in: query, description: "exact (chat.hide), or a family (chat.*)", schema: {type: string}}
      - {name: target_type, in: query, schema: {type: string}}
      - {name: target_id, in: query, schema: {type: string}}
      - {name: activity_id, in: query, schema: {type: integer}}
      - {name: studio_id, in: query, schema: {type: integer}}
      - {name: since, in: query, description: "ISO 8601 with an offset; from this moment on", schema: {type: string, format: date-time}}
      - {name: until, in: query, description: "ISO 8601 with an offset; before this moment", schema: {type: string, format: date-time}}
      - {name: after, in: query, description: "ids after this one, oldest first", schema: {type: integer}}
      - {name: before, in: query, description: "ids before this one, newest first (the default order)", schema: {type: integer}}"""


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise DomainError("invalid", f"{name} is an integer") from None


def _moment(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise DomainError("invalid", f"{name}: ISO 8601 with an offset, e.g. 2026-12-06T09:00:00+08:00") from None
    if value.tzinfo is None:
        raise DomainError("invalid", f"{name}: give the offset (+08:00 or Z)")
    return value


def filters(request: Request) -> audit.Filters:
    q = request.query_params
    f = audit.Filters(actor_user_id=_int(request, "actor"), actor_key_id=_int(request, "key"),
                      action=q.get("action") or None, target_type=q.get("target_type") or None,
                      target_id=q.get("target_id") or None, activity_id=_int(request, "activity_id"),
                      studio_id=_int(request, "studio_id"), since=_moment(request, "since"),
                      until=_moment(request, "until"), after=_int(request, "after"), before=_int(request, "before"))
    if f.after is not None and f.before is not None:
        raise DomainError("invalid", "page with after or with before, not both")
    return f


async def read(request: Request):
    await authorized(request, "audit.read")
    f = filters(request)
    limit = _int(request, "limit") or PAGE
    if not 1 <= limit <= PAGE_MAX:
        raise DomainError("invalid", f"limit is 1 to {PAGE_MAX}")
    async with request.app.state.services.sessionmaker() as db:
        rows = await audit.query(db, f, limit)
    following = None
    if len(rows) == limit:
        following = {"after": rows[-1].id} if f.after is not None else {"before": rows[-1].id}
    return json_response({"events": [audit.event_json(e) for e in rows], "next": following,
                          "time_zone": request.app.state.services.settings.time_zone})  # the pages' clock


async def export(request: Request):
    actor = await authorized(request, "audit.read")
    form = request.query_params.get("format", "csv")
    if form not in ("csv", "jsonl"):
        raise DomainError("invalid", "format must be csv or jsonl")
    services = request.app.state.services
    zone = request.query_params.get("tz") or services.settings.time_zone
    if not time_zones.is_zone(zone):
        raise DomainError("bad_time_zone", "tz must be an IANA time zone, e.g. Asia/Shanghai")
    lang = reader_lang(request)
    f = filters(request)
    if f.before is None and f.after is None:
        f = audit.Filters(**{**f.__dict__, "after": 0})  # an export reads forward, oldest first
    async with services.sessionmaker() as db:
        rows = await audit.query(db, f, EXPORT_MAX)
        audit.record(db, actor, "audit.export", "audit_log", "", {"format": form, "rows": len(rows),
                                                                   "query": str(request.query_params)[:500]})
        await db.commit()
    if form == "jsonl":
        return Response(audit.to_jsonl(rows), media_type="application/jsonl",
                        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'})
    return Response(audit.to_csv(rows, zone, lang), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"',
                             "Content-Language": "en" if lang == "en" else "zh-CN", "Vary": "Accept-Language"})


# Their OpenAPI text, shared filters and limits filled in (an f-string is not a docstring).
read.__doc__ = f"""
    summary: The audit log (admins), newest first, or oldest first from `after`
    description: "Who (`actor`: user id and name, or a service key's id), what (`action`, `target`,
      `activity_id`/`studio_id`, `detail`), when (`at`, UTC), from where (`address`, `user_agent`).
      `next` pages on: pass it back as `before` (or `after` when reading forward)."
    parameters:{_FILTERS}
      - {{name: limit, in: query, schema: {{type: integer, default: {PAGE}, maximum: {PAGE_MAX}}}}}
    responses: {{200: {{description: "{{events: [...], next, time_zone (the deployment's, on which pages show the times)}}"}}, 400: {{description: invalid}}, 403: {{description: forbidden}}}}
    """
export.__doc__ = f"""
    summary: The audit log as CSV or JSON lines (admins), oldest first; the export itself is audited
    description: "`format=csv` (the default): UTF-8 with BOM, headers in the reader's language (Chinese
      unless `lang=en` or an Accept-Language that prefers English), times to the second on `tz`'s clock
      (the deployment's time zone unless given), named in the header. `format=jsonl`: one event per
      line as `GET /api/audit` gives it, times in UTC. At most {EXPORT_MAX} rows; continue with `after`."
    parameters:{_FILTERS}
      - {{name: format, in: query, schema: {{type: string, enum: [csv, jsonl], default: csv}}}}
      - {{name: lang, in: query, schema: {{type: string, enum: [zh, en]}}}}
      - {{name: tz, in: query, description: IANA time zone of the CSV's times, schema: {{type: string}}}}
    responses: {{200: {{description: "text/csv or application/jsonl"}}, 400: {{description: "invalid, bad_time_zone"}}, 403: {{description: forbidden}}}}
    """


routes = [
    Route("/api/audit", read, methods=["GET"]),
    Route("/api/audit/export", export, methods=["GET"]),
]
