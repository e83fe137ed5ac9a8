"""`/ws/docs/{doc_id}?token=…`: a lesson-prep document for a stock y-websocket client.

The socket is accepted, the token and the studio role checked, and only then does any document byte
go out; a refusal is a close code with a reason (docs/documents.md lists them):

    4001 no or bad token        4003 not a reader of this studio     4004 no such document
    4002 not the protocol       4009 message too large               4029 too many messages
    4008 too far behind         4012 node shutting down              1011 could not store: reconnect

Observers read. Their edits are refused with y-protocols' "permission denied" auth message, which
y-websocket reports, and the socket stays open, so they keep following the others.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select
from starlette.websockets import WebSocket, WebSocketDisconnect

from collab import policy
from collab.auth.tokens import TokenError
from collab.docs import metrics, sync
from collab.docs.records import LessonDoc
from collab.docs.room import Peer
from collab.realtime.protocol import Close
from collab.studios.access import studio_access

log = logging.getLogger("collab.docs")

OBSERVER_REFUSAL = "observers can read this document but not edit it; your changes were not saved"


async def _refuse(ws: WebSocket, code: int, reason: str) -> None:
    metrics.REFUSED.labels(str(code)).inc()
    await ws.close(code, reason)


async def doc_socket(ws: WebSocket) -> None:
    services = ws.app.state.services
    settings = services.settings
    rooms = services.extensions["docs"]
    await ws.accept()
    try:
        doc_id = int(ws.path_params["doc_id"])
    except ValueError:
        await _refuse(ws, Close.NOT_FOUND, "no such document")
        return
    try:
        actor = await services.tokens.resolve(ws.query_params.get("token", ""))
    except TokenError as exc:
        await _refuse(ws, Close.UNAUTHORIZED, exc.code)
        return
    async with services.sessionmaker() as db:
        studio_id = (await db.execute(select(LessonDoc.studio_id).where(LessonDoc.id == doc_id))).scalar_one_or_none()
        access = None if studio_id is None else await studio_access(db, studio_id, actor)
    if access is None:
        await _refuse(ws, Close.NOT_FOUND, "no such document")
        return
    if not policy.allowed(actor, "doc.read", access):
        await _refuse(ws, Close.FORBIDDEN, "not a member of this studio")
        return
    room = await rooms.open(doc_id)
    if room is None:
        await _refuse(ws, Close.NOT_FOUND, "no such document")
        return

    peer = Peer(ws.send_bytes, actor.user_id, actor.name, policy.allowed(actor, "doc.edit", access),
                settings.doc_outbox_bytes)
    room.join(peer)
    metrics.SOCKETS.inc()
    writer = asyncio.get_running_loop().create_task(peer.run())
    reader = asyncio.get_running_loop().create_task(_read(ws, peer, room, settings))
    try:
        await asyncio.wait([peer.closed, writer, reader], return_when=asyncio.FIRST_COMPLETED)
    finally:
        room.leave(peer)
        metrics.SOCKETS.dec()
        for t in (writer, reader):
            t.cancel()
        if peer.closed.done():
            code, reason = peer.closed.result()
            if code != Close.NORMAL:
                metrics.REFUSED.labels(str(code)).inc()
            try:
                await ws.close(code, reason)
            except Exception:  # already gone
                pass


async def _read(ws: WebSocket, peer: Peer, room, settings) -> None:
    tokens, refilled = float(settings.doc_message_burst), time.monotonic()
    while True:
        try:
            message = await ws.receive()
        except WebSocketDisconnect:
            peer.fail(Close.NORMAL, "")
            return
        if message["type"] == "websocket.disconnect":
            peer.fail(Close.NORMAL, "")
            return
        frame = message.get("bytes")
        if frame is None:
            peer.fail(Close.BAD_PROTOCOL, "text frames are not part of the y-websocket protocol")
            return
        if len(frame) > settings.doc_max_message_bytes:
            peer.fail(Close.FRAME_TOO_LARGE, f"message over {settings.doc_max_message_bytes} bytes")
            return
        now = time.monotonic()
        tokens = min(float(settings.doc_message_burst), tokens + (now - refilled) * settings.doc_message_rate)
        refilled = now
        if tokens < 1.0:
            peer.fail(Close.FLOOD, "too many messages; reconnect after a pause")
            return
        tokens -= 1.0
        try:
            handle(room, peer, sync.parse(frame))
        except sync.ProtocolError as exc:
            peer.fail(Close.BAD_PROTOCOL, str(exc)[:120])
            return


def handle(room, peer: Peer, msg: sync.Message) -> None:
    if msg.kind == "step1":
        room.step1(peer, msg.payload)
    elif msg.kind in ("step2", "update"):
        if msg.payload == sync.EMPTY_UPDATE:
            return
        if not peer.can_edit:
            metrics.REFUSED.labels("observer_edit").inc()
            peer.push(sync.permission_denied(OBSERVER_REFUSAL))
            return
        room.edit(peer, msg.payload)
    elif msg.kind == "awareness":
        room.awareness_from(peer, msg.payload)
    elif msg.kind == "query_awareness":
        if room.awareness:
            peer.push(sync.awareness(sync.encode_awareness(list(room.awareness.values()))))
