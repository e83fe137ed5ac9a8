"""Studio routes: found, find, join, run; the studio's posts; its resource library. Every route asks the
policy (through `collab.studios.membership.guarded` or `studio_access`) before it acts."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from collab import policy
from collab.api.common import current_actor, json_body, json_response, path_id
from collab.auth import signed
from collab.errors import DomainError
from collab.store.models import User
from collab.studios import library, membership
from collab.studios.access import studio_access
from collab.studios.channel import recent_posts
from collab.studios.records import Resource, StudioMember

INVITE_ROLES = ("member", "observer")



async def create_studio(request: Request):
    """
    summary: Found a studio; its founder leads it
    requestBody: {content: {application/json: {schema: {type: object, required: [name], properties: {name: {type: string}, subject: {type: string}, grade: {type: string}, region: {type: string}, description: {type: string}}}}}}
    responses: {201: {description: studio}, 400: {description: invalid}, 401: {description: unauthenticated}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    async with request.app.state.services.sessionmaker() as db:
        studio = await membership.create(db, actor, data)
        return json_response({**membership.studio_json(studio, 1), "me": {"role": "leader", "pending": False}}, 201)


async def list_studios(request: Request):
    """
    summary: The studio directory, filtered by subject, grade, region, a search word, or only mine; each with its leader and the caller's place in it (me {role, pending})
    parameters:
      - {name: subject, in: query, schema: {type: string}}
      - {name: grade, in: query, schema: {type: string}}
      - {name: region, in: query, schema: {type: string}}
      - {name: q, in: query, schema: {type: string}}
      - {name: mine, in: query, schema: {type: boolean}}
    responses: {200: {description: "{studios: [...]}"}}
    """
    actor = await current_actor(request)
    filters = {k: request.query_params.get(k, "")[:100] for k in ("subject", "grade", "region", "q")}
    mine = request.query_params.get("mine") in ("1", "true")
    async with request.app.state.services.sessionmaker() as db:
        rows = await membership.directory(db, filters, actor, mine)
        ids = [s.id for s, _ in rows]
        leaders = {s.leader_id for s, _ in rows}
        names = {u.id: u.display_name for u in (await db.execute(
            select(User).where(User.id.in_(leaders)))).scalars()} if leaders else {}
        mine_rows = {m.studio_id: m for m in (await db.execute(select(StudioMember).where(
            StudioMember.user_id == actor.user_id, StudioMember.studio_id.in_(ids)))).scalars()} \
            if actor is not None and ids else {}

    def me(studio_id: int) -> dict:
        m = mine_rows.get(studio_id)
        return {"role": m.role if m is not None and m.status == "active" else None,
                "pending": m is not None and m.status == "pending"}

    return json_response({"studios": [{**membership.studio_json(s, n),
                                       "leader": {"id": s.leader_id, "name": names.get(s.leader_id, "")},
                                       "me": me(s.id)} for s, n in rows]})


async def get_studio(request: Request):
    """
    summary: A studio's profile, its leader, and the caller's place in it
    responses: {200: {description: studio}, 404: {description: not_found}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        studio, access = await membership.guarded(db, path_id(request, "studio_id"), actor, "studio.view")
        leader = await db.get(User, studio.leader_id)
        count = len(await membership.members(db, studio.id))
        return json_response({**membership.studio_json(studio, count),
                              "leader": {"id": studio.leader_id, "name": leader.display_name if leader else ""},
                              "me": {"role": access.role, "pending": access.pending,
                                     "may_manage": policy.allowed(actor, "studio.manage", access),
                                     "may_appoint": policy.allowed(actor, "studio.appoint", access),
                                     "may_edit": policy.allowed(actor, "doc.edit", access)}})


async def edit_studio(request: Request):
    """
    summary: Edit the profile (leader, co-leaders)
    requestBody: {required: true, content: {application/json: {schema: {type: object, description: "the fields to change", properties: {name: {type: string, minLength: 1, maxLength: 100}, subject: {type: string, maxLength: 50}, grade: {type: string, maxLength: 50}, region: {type: string, maxLength: 100}, description: {type: string, maxLength: 5000}}}}}}
    responses: {200: {description: studio}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    async with request.app.state.services.sessionmaker() as db:
        studio = await membership.edit(db, actor, path_id(request, "studio_id"), data)
        return json_response(membership.studio_json(studio))


async def apply_to_studio(request: Request):
    """
    summary: Apply to join; the leader or a co-leader decides
    requestBody: {required: false, content: {application/json: {schema: {type: object, properties: {note: {type: string, maxLength: 500, description: a word to the leader}}}}}}
    responses: {200: {description: "{status: pending}"}, 403: {description: "forbidden (already a member or waiting)"}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    async with request.app.state.services.sessionmaker() as db:
        row = await membership.apply(db, actor, path_id(request, "studio_id"), data.get("note", ""))
        return json_response({"status": row.status})


async def list_members(request: Request):
    """
    summary: Members with their roles (members); applicants with ?status=pending (leader, co-leaders)
    responses: {200: {description: "{members: [...]}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    status = request.query_params.get("status", "active")
    if status not in ("active", "pending"):
        raise DomainError("invalid", "status is active or pending")
    async with request.app.state.services.sessionmaker() as db:
        studio, _ = await membership.guarded(db, path_id(request, "studio_id"), actor,
                                             "studio.manage" if status == "pending" else "studio.read")
        rows = await membership.members(db, studio.id, status)
    return json_response({"members": [membership.member_json(m, u) for m, u in rows]})


async def change_member(request: Request):
    """
    summary: Decide an application ({approve}) or change a member's role ({role})
    requestBody: {content: {application/json: {schema: {type: object, properties: {approve: {type: boolean}, role: {type: string, enum: [leader, co_leader, member, observer]}}}}}}
    responses: {200: {description: member}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    studio_id, user_id = path_id(request, "studio_id"), path_id(request, "user_id")
    members = request.app.state.services.studio_members
    async with request.app.state.services.sessionmaker() as db:
        if "approve" in data:
            if not isinstance(data["approve"], bool):
                raise DomainError("invalid", "approve is true or false")
            row = await membership.decide(db, members, actor, studio_id, user_id, data["approve"])
        elif "role" in data:
            row = await membership.set_role(db, members, actor, studio_id, user_id, data["role"])
        else:
            raise DomainError("invalid", "send approve or role")
        return json_response({"user_id": user_id, "role": row.role if row else None,
                              "status": row.status if row else "rejected"})


async def remove_member(request: Request):
    """
    summary: Remove a member (leader, co-leaders; co-leaders only by the leader)
    responses: {204: {description: removed}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    studio_id, user_id = path_id(request, "studio_id"), path_id(request, "user_id")
    members = request.app.state.services.studio_members
    async with request.app.state.services.sessionmaker() as db:
        await membership.remove(db, members, actor, studio_id, user_id)
    return Response(status_code=204)


async def leave_studio(request: Request):
    """
    summary: Leave the studio (the leader hands it over first)
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {204: {description: left}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    members = request.app.state.services.studio_members
    async with request.app.state.services.sessionmaker() as db:
        await membership.leave(db, members, actor, path_id(request, "studio_id"))
    return Response(status_code=204)


async def create_invitation(request: Request):
    """
    summary: An invitation link that admits its holder as a member (or observer) until it expires
    requestBody: {content: {application/json: {schema: {type: object, properties: {hours: {type: integer, default: 168}, role: {type: string, enum: [member, observer]}}}}}}
    responses: {201: {description: "{url, token, expires_at}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    hours, role = data.get("hours", 168), data.get("role", "member")
    if type(hours) is not int or not 1 <= hours <= 24 * 90:
        raise DomainError("invalid", "hours: a whole number from 1 to 2160")
    if role not in INVITE_ROLES:
        raise DomainError("invalid", "role is member or observer")
    services = request.app.state.services
    async with services.sessionmaker() as db:
        studio, _ = await membership.guarded(db, path_id(request, "studio_id"), actor, "studio.manage")
    expires_at = int(time.time()) + hours * 3600
    token = signed.invitation(services.settings.secret, studio.id, expires_at, kind="studio-" + role)
    base = str(request.base_url).rstrip("/")
    return json_response({"token": token, "expires_at": expires_at, "role": role,
                          "url": f"{base}/studios/{studio.id}?invite={token}&role={role}"}, 201)


async def join_studio(request: Request):
    """
    summary: Join with an invitation link
    requestBody: {content: {application/json: {schema: {type: object, properties: {token: {type: string}, role: {type: string}}}}}}
    responses: {200: {description: "{role}"}, 400: {description: "invitation_invalid, invitation_expired"}, 403: {description: "forbidden (already a member)"}}
    """
    actor = await current_actor(request)
    policy.authorize(actor, "self")  # before the link is looked at: a person, signed in, follows it
    data = await json_body(request)
    role = data.get("role", "member")
    services = request.app.state.services
    if role not in INVITE_ROLES:
        raise DomainError("invitation_invalid", "that invitation link is not valid")
    signed.check_invitation(services.settings.secret, str(data.get("token", "")), path_id(request, "studio_id"),
                            kind="studio-" + role)
    async with services.sessionmaker() as db:
        row = await membership.join_by_link(db, services.studio_members, actor, path_id(request, "studio_id"),
                                            role)
        return json_response({"role": row.role, "status": row.status})


async def list_posts(request: Request):
    """
    summary: The studio channel's recent announcements and discussion (members); live ones arrive on /ws channel studio:<id>
    parameters: [{name: before, in: query, schema: {type: integer}}]
    responses: {200: {description: "{posts: [...]}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    before = request.query_params.get("before")
    async with request.app.state.services.sessionmaker() as db:
        studio, _ = await membership.guarded(db, path_id(request, "studio_id"), actor, "studio.read")
        posts = await recent_posts(db, studio.id, before=int(before) if before and before.isdigit() else None)
    return json_response({"posts": posts})


# -- the resource library --------------------------------------------------------------------------


async def upload_resource(request: Request):
    """
    summary: Upload a lesson plan, slides, a worksheet or a video (members); multipart fields file, title, kind, tags
    requestBody:
      required: true
      content:
        multipart/form-data:
          schema:
            type: object
            required: [file]
            properties:
              file: {type: string, format: binary, description: "its content must match its extension (PDF, Office, video, image, audio, text)"}
              title: {type: string, maxLength: 200, description: "default: the file's name"}
              kind: {type: string, enum: [lesson_plan, slides, worksheet, video, other], default: other}
              tags: {type: string, description: "comma-separated, at most 10, each at most 30 characters"}
    responses: {201: {description: resource}, 413: {description: too_large}, 415: {description: "unsupported_type, type_mismatch"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    services = request.app.state.services
    settings = services.settings
    studio_id = path_id(request, "studio_id")
    async with services.sessionmaker() as db:  # refuse before reading a byte of the body
        access = await studio_access(db, studio_id, actor)
    if access is None:
        raise DomainError("not_found", "no such studio")
    policy.authorize(actor, "resource.upload", access)
    declared = request.headers.get("content-length")
    if declared is None:
        raise DomainError("length_required", "send the upload with a Content-Length")
    if not declared.isdigit() or int(declared) > settings.max_upload_bytes + 64 * 1024:
        raise DomainError("too_large", f"files are at most {settings.max_upload_bytes} bytes")
    try:
        form = await request.form(max_files=1, max_fields=8)
    except Exception:
        raise DomainError("invalid", "a multipart form with one file") from None
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise DomainError("invalid", "the form needs a file")
        filename = library.clean_filename(upload.filename or "")
        title = str(form.get("title") or filename).strip()[:200]
        kind = str(form.get("kind") or "other")
        if kind not in library.KINDS:
            raise DomainError("invalid", f"kind is one of {', '.join(library.KINDS)}")
        tags = library.parse_tags(str(form.get("tags") or ""))
        stored = await library.store_upload(upload, filename, Path(settings.resources_dir), settings.max_upload_bytes)
    finally:
        await form.close()
    async with services.sessionmaker() as db:
        r = Resource(studio_id=studio_id, title=title, kind=kind, tags=tags, filename=filename,
                     media_type=stored.media_type, size=stored.size, sha256=stored.sha256, uploaded_by=actor.user_id)
        db.add(r)
        await db.commit()
    return json_response(library.resource_json(r, actor.name), 201)


async def list_resources(request: Request):
    """
    summary: The library, searched by title or tag words (q), one tag, or kind (members, observers)
    parameters:
      - {name: q, in: query, schema: {type: string}}
      - {name: tag, in: query, schema: {type: string}}
      - {name: kind, in: query, schema: {type: string}}
    responses: {200: {description: "{resources: [...]}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        studio, _ = await membership.guarded(db, path_id(request, "studio_id"), actor, "studio.read")
        found = await library.search(db, studio.id, request.query_params.get("q", "")[:100],
                                     request.query_params.get("tag", "")[:30], request.query_params.get("kind", ""))
        names = {u.id: u.display_name for u in (await db.execute(
            select(User).where(User.id.in_({r.uploaded_by for r in found})))).scalars()} if found else {}
    return json_response({"resources": [library.resource_json(r, names.get(r.uploaded_by, "")) for r in found]})


async def _resource(request: Request, db, actor, action: str) -> Resource:
    r = await db.get(Resource, path_id(request, "resource_id"))
    access = None if r is None else await studio_access(db, r.studio_id, actor)
    if access is None:
        raise DomainError("not_found", "no such resource")
    policy.authorize(actor, action, access if action == "studio.read" else policy.Owned(access, r.uploaded_by))
    return r


async def download_resource(request: Request):
    """
    summary: Download a library file (members, observers)
    responses: {200: {description: the file}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor = await current_actor(request)
    services = request.app.state.services
    async with services.sessionmaker() as db:
        r = await _resource(request, db, actor, "studio.read")
    path = library.path_of(Path(services.settings.resources_dir), r.sha256)
    if not path.exists():
        raise DomainError("gone", "the file is missing from storage")
    disposition = f"attachment; filename*=UTF-8''{quote(r.filename)}"
    return FileResponse(path, media_type=r.media_type, headers={
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


async def delete_resource(request: Request):
    """
    summary: Delete a library file (its uploader, leader, co-leaders)
    responses: {204: {description: deleted}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    services = request.app.state.services
    async with services.sessionmaker() as db:
        r = await _resource(request, db, actor, "resource.delete")
        sha = r.sha256
        await db.delete(r)
        await db.commit()
        still_used = (await db.execute(select(Resource.id).where(Resource.sha256 == sha).limit(1))).first()
    if still_used is None:
        library.path_of(Path(services.settings.resources_dir), sha).unlink(missing_ok=True)
    return Response(status_code=204)


routes = [
    Route("/api/studios", create_studio, methods=["POST"]),
    Route("/api/studios", list_studios, methods=["GET"]),
    Route("/api/studios/{studio_id}", get_studio, methods=["GET"]),
    Route("/api/studios/{studio_id}", edit_studio, methods=["PATCH"]),
    Route("/api/studios/{studio_id}/apply", apply_to_studio, methods=["POST"]),
    Route("/api/studios/{studio_id}/members", list_members, methods=["GET"]),
    Route("/api/studios/{studio_id}/members/{user_id}", change_member, methods=["POST"]),
    Route("/api/studios/{studio_id}/members/{user_id}", remove_member, methods=["DELETE"]),
    Route("/api/studios/{studio_id}/leave", leave_studio, methods=["POST"]),
    Route("/api/studios/{studio_id}/invitations", create_invitation, methods=["POST"]),
    Route("/api/studios/{studio_id}/join", join_studio, methods=["POST"]),
    Route("/api/studios/{studio_id}/posts", list_posts, methods=["GET"]),
    Route("/api/studios/{studio_id}/resources", upload_resource, methods=["POST"]),
    Route("/api/studios/{studio_id}/resources", list_resources, methods=["GET"]),
    Route("/api/resources/{resource_id}/download", download_resource, methods=["GET"]),
    Route("/api/resources/{resource_id}", delete_resource, methods=["DELETE"]),
]
