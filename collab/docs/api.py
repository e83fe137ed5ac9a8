"""Document routes: create from the lesson-plan template, list, versions (save, list, view, restore),
comments (threads on text ranges, replies, resolve), exports to Markdown and HTML. The live editing
itself is `/ws/docs/{doc_id}?ticket=…`, with a ticket from POST …/ticket. Comment changes are also pushed on `/ws` channel `doc:<id>`."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab import policy
from collab.api.common import current_actor, current_grant, json_body, json_response, path_id
from collab.docs import service, tickets
from collab.docs.rooms import DocRooms
from collab.errors import DomainError
from collab.store.models import User
from collab.studios.access import studio_access


def _docs(request: Request) -> DocRooms:
    return request.app.state.services.get(DocRooms)


async def _comment_event(request: Request, doc_id: int, event: dict) -> None:
    # Every pushed event has an id clients drop second copies by; a change that can happen again to the
    # same record (resolve, reopen, restore, delete) gets a fresh one.
    event.setdefault("id", f"doc-{event['type']}:{secrets.token_hex(8)}")
    await request.app.state.services.hub.publish(f"doc:{doc_id}", event)


async def create_doc(request: Request):
    """
    summary: A new lesson-prep document in a studio, from the lesson-plan template unless template is false (members)
    requestBody: {content: {application/json: {schema: {type: object, required: [title], properties: {title: {type: string}, template: {type: boolean, default: true}}}}}}
    responses: {201: {description: document}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    async with request.app.state.services.sessionmaker() as db:
        doc = await service.create(db, actor, path_id(request, "studio_id"), data)
        return json_response(service.doc_json(doc, actor.name), 201)


async def list_docs(request: Request):
    """
    summary: A studio's documents, most recently edited first (members, observers)
    responses: {200: {description: "{documents: [...]}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    studio_id = path_id(request, "studio_id")
    async with request.app.state.services.sessionmaker() as db:
        access = await studio_access(db, studio_id, actor)
        if access is None:
            raise DomainError("not_found", "no such studio")
        policy.authorize(actor, "doc.read", access)
        rows = await service.listing(db, studio_id)
    return json_response({"documents": [service.doc_json(d, n) for d, n in rows]})


async def get_doc(request: Request):
    """
    summary: A document's facts and what the caller may do with it (me {may_edit, may_delete, may_manage})
    responses: {200: {description: document}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        doc, home = await service.guarded(db, path_id(request, "doc_id"), actor, "read")
        creator = await db.get(User, doc.created_by)
    # may_manage: delete anyone's comments (in a studio the leader and co-leaders); authors delete their own
    return json_response({**service.doc_json(doc, creator.display_name if creator else ""),
                          "me": {"may_edit": home.may(actor, home.edit),
                                 "may_delete": policy.allowed(actor, home.manage, home.managed(doc.created_by)),
                                 "may_manage": service.may_manage_all(actor, home)}})


async def doc_ticket(request: Request):
    """
    summary: "A single-use ticket for the document's socket, /ws/docs/{id}?ticket=…, valid expires_in seconds (signed-in users; the socket checks the role in the document's home)"
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {200: {description: "{ticket, expires_in}"}, 401: {description: unauthenticated}}
    """
    # No look at the document: whether it is there, and what its home lets the caller do, is the
    # socket's to say (4004, 4003) once, for every kind of home, before any document byte goes out.
    actor, grant = await current_grant(request)  # the socket will live as long as this token
    policy.authorize(actor, "self")  # a person's own ticket
    settings = request.app.state.services.settings
    ticket = tickets.issue(settings.secret, actor.user_id, path_id(request, "doc_id"), settings.doc_ticket_ttl,
                           grant=grant)
    return json_response({"ticket": ticket, "expires_in": settings.doc_ticket_ttl}, headers={"Cache-Control": "no-store"})


async def delete_doc(request: Request):
    """
    summary: Delete a document with its versions and comments (its creator; leader and co-leaders)
    responses: {204: {description: deleted}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        await service.delete(_docs(request), db, actor, path_id(request, "doc_id"))
    return Response(status_code=204)


async def export_doc(request: Request):
    """
    summary: The document now, as Markdown (.md) or HTML (.html) (members, observers)
    responses: {200: {description: the export}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    fmt = request.path_params["fmt"]
    if fmt not in ("md", "html"):
        raise DomainError("not_found", "exports are .md and .html")
    async with request.app.state.services.sessionmaker() as db:
        doc, _ = await service.guarded(db, path_id(request, "doc_id"), actor, "read")
        rendered = service.render(await service.current_state(_docs(request), db, doc.id), doc.title)
    media = "text/markdown; charset=utf-8" if fmt == "md" else "text/html; charset=utf-8"
    body = rendered["markdown"] if fmt == "md" else rendered["html"]
    return Response(body, media_type=media, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(doc.title)}.{fmt}",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"})


async def save_version(request: Request):
    """
    summary: Save the document now as a named version (members)
    requestBody: {content: {application/json: {schema: {type: object, required: [name], properties: {name: {type: string}}}}}}
    responses: {201: {description: version}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    async with request.app.state.services.sessionmaker() as db:
        v = await service.save_version(_docs(request), db, actor, path_id(request, "doc_id"), data.get("name"))
    body = service.version_json(v, actor.name)
    # open editors list it at once (the version is stored: this is only news of it)
    await _comment_event(request, v.doc_id, {"type": "version_saved", "id": f"version:{v.id}", "version": body})
    return json_response(body, 201)


async def list_versions(request: Request):
    """
    summary: Saved versions, newest first (members, observers)
    responses: {200: {description: "{versions: [...]}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        doc, _ = await service.guarded(db, path_id(request, "doc_id"), actor, "read")
        rows = await service.versions(db, doc.id)
    return json_response({"versions": [service.version_json(v, n) for v, n in rows]})


async def view_version(request: Request):
    """
    summary: One version's text, Markdown and HTML (members, observers)
    responses: {200: {description: "{version, text, markdown, html}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        doc, _ = await service.guarded(db, path_id(request, "doc_id"), actor, "read")
        v = await service.version(db, doc.id, path_id(request, "version_id"))
    return json_response({"version": service.version_json(v), **service.render(v.state, f"{doc.title} ({v.name})")})


async def restore_version(request: Request):
    """
    summary: "Restore a version: one edit that every open editor receives (members)"
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {200: {description: "{restored}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    doc_id, version_id = path_id(request, "doc_id"), path_id(request, "version_id")
    async with request.app.state.services.sessionmaker() as db:
        await service.restore_version(_docs(request), db, actor, doc_id, version_id)
    await _comment_event(request, doc_id, {"type": "restored", "version_id": version_id,
                                           "by": {"id": actor.user_id, "name": actor.name}})
    return json_response({"restored": version_id})


async def list_comments(request: Request):
    """
    summary: Comment threads with their current ranges (UTF-16, as Yjs counts), replies and state (members, observers)
    responses: {200: {description: "{threads: [...]}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        doc, _ = await service.guarded(db, path_id(request, "doc_id"), actor, "read")
        threads = await service.threads(_docs(request), db, doc.id)
    return json_response({"threads": threads})


async def add_comment(request: Request):
    """
    summary: Comment on the range [start, end) of the text, or reply to a thread (parent_id) (members)
    requestBody: {content: {application/json: {schema: {type: object, required: [body], properties: {body: {type: string}, start: {type: integer}, end: {type: integer}, parent_id: {type: integer}}}}}}
    responses: {201: {description: comment}, 400: {description: invalid}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    doc_id = path_id(request, "doc_id")
    async with request.app.state.services.sessionmaker() as db:
        c = await service.add_comment(_docs(request), db, actor, doc_id, data)
    out = {"id": c.id, "parent_id": c.parent_id, "body": c.body, "quote": c.quote,
           "user": {"id": actor.user_id, "name": actor.name}, "at": c.created_at.isoformat()}
    await _comment_event(request, doc_id, {"type": "comment", "id": f"doc-comment:{c.id}", "comment": out})
    return json_response(out, 201)


async def resolve_comment(request: Request):
    """
    summary: Resolve or reopen a thread (members)
    requestBody: {content: {application/json: {schema: {type: object, properties: {resolved: {type: boolean}}}}}}
    responses: {200: {description: "{id, resolved}"}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    doc_id = path_id(request, "doc_id")
    async with request.app.state.services.sessionmaker() as db:
        c = await service.resolve(db, actor, doc_id, path_id(request, "comment_id"), data.get("resolved", True))
    await _comment_event(request, doc_id, {"type": "comment_resolved", "comment_id": c.id, "resolved": c.resolved})
    return json_response({"id": c.id, "resolved": c.resolved})


async def delete_comment(request: Request):
    """
    summary: Delete a comment (its author; leader and co-leaders); a thread goes with its replies and mark
    responses: {204: {description: deleted}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    doc_id, comment_id = path_id(request, "doc_id"), path_id(request, "comment_id")
    async with request.app.state.services.sessionmaker() as db:
        await service.delete_comment(_docs(request), db, actor, doc_id, comment_id)
    await _comment_event(request, doc_id, {"type": "comment_deleted", "comment_id": comment_id})
    return Response(status_code=204)


routes = [
    Route("/api/studios/{studio_id}/docs", create_doc, methods=["POST"]),
    Route("/api/studios/{studio_id}/docs", list_docs, methods=["GET"]),
    Route("/api/docs/{doc_id}", get_doc, methods=["GET"]),
    Route("/api/docs/{doc_id}", delete_doc, methods=["DELETE"]),
    Route("/api/docs/{doc_id}/ticket", doc_ticket, methods=["POST"]),
    Route("/api/docs/{doc_id}/export.{fmt}", export_doc, methods=["GET"]),
    Route("/api/docs/{doc_id}/versions", save_version, methods=["POST"]),
    Route("/api/docs/{doc_id}/versions", list_versions, methods=["GET"]),
    Route("/api/docs/{doc_id}/versions/{version_id}", view_version, methods=["GET"]),
    Route("/api/docs/{doc_id}/versions/{version_id}/restore", restore_version, methods=["POST"]),
    Route("/api/docs/{doc_id}/comments", list_comments, methods=["GET"]),
    Route("/api/docs/{doc_id}/comments", add_comment, methods=["POST"]),
    Route("/api/docs/{doc_id}/comments/{comment_id}/resolve", resolve_comment, methods=["POST"]),
    Route("/api/docs/{doc_id}/comments/{comment_id}", delete_comment, methods=["DELETE"]),
]
