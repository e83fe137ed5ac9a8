"""The groups' record over the API: every group phase with its groups and members, a group's chat page
by page, and who was in which group as CSV. While the activity runs only its moderators see this
(the group view is theirs); once it has ended, whoever may see its record. The notes themselves are
documents: `GET /api/docs/{doc_id}/export.md` (the policy's `group.notes.read`)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab import audit, policy
from collab.api.common import current_actor, json_response, path_id
from collab.errors import DomainError
from sessions import scheduling
from sessions.groups import record
from sessions.groups.records import ActivityGroup


async def _guarded(request: Request, db, action: str):
    actor = await current_actor(request)
    activity = await scheduling.get(db, path_id(request, "activity_id"))
    if activity is None:
        raise DomainError("not_found", "no such activity")
    access = await scheduling.access(db, activity, actor)
    policy.authorize(actor, action, access)
    return actor, activity, access


async def groups(request: Request):
    """
    summary: "Every group phase of the activity with its groups: members (how each joined, messages each wrote), rapporteur, message counts, the notes' doc_id"
    description: "While the activity runs: its moderators (organizer, hosts, experts). Once it has
      ended: whoever may see its record (the replay). `hidden` counts the messages moderators hid.
      The notes: `GET /api/docs/{doc_id}/export.md`."
    responses: {200: {description: "{activity_id, phases: [{phase, title, groups: [{id, number, name, doc_id, rapporteur, messages, hidden, members: [{id, name, school, how, messages}]}]}]}"}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    async with request.app.state.services.sessionmaker() as db:
        _, activity, _ = await _guarded(request, db, "activity.groups")
        found = await record.groups_of(db, activity)
    return json_response({"activity_id": activity.id, "phases": record.by_phase(activity, found)})


async def group_messages(request: Request):
    """
    summary: "A group's chat, oldest first, a page at a time (up to `limit`, latest page first); moderators and the organizer also see hidden messages, with `status: hidden`"
    parameters:
      - {name: before, in: query, schema: {type: integer}, description: "the page before this message id (`before` of the previous answer)"}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 100}}
    responses: {200: {description: "{group_id, messages: [{id, user, body, status, at}], before: id | null}"}, 400: {description: "invalid: before or limit"}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    before = _int(request, "before", None, 1, 2**62)
    limit = _int(request, "limit", record.PAGE, 1, record.PAGE)
    async with request.app.state.services.sessionmaker() as db:
        actor, activity, access = await _guarded(request, db, "activity.groups")
        gid = path_id(request, "group_id")
        owner = (await db.execute(select(ActivityGroup.activity_id).where(ActivityGroup.id == gid))).scalar()
        if owner != activity.id:
            raise DomainError("not_found", "no such group")
        page, earlier = await record.messages(db, gid, before=before, limit=limit,
                                              hidden=policy.allowed(actor, "activity.moderate", access))
    return json_response({"group_id": gid, "messages": page, "before": earlier})


async def groups_csv(request: Request):
    """
    summary: "Who was in which group, as CSV (UTF-8 with BOM): 环节, 组号, 组名, 用户名, 姓名, 学校, 加入方式, 是否汇报人, 发言数 (the organizer)"
    responses: {200: {description: text/csv}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    async with request.app.state.services.sessionmaker() as db:
        actor, activity, _ = await _guarded(request, db, "activity.attendance")
        found = await record.groups_of(db, activity)
        audit.record(db, actor, "groups.export", "activity", activity.id,
                     {"rows": sum(len(g.members) for g in found)}, activity_id=activity.id)
        await db.commit()
    return Response(record.to_csv(activity, found), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="groups-{activity.id}.csv"'})


def _int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DomainError("invalid", f"{name}: a whole number") from None
    if not low <= value <= high:
        raise DomainError("invalid", f"{name}: from {low} to {high}")
    return value


routes = [
    Route("/api/activities/{activity_id}/groups", groups, methods=["GET"]),
    Route("/api/activities/{activity_id}/groups.csv", groups_csv, methods=["GET"]),
    Route("/api/activities/{activity_id}/groups/{group_id}/messages", group_messages, methods=["GET"]),
]
