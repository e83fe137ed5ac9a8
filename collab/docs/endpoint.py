"""`/ws/docs/{doc_id}?ticket=…`: a lesson-prep document for a stock y-websocket client.

The ticket comes from `POST /api/docs/{doc_id}/ticket` (collab/docs/tickets.py): short-lived, single
use, so no long-lived token is ever in a URL. The socket is accepted, the ticket and the caller's place
in the document's home checked (collab/docs/homes.py: a studio's role, or another part's rule), and only
then does any document byte go out; a refusal is a close code with a reason (docs/documents.md lists them):

    4001 no ticket, or a bad token    4011 ticket refused: get a new one    4003 may not read it (its home says)
    4004 no such document             4002 not the protocol                 4009 message too large
    4029 too many messages            4008 too far behind                   4012 node shutting down
    1011 could not store: reconnect   4005 the sign-in token expired        4006 the sign-in was ended

The socket lives as long as the sign-in token the ticket was issued for (the ticket carries its
session and expiry): at its expiry it closes with 4005 (y-websocket has no way to refresh: the page
renews its token and reconnects with a new ticket), and when the session is revoked on any node, with
4006 (collab/realtime/lifetimes.py).

`?token=<sign-in token>` is still accepted, deprecated and counted (collab_doc_url_tokens_total): a page
loaded before tickets existed reconnects that way during a rolling release, and the document
benchmark's clients connect that way.

Observers read. Their edits are refused with y-protocols' "permission denied" auth message, which
y-websocket reports, and the socket stays open, so they keep following the others.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from collab.auth.accounts import actor_of
from collab.auth.actor import Actor
from collab.auth.tokens import Grant, TokenError
from collab.docs import homes, metrics, sync, tickets
from collab.docs.room import Peer
from collab.docs.rooms import DocRooms
from collab.realtime.bus import BusUnavailable
from collab.realtime.protocol import Close
from collab.store.models import User

log = logging.getLogger("collab.docs")

OBSERVER_REFUSAL = "observers can read this document but not edit it; your changes were not saved"
TICKET_REFUSED = 4011  # expired, used, forged or for another document: fetch a new ticket, reconnect


class Refusal(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def _refuse(ws: WebSocket, code: int, reason: str) -> None:
    metrics.REFUSED.labels(str(code)).inc()
    await ws.close(code, reason)


async def doc_socket(ws: WebSocket) -> None:
    services = ws.app.state.services
    settings = services.settings
    rooms = services.get(DocRooms)
    await ws.accept()
    try:
        doc_id = int(ws.path_params["doc_id"])
    except ValueError:
        await _refuse(ws, Close.NOT_FOUND, "no such document")
        return
    try:
        ticket = await _ticket(ws, services, doc_id)
        actor, grant = (None, ticket.grant) if ticket is not None else await _legacy_token(ws, services)
        if services.tokens.revocations.void(ticket.user_id if ticket else actor.user_id, grant):
            raise Refusal(Close.TOKEN_REVOKED, "token_revoked")  # revoked since the ticket was issued
        async with services.sessionmaker() as db:
            if ticket is not None:
                user = await db.get(User, ticket.user_id)
                if user is None:
                    raise Refusal(TICKET_REFUSED, "ticket_invalid")
                actor = actor_of(user)
            found = await homes.find(db, doc_id, actor)
    except Refusal as exc:
        await _refuse(ws, exc.code, exc.reason)
        return
    if found is None:  # no such document, or its home is gone (or of a kind this node does not know)
        await _refuse(ws, Close.NOT_FOUND, "no such document")
        return
    _, home = found
    if not home.may(actor, home.read):
        await _refuse(ws, Close.FORBIDDEN, home.outsider)
        return
    room = await rooms.open(doc_id)
    if room is None:
        await _refuse(ws, Close.NOT_FOUND, "no such document")
        return

    peer = Peer(ws.send_bytes, actor.user_id, actor.name, home.may(actor, home.edit),
                settings.doc_outbox_bytes)
    room.join(peer)
    holder = DocHolder(peer, actor.user_id)
    services.sign_ins.lifetimes.hold(holder, grant)
    metrics.SOCKETS.inc()
    writer = asyncio.get_running_loop().create_task(peer.run())
    reader = asyncio.get_running_loop().create_task(_read(ws, peer, room, settings))
    try:
        await asyncio.wait([peer.closed, writer, reader], return_when=asyncio.FIRST_COMPLETED)
    finally:
        room.leave(peer)
        services.sign_ins.lifetimes.release(holder)
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


async def _ticket(ws: WebSocket, services, doc_id: int) -> tickets.Ticket | None:
    """The socket's ticket, checked and used up (None when it came with a token instead)."""
    raw = ws.query_params.get("ticket")
    if raw is None:
        return None
    try:
        ticket = tickets.check(services.settings.secret, raw, doc_id)
    except tickets.TicketRefused as exc:
        raise Refusal(TICKET_REFUSED, exc.code) from None
    try:
        # kept a little past the ticket's expiry, so no clock drift between nodes reopens it
        first = await services.hub.bus.claim_once(tickets.nonce_key(ticket), ticket.expires - time.time() + 5)
    except BusUnavailable:
        raise Refusal(Close.INTERNAL, "could not check the ticket; reconnect") from None
    if not first:
        raise Refusal(TICKET_REFUSED, "ticket_used")
    return ticket


async def _legacy_token(ws: WebSocket, services) -> tuple[Actor, Grant]:
    """`?token=`: the sign-in token in the URL, as before tickets (deprecated)."""
    raw = ws.query_params.get("token")
    if raw is None:
        raise Refusal(Close.UNAUTHORIZED, "ticket_missing")
    metrics.URL_TOKENS.inc()
    try:
        return await services.tokens.resolve_grant(raw)
    except TokenError as exc:
        raise Refusal(Close.UNAUTHORIZED, exc.code) from None


class DocHolder:
    """A document socket as `Lifetimes` holds it: when its token expires or is revoked, the peer
    fails with the close code, and the endpoint closes the socket."""

    __slots__ = ("peer", "user_id", "grant", "timer")

    def __init__(self, peer: Peer, user_id: int) -> None:
        self.peer, self.user_id, self.grant, self.timer = peer, user_id, None, None

    def end(self, code: int, reason: str) -> None:
        self.peer.fail(code, "token_expired" if code == Close.TOKEN_EXPIRED else "token_revoked")


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
