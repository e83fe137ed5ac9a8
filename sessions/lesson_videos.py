"""Lesson videos an activity's organizer, hosts or presenters upload for the stage to play: MP4 with
H.264, or WebM with VP8, checked on the content (the library's sniffing) and on the codec inside."""

from __future__ import annotations

from pathlib import Path

import av
from sqlalchemy import select
from starlette.requests import Request
from starlette.routing import Route

from collab import policy
from collab.api.common import current_actor, json_response, path_id
from collab.errors import DomainError
from collab.studios import library
from sessions import scheduling
from sessions.records import LessonVideo

KINDS = {"video/mp4": "h264", "video/webm": "vp8", "video/x-matroska": "vp8"}


def root(settings) -> Path:
    return Path(settings.recordings_dir) / "lesson-videos"


def video_json(v: LessonVideo) -> dict:
    return {"id": v.id, "title": v.title, "filename": v.filename, "media_type": v.media_type, "size": v.size,
            "created_at": v.created_at.isoformat()}


async def _guard(request: Request, db, actor):
    activity = await scheduling.get(db, path_id(request, "activity_id"))
    if activity is None:
        raise DomainError("not_found", "no such activity")
    policy.authorize(actor, "activity.media", await scheduling.access(db, activity, actor))
    return activity


async def upload(request: Request):
    """
    summary: "Upload a lesson video for the stage: MP4 (H.264) or WebM (VP8) (organizer, hosts, presenters)"
    requestBody: {required: true, content: {multipart/form-data: {schema: {type: object, required: [file], properties: {file: {type: string, format: binary}, title: {type: string, maxLength: 200, description: "default: the file's name"}}}}}}
    responses: {201: {description: video}, 413: {description: too_large}, 415: {description: "unsupported_type, type_mismatch, wrong_codec"}}
    """
    actor = await current_actor(request)
    services = request.app.state.services
    settings = services.settings
    async with services.sessionmaker() as db:
        activity = await _guard(request, db, actor)
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > settings.max_upload_bytes + 64 * 1024:
        raise DomainError("too_large", f"videos are at most {settings.max_upload_bytes} bytes")
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise DomainError("invalid", "the form needs a file")
        filename = library.clean_filename(upload.filename or "")
        stored = await library.store_upload(upload, filename, root(settings), settings.max_upload_bytes)
        codec = KINDS.get(stored.media_type)
        path = library.path_of(root(settings), stored.sha256)
        try:
            with av.open(str(path)) as c:
                found = next((s.codec_context.name for s in c.streams.video), None)
        except (av.FFmpegError, OSError):
            found = None
        if codec is None or found != codec:
            raise DomainError("wrong_codec", "lesson videos are MP4 with H.264 or WebM with VP8", status=415)
        title = str(form.get("title") or filename).strip()[:200]
    finally:
        await form.close()
    async with services.sessionmaker() as db:
        v = LessonVideo(activity_id=activity.id, title=title, filename=filename, media_type=stored.media_type,
                        size=stored.size, sha256=stored.sha256, uploaded_by=actor.user_id)
        db.add(v)
        await db.commit()
    return json_response(video_json(v), 201)


async def listing(request: Request):
    """
    summary: The lesson videos uploaded to an activity (organizer, hosts, presenters)
    responses: {200: {description: "{videos: [...]}"}}
    """
    actor = await current_actor(request)
    async with request.app.state.services.sessionmaker() as db:
        activity = await _guard(request, db, actor)
        rows = (await db.execute(select(LessonVideo).where(LessonVideo.activity_id == activity.id)
                                 .order_by(LessonVideo.id))).scalars().all()
    return json_response({"videos": [video_json(v) for v in rows]})


routes = [
    Route("/api/activities/{activity_id}/lesson-videos", upload, methods=["POST"]),
    Route("/api/activities/{activity_id}/lesson-videos", listing, methods=["GET"]),
]
