"""The organizer's list for a group phase that assigns from a list (docs/groups.md): uploaded as CSV
before the activity goes live, read back as stored. `routes` is what the groups part mounts."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.routing import Route

from collab import audit, policy
from collab.api.common import current_actor, json_response, path_id
from collab.errors import DomainError
from collab.store.models import User
from sessions import scheduling
from sessions.agenda import AgendaError
from sessions.groups import roster
from sessions.groups.records import GroupRosterEntry
from sessions.records import Activity

_CHUNK = 5000  # usernames per query: PostgreSQL and SQLite both cap the parameters of one statement


async def _phase(request: Request, db, action: str, listed: bool) -> tuple[Activity, int]:
    """The activity and the phase of the path, once the policy allows `action`; the phase must be a
    group discussion (one that assigns from a list, when `listed`)."""
    activity = await scheduling.get(db, path_id(request, "activity_id"))
    if activity is None:
        raise DomainError("not_found", "no such activity")
    actor = await current_actor(request)
    policy.authorize(actor, action, await scheduling.access(db, activity, actor))
    raw = request.path_params["phase"]
    phase = int(raw) if raw.isdigit() and len(raw) < 4 else -1
    if not 0 <= phase < len(activity.phases):
        raise AgendaError("phase", "no such phase in the agenda")
    p = activity.phases[phase]
    if p.kind != "group_discussion":
        raise AgendaError("phase", "that phase is not a group discussion")
    if listed and (p.groups or {}).get("assign") != "list":
        raise AgendaError("phase", "that phase's groups are not assigned from a list (assign: list)")
    return activity, phase


async def _read(request: Request) -> bytes:
    """The body, refused once it passes the list's limit, without reading the rest."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > roster.MAX_BYTES:
            raise roster.RosterError(0, f"the list is over {roster.MAX_BYTES // (1024 * 1024)} MB")
    return bytes(body)


async def put_roster(request: Request):
    """
    summary: "Upload the list that puts teachers in named groups, for a group phase with `assign: list` (its organizer, before it goes live)"
    description: "CSV (UTF-8, with or without a BOM, or GB18030 as Excel saves it in China), one teacher
      a line: `username,group name`; an optional header line `username,group` or `用户名,组名`; blank lines
      are skipped. The list replaces the phase's list whole, or is refused whole (nothing of it is
      stored) with `roster_invalid` and the `line` at fault (0: the list as a whole): a line without
      exactly two fields, an empty username or group, a group name over 100 characters, a username twice
      or one nobody has, over 100,000 lines or 5 MB. `phase` is the phase's position in the agenda, from 0."
    parameters:
      - {name: activity_id, in: path, required: true, schema: {type: integer}}
      - {name: phase, in: path, required: true, schema: {type: integer, minimum: 0}}
    requestBody:
      required: true
      content:
        text/csv:
          schema: {type: string, example: "username,group\\nteacher1,第一组\\nteacher2,第二组\\n"}
    responses:
      200: {description: "{entries: n, groups: [the group names in the order first seen]}"}
      400: {description: "roster_invalid (with `line`); invalid: the phase is not a group discussion that assigns from a list"}
      403: {description: "forbidden: not the organizer, or the activity has started"}
      404: {description: not_found}
    """
    async with request.app.state.services.sessionmaker() as db:
        activity, phase = await _phase(request, db, "activity.edit", listed=True)
        entries = roster.parse(await _read(request))
        ids = await _user_ids(db, [e.username for e in entries])
        unknown = [e for e in entries if e.username not in ids]
        if unknown:
            more = f" (and {len(unknown) - 1} more unknown)" if len(unknown) > 1 else ""
            raise roster.RosterError(unknown[0].line, f"nobody has the username {unknown[0].username}{more}")
        await db.execute(delete(GroupRosterEntry).where(GroupRosterEntry.activity_id == activity.id,
                                                        GroupRosterEntry.phase == phase))
        audit.record(db, await current_actor(request), "group.roster", "activity", activity.id,
                     {"phase": phase, "entries": len(entries)}, activity_id=activity.id)  # who placed whom
        if entries:
            await db.execute(insert(GroupRosterEntry), [
                {"activity_id": activity.id, "phase": phase, "user_id": ids[e.username], "group_name": e.group,
                 "line": e.line} for e in entries])
        try:
            await db.commit()
        except IntegrityError:  # another upload of the same list at the same moment
            raise DomainError("conflict", "the list was being replaced at the same time; send it again") from None
    return json_response({"entries": len(entries), "groups": roster.groups_of(entries)})


async def _user_ids(db, usernames: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for i in range(0, len(usernames), _CHUNK):
        rows = await db.execute(select(User.username, User.id).where(User.username.in_(usernames[i:i + _CHUNK])))
        ids.update(rows.tuples().all())
    return ids


async def get_roster(request: Request):
    """
    summary: The list of a group phase as stored (its organizer)
    parameters:
      - {name: activity_id, in: path, required: true, schema: {type: integer}}
      - {name: phase, in: path, required: true, schema: {type: integer, minimum: 0}}
    responses:
      200: {description: "{entries: [{line, username, user_id, name, group}]}, in the order of the list"}
      400: {description: "invalid: the phase is not a group discussion"}
      403: {description: forbidden}
      404: {description: not_found}
    """
    async with request.app.state.services.sessionmaker() as db:
        activity, phase = await _phase(request, db, "activity.group_roster", listed=False)
        rows = await db.execute(
            select(GroupRosterEntry, User.username, User.display_name)
            .join(User, User.id == GroupRosterEntry.user_id)
            .where(GroupRosterEntry.activity_id == activity.id, GroupRosterEntry.phase == phase)
            .order_by(GroupRosterEntry.line))
        entries = [{"line": e.line, "username": username, "user_id": e.user_id, "name": name, "group": e.group_name}
                   for e, username, name in rows.all()]
    return json_response({"entries": entries})


routes = [
    Route("/api/activities/{activity_id}/phases/{phase}/roster", put_roster, methods=["PUT"]),
    Route("/api/activities/{activity_id}/phases/{phase}/roster", get_roster, methods=["GET"]),
]
