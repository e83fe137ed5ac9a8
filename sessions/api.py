"""Activity routes: schedule, edit, cancel, list, register, and calendars. Every route asks the policy
(through `sessions.scheduling`) before it acts."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from collab import audit, policy
from collab.api.common import current_actor, json_body, json_response, path_id, reader_lang
from collab.auth import accounts, signed
from collab.docs.rooms import DocRooms
from collab.errors import DomainError
from collab.store.models import User
from sessions import reports, scheduling
from sessions.chat import message_json
from sessions.groups import record as group_record
from sessions.groups.leaving import shut_out
from sessions.polls import poll_json
from sessions.polls import results as poll_results
from sessions.qa import top_questions
from sessions.records import (
    Activity,
    ActivityEvent,
    ActivityStaff,
    AttendanceInterval,
    ChatMessage,
    Poll,
    Recording,
    Registration,
    aware,
)
from sessions.room import event_json
from sessions.room_cache import rooms




async def _activity(request: Request, db) -> Activity:
    activity = await scheduling.get(db, path_id(request, "activity_id"))
    if activity is None:
        raise DomainError("not_found", "no such activity")
    return activity


async def _guarded(request: Request, db, actor, action: str):
    """The activity of the path, once the policy allows `action` on it; its access facts too."""
    activity = await _activity(request, db)
    access = await scheduling.access(db, activity, actor)
    policy.authorize(actor, action, access)
    return activity, access


async def create_activity(request: Request):
    """
    summary: Schedule an activity with its agenda and staff (organizers)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [title, starts_at, ends_at]
            properties:
              title: {type: string, minLength: 1, maxLength: 200}
              description: {type: string, maxLength: 5000}
              subject: {type: string, maxLength: 50, description: "a code (math, chinese, ...) or free text"}
              grade: {type: string, maxLength: 50, description: "1 to 12, or free text"}
              level: {type: string, enum: [national, province, city, county, school], default: school}
              region: {type: string, maxLength: 100}
              starts_at: {type: string, format: date-time, description: "ISO 8601 with an offset, e.g. 2026-12-01T14:00:00+08:00"}
              ends_at: {type: string, format: date-time, description: "after starts_at, at most 24 hours later"}
              time_zone: {type: string, description: "IANA name (Asia/Shanghai); the deployment's unless given"}
              capacity: {type: integer, minimum: 1, maximum: 1000000, default: 10000}
              front_row: {type: integer, minimum: 0, maximum: 500, default: 30, description: "attendees besides the stage who watch it in real time (WebRTC) while the program is on; the rest watch the program (HLS)"}
              visibility: {type: string, enum: [public, registered, invited], default: registered}
              registration: {type: string, enum: [open, approval], default: open}
              agenda:
                type: array
                maxItems: 20
                items:
                  type: object
                  properties:
                    kind: {type: string, enum: [lesson_display, discussion, expert_guidance, online_interaction, group_discussion, custom], default: custom}
                    title: {type: string, maxLength: 200}
                    minutes: {type: integer, minimum: 1, maximum: 600, default: 15}
                    chat: {type: boolean, description: "default: what the kind allows"}
                    questions: {type: boolean}
                    hands: {type: boolean}
                    polls: {type: boolean}
                    groups:
                      type: object
                      nullable: true
                      description: "a group_discussion phase's plan (docs/groups.md; the defaults when absent); null or absent for the other kinds"
                      properties:
                        size: {type: integer, minimum: 2, maximum: 50, default: 8}
                        assign: {type: string, enum: [random, by_school, mix_schools, by_region, mix_regions, list, self_select], default: random}
                        questions: {type: array, maxItems: 10, items: {type: string, maxLength: 300}, description: "the guiding questions"}
                        names: {type: array, maxItems: 200, items: {type: string, minLength: 1, maxLength: 100}, description: "the groups' names (unique); 2 to 200 of them for self_select"}
              hosts: {type: array, items: {type: integer}, description: user ids}
              experts: {type: array, items: {type: integer}, description: user ids}
              presenters: {type: array, items: {type: integer}, description: user ids}
              studio_id: {type: integer, description: "a studio's own activity (its leader or co-leaders schedule it)"}
    responses: {201: {description: "activity (with its `time_zone`, the deployment's unless given)"}, 400: {description: "invalid (message names the field); bad_time_zone: `time_zone` is not an IANA name"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    async with request.app.state.services.sessionmaker() as db:
        activity = await scheduling.create(db, actor, data, request.app.state.services.settings.time_zone)
        return json_response(scheduling.activity_json(activity), 201)


async def list_activities(request: Request):
    """
    summary: Upcoming, live, past or cancelled activities the caller may see
    parameters:
      - {name: status, in: query, schema: {type: string, enum: [upcoming, live, past, cancelled], default: upcoming}}
      - {name: subject, in: query, schema: {type: string}}
      - {name: grade, in: query, schema: {type: string}}
      - {name: level, in: query, schema: {type: string}}
      - {name: region, in: query, schema: {type: string}}
    responses: {200: {description: "{activities: [...]}, each with `me`: the caller's roles, registration and whether they organize it"}}
    """
    actor = await current_actor(request)
    policy.authorize(actor, "activity.list")
    status = request.query_params.get("status", "upcoming")
    if status not in scheduling.STATUSES:
        raise DomainError("invalid", f"status must be one of {', '.join(scheduling.STATUSES)}")
    filters = {k: request.query_params.get(k, "") for k in ("subject", "grade", "level", "region", "studio_id")}
    async with request.app.state.services.sessionmaker() as db:
        rows = await scheduling.listing(db, actor, status, filters)
        regs = await scheduling.standings(db, rows, actor.user_id) if actor is not None else {}
        return json_response({"activities": [{**scheduling.activity_json(a),
                                              "me": scheduling.me_json(a, actor, regs.get(a.id))} for a in rows]})


async def get_activity(request: Request):
    """
    summary: One activity, with the caller's place in it
    responses: {200: {description: activity}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        activity, acc = await _guarded(request, db, actor, "activity.view")
        body = scheduling.activity_json(activity, await scheduling.staff_names(db, activity))
        body["me"] = scheduling.me_json(activity, actor, acc.registration)
        return json_response(body)


async def edit_activity(request: Request):
    """
    summary: Change an activity's schedule, agenda or staff (its organizer, before it goes live)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            description: "the fields to change; those left out keep their values (staff lists replace the role's list)"
            properties:
              title: {type: string, minLength: 1, maxLength: 200}
              description: {type: string, maxLength: 5000}
              subject: {type: string, maxLength: 50, description: "a code (math, chinese, ...) or free text"}
              grade: {type: string, maxLength: 50, description: "1 to 12, or free text"}
              level: {type: string, enum: [national, province, city, county, school], default: school}
              region: {type: string, maxLength: 100}
              starts_at: {type: string, format: date-time, description: "ISO 8601 with an offset, e.g. 2026-12-01T14:00:00+08:00"}
              ends_at: {type: string, format: date-time, description: "after starts_at, at most 24 hours later"}
              time_zone: {type: string, description: "IANA name (Asia/Shanghai); the deployment's unless given"}
              capacity: {type: integer, minimum: 1, maximum: 1000000, default: 10000}
              front_row: {type: integer, minimum: 0, maximum: 500, default: 30, description: "attendees besides the stage who watch it in real time (WebRTC) while the program is on; the rest watch the program (HLS)"}
              visibility: {type: string, enum: [public, registered, invited], default: registered}
              registration: {type: string, enum: [open, approval], default: open}
              agenda:
                type: array
                maxItems: 20
                items:
                  type: object
                  properties:
                    kind: {type: string, enum: [lesson_display, discussion, expert_guidance, online_interaction, group_discussion, custom], default: custom}
                    title: {type: string, maxLength: 200}
                    minutes: {type: integer, minimum: 1, maximum: 600, default: 15}
                    chat: {type: boolean, description: "default: what the kind allows"}
                    questions: {type: boolean}
                    hands: {type: boolean}
                    polls: {type: boolean}
                    groups:
                      type: object
                      nullable: true
                      description: "a group_discussion phase's plan (docs/groups.md; the defaults when absent); null or absent for the other kinds"
                      properties:
                        size: {type: integer, minimum: 2, maximum: 50, default: 8}
                        assign: {type: string, enum: [random, by_school, mix_schools, by_region, mix_regions, list, self_select], default: random}
                        questions: {type: array, maxItems: 10, items: {type: string, maxLength: 300}, description: "the guiding questions"}
                        names: {type: array, maxItems: 200, items: {type: string, minLength: 1, maxLength: 100}, description: "the groups' names (unique); 2 to 200 of them for self_select"}
              hosts: {type: array, items: {type: integer}, description: user ids}
              experts: {type: array, items: {type: integer}, description: user ids}
              presenters: {type: array, items: {type: integer}, description: user ids}
    responses: {200: {description: activity}, 400: {description: "invalid; bad_time_zone: `time_zone` is not an IANA name"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    async with request.app.state.services.sessionmaker() as db:
        activity = await _activity(request, db)
        activity = await scheduling.update(db, rooms(request.app.state.services), actor, activity, data)
        return json_response(scheduling.activity_json(activity))


async def cancel_activity(request: Request):
    """
    summary: Cancel an activity (its organizer, before it goes live)
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {200: {description: activity}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        activity = await _activity(request, db)
        activity = await scheduling.cancel(db, rooms(request.app.state.services), actor, activity)
        return json_response(scheduling.activity_json(activity))


async def register(request: Request):
    """
    summary: Register for an activity (approved at once when registration is open, else pending)
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {200: {description: "{status}"}, 400: {description: "invalid: the activity is full"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        activity = await _activity(request, db)
        reg = await scheduling.register(db, rooms(request.app.state.services), actor, activity)
        return json_response({"activity_id": activity.id, "status": reg.status})


async def create_invitation(request: Request):
    """
    summary: An invitation link that admits its holder until it expires (the organizer)
    requestBody: {content: {application/json: {schema: {type: object, properties: {hours: {type: integer, default: 72}}}}}}
    responses: {201: {description: "{url, token, expires_at}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    hours = data.get("hours", 72)
    if type(hours) is not int or not 1 <= hours <= 24 * 90:
        raise DomainError("invalid", "hours: a whole number from 1 to 2160")
    services = request.app.state.services
    async with services.sessionmaker() as db:
        activity, _ = await _guarded(request, db, actor, "activity.invite")
    expires_at = int(time.time()) + hours * 3600
    token = signed.invitation(services.settings.secret, activity.id, expires_at)
    return json_response({"token": token, "expires_at": expires_at,
                          "url": f"{_base_url(request)}/activities/{activity.id}?invite={token}"}, 201)


async def accept_invitation(request: Request):
    """
    summary: Join with an invitation link (registered and approved at once, even for invited-only activities)
    requestBody: {content: {application/json: {schema: {type: object, properties: {token: {type: string}}}}}}
    responses: {200: {description: "{status}"}, 400: {description: "invitation_invalid, invitation_expired, invalid (full)"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    services = request.app.state.services
    async with services.sessionmaker() as db:
        activity = await _activity(request, db)
        policy.authorize(actor, "activity.accept_invitation", await scheduling.access(db, activity, actor))
        signed.check_invitation(services.settings.secret, str(data.get("token", "")), activity.id)
        reg = await scheduling.admit(db, rooms(services), actor, activity)
        return json_response({"activity_id": activity.id, "status": reg.status})


async def list_registrations(request: Request):
    """
    summary: Who registered (the organizer)
    responses: {200: {description: "{registrations: [...]}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        activity = await _activity(request, db)
        rows = await scheduling.registrations(db, actor, activity)
        return json_response({"registrations": [
            {"user_id": u.id, "display_name": u.display_name, "school": u.school, "region": u.region,
             "status": r.status, "at": r.created_at.isoformat()} for r, u in rows]})


async def decide_registration(request: Request):
    """
    summary: Approve or reject a registration (the organizer)
    requestBody: {content: {application/json: {schema: {type: object, properties: {approve: {type: boolean}}}}}}
    responses: {200: {description: "{status}"}, 400: {description: invalid}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    if not isinstance(data.get("approve"), bool):
        raise DomainError("invalid", "approve must be true or false")
    try:
        user_id = int(request.path_params["user_id"])
    except ValueError:
        raise DomainError("not_found", "no such registration") from None
    async with request.app.state.services.sessionmaker() as db:
        activity = await _activity(request, db)
        reg = await scheduling.decide(db, rooms(request.app.state.services), actor, activity, user_id, data["approve"])
        if not data["approve"]:
            await _unless_still_admitted(request, db, activity, user_id)
        return json_response({"user_id": user_id, "status": reg.status})


async def _unless_still_admitted(request: Request, db, activity: Activity, user_id: int) -> None:
    """A registration rejected (or withdrawn after approval): if the teacher may no longer attend (a
    public activity still admits them), their sockets leave the room's channel on every node, with an
    `unsubscribed` push; subscribing again is refused."""
    user = await db.get(User, user_id)
    if user is None:
        return
    teacher = accounts.actor_of(user)
    if not policy.allowed(teacher, "activity.attend", await scheduling.access(db, activity, teacher)):
        await shut_out(request.app.state.services, activity.id, user_id, REGISTRATION_WITHDRAWN)


REGISTRATION_WITHDRAWN = "registration withdrawn"  # the reason of the `unsubscribed` push


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def activity_calendar(request: Request):
    """
    summary: The activity as an iCalendar event
    responses: {200: {description: text/calendar}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        activity, _ = await _guarded(request, db, actor, "activity.view")
        body = scheduling.ical([activity], _base_url(request), activity.title)
    return Response(body, media_type="text/calendar; charset=utf-8",
                     headers={"Content-Disposition": f'attachment; filename="activity-{activity.id}.ics"'})


async def timeline(request: Request):
    """
    summary: "The activity's record in order: phase changes, and later chat, questions and polls (the replay)"
    responses: {200: {description: "{events: [...]}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        activity, _ = await _guarded(request, db, actor, "activity.timeline")
        rows = await db.execute(
            select(ActivityEvent, User.display_name).outerjoin(User, User.id == ActivityEvent.actor_id)
            .where(ActivityEvent.activity_id == activity.id).order_by(ActivityEvent.id))
        events = [event_json(ev, name or "") for ev, name in rows.all()]
    return json_response({"activity_id": activity.id, "events": events})


async def _attendance_rows(request: Request, notes: bool = False
                           ) -> tuple[Activity, list[dict], list[dict], reports.Report, list[group_record.GroupRecord]]:
    """The activity, its teachers' rows, its staff's rows (each under their role), the report, and
    its groups (with the size of their notes when `notes`)."""
    actor = await current_actor(request)
    services = request.app.state.services
    async with services.sessionmaker() as db:
        activity, _ = await _guarded(request, db, actor, "activity.attendance")
        report = await reports.report_for(db, activity, services.settings.credit_ratio)
        users = await reports.users_by_id(db, [r.user_id for r in report.records])
        groups = await group_record.groups_of(db, activity)
        if notes:
            await group_record.measure_notes(db, services.get(DocRooms), groups)
    roles = reports.roles_in(activity)
    labels = group_record.labels(activity, groups)
    rows = [reports.record_json(r, users.get(r.user_id), roles.get(r.user_id, reports.TEACHER), labels.get(r.user_id, ""))
            for r in report.records]
    return (activity, [r for r in rows if r["role"] == reports.TEACHER],
            [r for r in rows if r["role"] != reports.TEACHER], report, groups)


async def attendance(request: Request):
    """
    summary: "Attendance per teacher: first join, last leave, minutes present while live, rejoins, credited; the staff apart; and the curve of presence"
    description: "`attendees` are the teachers, who may earn credit: present while live for at least
      `needed_minutes` (`credit_ratio` of the scheduled time). `staff` are the organizer, hosts, experts
      and presenters who entered the room, each with their `role` and `credited: null`: they run the
      activity and are not counted among the teachers. Times are ISO 8601 in UTC; `time_zone` is the
      activity's clock (IANA name), on which pages and the CSV show them.
      `timeline` is how many attendees were in the room at each moment of the live window, every
      `timeline_step` seconds from `started_at` (60, a point a minute, unless the window is under ten
      minutes): `[{at, present}]`, empty before the activity goes live. It counts everyone in the room,
      staff too. `phases` are the moments it entered each phase: `[{phase, kind, title, at}]`.
      Each row's `group` names the teacher's group in each group-discussion phase (`分组研讨：第3组`);
      `groups` is every group phase with its groups as `/groups` gives them, and each group's
      `notes_chars`, the length of its notes now, and each member's `notes_edits`, the updates
      they sent the notes (an editor sends one every few keystrokes)."
    responses: {200: {description: "{attendees: [...], staff: [...], credit_ratio, needed_minutes, time_zone, started_at, ended_at, timeline: [{at, present}], timeline_step, phases: [...], groups: [...]}"}, 403: {description: forbidden}}
    """
    activity, teachers, staff, report, groups = await _attendance_rows(request, notes=True)
    ratio = request.app.state.services.settings.credit_ratio
    return json_response({"activity_id": activity.id, "credit_ratio": ratio,
                          "needed_minutes": round(reports.needed_seconds(activity, ratio) / 60, 1),
                          "time_zone": activity.time_zone, "attendees": teachers, "staff": staff,
                          "started_at": aware(activity.started_at).isoformat() if activity.started_at else None,
                          "ended_at": aware(activity.ended_at).isoformat() if activity.ended_at else None,
                          "timeline": reports.curve_json(report), "timeline_step": report.step,
                          "phases": report.phases, "groups": group_record.by_phase(activity, groups)})


async def attendance_csv(request: Request):
    """
    summary: The attendance report as CSV (UTF-8 with BOM, for spreadsheets), for people or for integrations
    description: "For people (the default): headers in the reader's language, Chinese unless `lang=en`
      or an Accept-Language that prefers English over Chinese; times on the activity's clock
      (its `time_zone`, named in the two time headers) as `YYYY-MM-DD HH:MM:SS`; the role named and
      credit as 是/否 (yes/no), or 不计学时 (not counted) for staff.
      With `format=machine`, the stable form for integrations, whatever the language: the header row
      `user_id,name,school,region,first_join,last_leave,minutes,rejoins,credited,role`, times in ISO 8601
      with their offset on the activity's clock to the second (`2026-12-04T14:00:05+08:00`), `credited`
      yes, no or empty for staff, `role` one of teacher, organizer, host, expert, presenter. The JSON
      report (`/attendance`) carries the same rows. Either way teachers come first, then staff; a cell
      that would start a spreadsheet formula starts with an apostrophe."
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [human, machine], default: human}}
      - {name: lang, in: query, schema: {type: string, enum: [zh, en]}}
    responses: {200: {description: text/csv}, 400: {description: "invalid: an unknown format or lang"}, 403: {description: forbidden}}
    """
    form = request.query_params.get("format", "human")
    if form not in ("human", "machine"):
        raise DomainError("invalid", "format must be human or machine")
    lang = reader_lang(request)
    activity, teachers, staff, _, groups = await _attendance_rows(request)
    body = reports.to_csv(teachers + staff, activity.time_zone, lang, machine=form == "machine", groups=bool(groups))
    async with request.app.state.services.sessionmaker() as db:  # who took the teachers' records away
        audit.record(db, await current_actor(request), "attendance.export", "activity", activity.id,
                     {"format": form, "lang": lang, "rows": len(teachers) + len(staff)}, activity_id=activity.id)
        await db.commit()
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="attendance-{activity.id}.csv"',
                             "Content-Language": "en" if form == "machine" or lang == "en" else "zh-CN",
                             "Vary": "Accept-Language"})


async def learning_record(request: Request):
    """
    summary: "The signed-in teacher's learning record: activities attended, minutes, credited or not, and what credit needed"
    description: "Each entry: `minutes` present while live, `needed_minutes` that earn credit (the
      activity's `credit_ratio` of its scheduled time), `credited`, and the caller's `role` in it:
      `teacher`, or a staff role (organizer, host, expert, presenter) with `credited: null`, since staff
      do not earn credit for an activity they run. `credited_minutes` sums the credited entries.
      `starts_at` and `ends_at` are UTC; `time_zone` is the activity's clock."
    responses: {200: {description: "{activities: [{activity_id, title, state, starts_at, ends_at, time_zone, role, minutes, needed_minutes, credited}], credited_minutes}"}, 401: {description: unauthenticated}}
    """
    actor = await current_actor(request)
    policy.authorize(actor, "self")
    return json_response(await _learning(request, actor.user_id))


async def teacher_learning(request: Request):
    """
    summary: "A teacher's learning record, as they see it at /api/me/learning (admins; service keys with attendance:read)"
    responses: {200: {description: "{user_id, activities: [...], credited_minutes}"}, 403: {description: "forbidden, key_scope"}, 404: {description: not_found}}
    """
    user_id = path_id(request, "user_id")
    actor = await current_actor(request)
    policy.authorize(actor, "user.learning", user_id)
    async with request.app.state.services.sessionmaker() as db:
        if await db.get(User, user_id) is None:
            raise DomainError("not_found", "no such user")
    return json_response({"user_id": user_id, **await _learning(request, user_id)})


async def _learning(request: Request, user_id: int) -> dict:
    services = request.app.state.services
    ratio = services.settings.credit_ratio
    async with services.sessionmaker() as db:
        ids = list((await db.execute(select(AttendanceInterval.activity_id).where(
            AttendanceInterval.user_id == user_id).distinct())).scalars())
        out = []
        for activity_id in ids:
            activity = await db.get(Activity, activity_id)
            [rec] = await reports.records_for(db, activity, ratio, user_id)
            role = reports.roles_in(activity).get(user_id, reports.TEACHER)
            out.append({"activity_id": activity.id, "title": activity.title, "state": activity.state,
                        "starts_at": aware(activity.starts_at).isoformat(),
                        "ends_at": aware(activity.ends_at).isoformat(), "time_zone": activity.time_zone,
                        "role": role, "minutes": rec.minutes,
                        "needed_minutes": round(reports.needed_seconds(activity, ratio) / 60, 1),
                        "credited": rec.credited if role == reports.TEACHER else None})
    out.sort(key=lambda r: r["starts_at"], reverse=True)
    return {"activities": out, "credited_minutes": sum(r["minutes"] for r in out if r["credited"])}


async def replay(request: Request):
    """
    summary: "After the end: the phases with their times, the discussion, questions and answers, poll results"
    responses: {200: {description: "{activity, phases, chat, questions, polls, recordings}"}, 403: {description: forbidden}, 409: {description: "not_ended: the replay opens when the activity ends"}}
    """
    actor = await current_actor(request)
    secret = request.app.state.services.settings.secret
    async with request.app.state.services.sessionmaker() as db:
        activity, _ = await _guarded(request, db, actor, "activity.timeline")
        if activity.state not in ("ended", "archived"):
            raise DomainError("not_ended", "the replay opens when the activity ends", status=409)
        events = (await db.execute(select(ActivityEvent).where(ActivityEvent.activity_id == activity.id)
                                   .order_by(ActivityEvent.id))).scalars().all()
        phases, current = [], None
        for ev in events:  # the timeline of phases, from the recorded changes
            if ev.type in ("started", "phase_changed") and ev.data.get("phase") is not None:
                if current:
                    current["ended_at"] = aware(ev.at).isoformat()
                p = activity.phases[ev.data["phase"]]
                current = {"phase": ev.data["phase"], "kind": p.kind, "title": p.title,
                           "started_at": aware(ev.at).isoformat(), "ended_at": None}
                phases.append(current)
            elif ev.type == "ended" and current:
                current["ended_at"] = aware(ev.at).isoformat()
        chat_rows = (await db.execute(select(ChatMessage, User.display_name).join(User, User.id == ChatMessage.user_id)
                                      .where(ChatMessage.activity_id == activity.id, ChatMessage.status == "visible")
                                      .order_by(ChatMessage.id))).all()
        questions = await top_questions(db, activity.id, "votes", limit=1000)
        polls = [{"poll": poll_json(p), **await poll_results(db, p)} for p in (await db.execute(
            select(Poll).where(Poll.activity_id == activity.id).order_by(Poll.id))).scalars()]
        recordings = (await db.execute(select(Recording, User.display_name).join(User, User.id == Recording.user_id)
                                       .where(Recording.activity_id == activity.id).order_by(Recording.id))).all()
        return json_response({
            "activity": scheduling.activity_json(activity), "phases": phases,
            "chat": [message_json(m, n) for m, n in chat_rows], "questions": questions, "polls": polls,
            "recordings": [{"id": r.id, "kind": r.kind, "user": {"id": r.user_id, "name": n}, "media_type": r.media_type,
                            "bytes": r.bytes, "started_at": aware(r.started_at).isoformat(),
                            "ended_at": aware(r.ended_at).isoformat(),
                            # a signed key for this viewer: a <video src> cannot send the bearer token
                            "url": f"/api/activities/{activity.id}/recordings/{r.id}?key="
                                   + signed.recording_link(secret, r.id, actor.user_id if actor else None)}
                           for r, n in recordings],
        })


async def recording(request: Request):
    """
    summary: A stage recording of the activity (WebM), for whoever may see its replay
    description: "With the bearer token, or with the signed `key` the replay puts in each recording's url
      (for `<video src>`): the key names its recording and viewer, expires, and the policy is asked again
      for that viewer. A key that is given decides alone: a bad one is refused whatever else is sent.
      Range requests are answered with 206 for seeking."
    parameters:
      - {name: key, in: query, schema: {type: string}}
    responses: {200: {description: video/webm}, 206: {description: a byte range}, 403: {description: "forbidden, link_invalid, link_expired"}, 404: {description: not_found}}
    """
    services = request.app.state.services
    recording_id = path_id(request, "recording_id")
    key = request.query_params.get("key")
    async with services.sessionmaker() as db:
        if key is None:
            actor = await current_actor(request)
        else:
            viewer = signed.check_recording_link(services.settings.secret, key, recording_id)
            user = await db.get(User, viewer) if viewer is not None else None
            if viewer is not None and user is None:
                raise DomainError("link_invalid", "that recording link is not valid")
            actor = accounts.actor_of(user) if user is not None else None
        try:
            activity, _ = await _guarded(request, db, actor, "activity.timeline")
        except policy.Denied as exc:
            if key is not None and exc.code == "unauthenticated":  # a link's anonymous viewer: signing in is not the answer
                raise policy.Denied("forbidden", exc.action) from None
            raise
        rec = await db.get(Recording, recording_id)
    if rec is None or rec.activity_id != activity.id:
        raise DomainError("not_found", "no such recording")
    root = Path(services.settings.recordings_dir).resolve()
    path = (root / rec.file).resolve()
    if root not in path.parents or not path.exists():
        raise DomainError("gone", "the recording file is missing")
    return FileResponse(path, media_type=rec.media_type, headers={"X-Content-Type-Options": "nosniff"})


async def my_feed_url(request: Request):
    """
    summary: The signed-in teacher's calendar feed URL (subscribe to it in any calendar app)
    responses: {200: {description: "{url}"}, 401: {description: unauthenticated}}
    """
    actor = await current_actor(request)
    policy.authorize(actor, "self")
    key = signed.feed_key(request.app.state.services.settings.secret, actor.user_id)  # calendar apps send no token
    return json_response({"url": f"{_base_url(request)}/api/users/{actor.user_id}/calendar.ics?key={key}"})


async def user_feed(request: Request):
    """
    summary: "A teacher's calendar feed: activities they registered for or help run"
    responses: {200: {description: text/calendar}, 403: {description: "forbidden: wrong key"}}
    """
    try:
        user_id = int(request.path_params["user_id"])
    except ValueError:
        raise DomainError("not_found", "no such user") from None
    services = request.app.state.services
    signed.check_feed_key(services.settings.secret, user_id, request.query_params.get("key", ""))
    async with services.sessionmaker() as db:
        rows = await db.execute(select(Activity).where(or_(
            Activity.id.in_(select(Registration.activity_id).where(Registration.user_id == user_id,
                                                                   Registration.status == "approved")),
            Activity.id.in_(select(ActivityStaff.activity_id).where(ActivityStaff.user_id == user_id)),
            Activity.organizer_id == user_id,
        )).order_by(Activity.starts_at))
        body = scheduling.ical(list(rows.scalars()), _base_url(request), "collab activities")
    return Response(body, media_type="text/calendar; charset=utf-8")


routes = [
    Route("/api/activities", create_activity, methods=["POST"]),
    Route("/api/activities", list_activities, methods=["GET"]),
    Route("/api/activities/{activity_id}", get_activity, methods=["GET"]),
    Route("/api/activities/{activity_id}", edit_activity, methods=["PATCH"]),
    Route("/api/activities/{activity_id}/cancel", cancel_activity, methods=["POST"]),
    Route("/api/activities/{activity_id}/register", register, methods=["POST"]),
    Route("/api/activities/{activity_id}/registrations", list_registrations, methods=["GET"]),
    Route("/api/activities/{activity_id}/invitations", create_invitation, methods=["POST"]),
    Route("/api/activities/{activity_id}/join", accept_invitation, methods=["POST"]),
    Route("/api/activities/{activity_id}/registrations/{user_id}", decide_registration, methods=["POST"]),
    Route("/api/activities/{activity_id}/calendar.ics", activity_calendar, methods=["GET"]),
    Route("/api/activities/{activity_id}/timeline", timeline, methods=["GET"]),
    Route("/api/activities/{activity_id}/replay", replay, methods=["GET"]),
    Route("/api/activities/{activity_id}/recordings/{recording_id}", recording, methods=["GET"]),
    Route("/api/activities/{activity_id}/attendance", attendance, methods=["GET"]),
    Route("/api/activities/{activity_id}/attendance.csv", attendance_csv, methods=["GET"]),
    Route("/api/me/learning", learning_record, methods=["GET"]),
    Route("/api/users/{user_id}/learning", teacher_learning, methods=["GET"]),
    Route("/api/me/calendar", my_feed_url, methods=["GET"]),
    Route("/api/users/{user_id}/calendar.ics", user_feed, methods=["GET"]),
]
