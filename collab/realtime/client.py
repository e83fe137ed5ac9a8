"""One `/ws` connection: authenticate, enforce limits, run commands in order, receive pushes.

Replies and pushes share one path to the socket (`Client.push`), so a subscribe reply always precedes
the pushes it promises and nothing overtakes anything. When the transport is backed up, payloads go to
the outbox and leave as one coalesced frame when it drains; a socket that stays behind past the grace
period, or whose outbox passes the hard limit, is closed with 4008 and recovers on reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from collab import policy
from collab.auth.actor import Actor
from collab.auth.signins import terms
from collab.errors import DomainError
from collab.realtime import metrics
from collab.realtime.bus import BusUnavailable, Publication
from collab.realtime.dispatch import CommandError, Context, Registry
from collab.realtime.hub import LOCAL_OFFSET, RecoveryError
from collab.realtime.protocol import (
    Close,
    Command,
    Error,
    ProtocolError,
    parse_frame,
    push_line,
    reply_error,
    reply_ok,
    valid_channel,
)
from collab.realtime.wire import EXTENSION, Wire, text_frame

if TYPE_CHECKING:
    from collab.services import Services

log = logging.getLogger("collab.ws")


class Client:
    __slots__ = (
        "id", "wire", "services", "actor", "user_id", "channels", "outbox", "outbox_bytes",
        "backlog_since", "tokens", "refilled", "strikes", "closed", "on_close", "grant", "timer",
    )

    def __init__(self, wire: Wire, services: Services) -> None:
        self.id = secrets.token_hex(8)
        self.wire = wire
        self.services = services
        self.actor: Actor | None = None
        self.user_id = 0
        self.channels: dict[str, None] = {}
        self.outbox: list[bytes] = []
        self.outbox_bytes = 0
        self.backlog_since: float | None = None
        self.tokens = float(services.settings.command_burst)
        self.refilled = time.monotonic()
        self.strikes = 0
        self.closed = False
        self.on_close: list | None = None  # callbacks when the socket ends (a stage peer to close)
        self.grant = None  # the token's session and expiry, once connected (collab/realtime/lifetimes.py)
        self.timer = None  # ends the socket when the token expires

    def when_closed(self, callback) -> None:
        """Call `callback` when the socket ends (a stage peer to close, a front-row seat to free)."""
        if self.on_close is None:
            self.on_close = []
        self.on_close.append(callback)

    # -- the way out -------------------------------------------------------------------------------

    def push(self, frame: bytes, payload: bytes) -> None:
        """The hot path: one transport write of a frame built once for the whole node."""
        if self.outbox or self.wire.paused:
            self._enqueue(payload)
        elif not self.wire.write(frame):
            self.closed = True

    def send(self, payload: bytes) -> None:
        self.push(text_frame(payload), payload)

    def _enqueue(self, payload: bytes) -> None:
        if self.closed:
            return
        self.outbox.append(payload)
        self.outbox_bytes += len(payload)
        if self.backlog_since is None:
            self.backlog_since = time.monotonic()
            self.services.hub.backlogged.add(self)
        if self.outbox_bytes > self.services.settings.outbox_hard_bytes:
            self.close_slow()

    def drain(self) -> None:
        """The transport caught up: everything queued leaves as one frame."""
        if not self.outbox or self.closed:
            return
        payload = b"\n".join(self.outbox)
        self.outbox, self.outbox_bytes, self.backlog_since = [], 0, None
        self.services.hub.backlogged.discard(self)
        self.wire.write(text_frame(payload))

    def check_backlog(self, now: float) -> None:
        if self.backlog_since is not None and now - self.backlog_since > self.services.settings.slow_consumer_grace:
            self.close_slow()

    def close_slow(self) -> None:
        metrics.SLOW_CONSUMER_CLOSES.inc()
        log.info("slow consumer closed", extra={"client": self.id, "queued": self.outbox_bytes})
        self.close(Close.SLOW_CONSUMER)

    def close(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        self.outbox, self.outbox_bytes = [], 0
        self.services.hub.backlogged.discard(self)
        metrics.CLOSES.labels(Close.REASONS.get(code, str(code))).inc()
        self.wire.close(code, Close.REASONS.get(code, ""))

    def end(self, code: int, reason: str) -> None:
        """The token expired or was revoked (Lifetimes): say why on a line, then close."""
        code_name = "token_expired" if code == Close.TOKEN_EXPIRED else "token_revoked"
        self.send(reply_error(None, code_name, reason))
        self.close(code)

    # -- limits ------------------------------------------------------------------------------------

    def take_token(self) -> bool:
        s = self.services.settings
        now = time.monotonic()
        self.tokens = min(float(s.command_burst), self.tokens + (now - self.refilled) * s.command_rate)
        self.refilled = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.strikes = 0
            return True
        self.strikes += 1
        return False


# -- built-in commands ------------------------------------------------------------------------------


async def _connect(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    client, services = ctx.client, ctx.services
    if client.actor is not None:
        raise CommandError(Error.ALREADY_CONNECTED, "this connection is already authenticated")
    token = args.get("token")
    actor, grant = await services.tokens.resolve_grant(token)  # a refused token answers with its own code
    client.actor = actor
    client.user_id = actor.user_id
    services.sign_ins.lifetimes.hold(client, grant)  # a timer at its expiry: no check per push
    s = services.settings
    return {
        "client": client.id,
        "node": s.node_id,
        "user": {"id": actor.user_id, "role": actor.role, "name": actor.name},
        **terms(grant),  # expires_in, refresh_in: when to send `refresh` with a new token
        "limits": {
            "max_frame_bytes": s.max_frame_bytes,
            "max_channels": s.max_channels,
            "command_rate": s.command_rate,
            "command_burst": s.command_burst,
        },
    }


def _channel_arg(args: dict[str, Any]) -> str:
    channel = args.get("channel")
    if not valid_channel(channel):
        raise CommandError(Error.BAD_CHANNEL, "channel must be 'namespace:name' (letters, digits, ':_-.@', <=128)")
    return channel


async def _subscribe(ctx: Context, args: dict[str, Any]) -> None:
    client = ctx.client
    channel = _channel_arg(args)
    policy.authorize(ctx.actor, "channel.subscribe", await ctx.services.registry.channel_resource(ctx, channel))
    if channel in client.channels:
        raise CommandError(Error.ALREADY_SUBSCRIBED, f"already subscribed to {channel}")
    if len(client.channels) >= ctx.services.settings.max_channels:
        raise CommandError(Error.TOO_MANY_CHANNELS, f"at most {ctx.services.settings.max_channels} channels")
    since = None
    if "since" in args:
        raw = args["since"]
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("epoch"), str)
            or type(raw.get("offset")) is not int
            or raw["offset"] < 0
        ):
            raise CommandError(Error.INVALID, "since must be {epoch: string, offset: integer >= 0}")
        since = (raw["epoch"], raw["offset"])
    client.channels[channel] = None
    cid = ctx.command_id

    def go_live(result: dict[str, Any], pubs: list[Publication]) -> None:
        name_json = ctx.services.hub.channels[channel].name_json
        lines = [reply_ok(cid, result)]
        lines.extend(push_line(name_json, None if p.offset == LOCAL_OFFSET else p.offset, p.data) for p in pubs)
        client.send(b"\n".join(lines))

    try:
        await ctx.services.hub.subscribe(client, channel, since, go_live)
    except BusUnavailable:
        client.channels.pop(channel, None)
        raise CommandError(Error.BUS_UNAVAILABLE, "the bus is unreachable; try again shortly") from None
    except RecoveryError:
        client.channels.pop(channel, None)
        raise CommandError(Error.NOT_SUBSCRIBED, "unsubscribed while joining") from None
    raise _AlreadyReplied


async def _unsubscribe(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel_arg(args)
    if channel not in ctx.client.channels:
        raise CommandError(Error.NOT_SUBSCRIBED, f"not subscribed to {channel}")
    del ctx.client.channels[channel]
    ctx.services.hub.unsubscribe(ctx.client, channel)
    return {"channel": channel}


async def _presence(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel_arg(args)
    # Asked about the channel as subscribe asks (an activity's record, a studio's membership), not its name.
    policy.authorize(ctx.actor, "node.presence", await ctx.services.registry.channel_resource(ctx, channel))
    try:
        counts = await ctx.services.hub.presence(channel)
    except BusUnavailable:
        raise CommandError(Error.BUS_UNAVAILABLE, "the bus is unreachable; try again shortly") from None
    local_clients, local_users = ctx.services.hub.local_presence(channel)
    return {"channel": channel, "clients": counts.clients, "users": counts.users, "node_clients": local_clients}


async def _refresh(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """A new token for this connection (Centrifugo's model): the socket lives until it expires, with
    its subscriptions as they are. Refused, the old token still holds until it expires."""
    client, services = ctx.client, ctx.services
    actor, grant = await services.tokens.resolve_grant(args.get("token"))
    if actor.user_id != client.actor.user_id or actor.role != client.actor.role:
        # the subscriptions were allowed to this user in this role: another one reconnects instead
        raise CommandError(Error.TOKEN_MISMATCH, "the token is for another user or role; connect with it instead")
    client.actor = actor
    services.sign_ins.lifetimes.renew(client, grant)
    return terms(grant)


async def _ping(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {"t": int(time.time() * 1000)}


def register_builtins(registry: Registry) -> None:
    registry.add("connect", _connect)
    registry.add("subscribe", _subscribe)
    registry.add("unsubscribe", _unsubscribe)
    registry.add("presence", _presence)
    registry.add("ping", _ping)
    registry.add("refresh", _refresh)


class _AlreadyReplied(Exception):
    """A handler that wrote its own reply (subscribe: the reply must lead the recovered pushes)."""


# -- the endpoint -----------------------------------------------------------------------------------


async def run_command(client: Client, services: Services, command: Command) -> None:
    name = command.cmd
    if client.actor is None and name not in ("connect", "ping"):
        client.send(reply_error(command.id, Error.NOT_CONNECTED, "send connect with a token first"))
        metrics.COMMAND_ERRORS.labels(Error.NOT_CONNECTED).inc()
        return
    ctx = Context(client=client, actor=client.actor, services=services, command_id=command.id)
    try:
        handler = services.registry.get(name)
        metrics.COMMANDS.labels(name).inc()  # registered names only: bounded label set
        result = await handler(ctx, command.args)
        client.send(reply_ok(command.id, result))
    except _AlreadyReplied:
        pass
    except DomainError as exc:  # every refusal: a rule's, the policy's, a command's own
        metrics.COMMAND_ERRORS.labels(exc.code).inc()
        client.send(reply_error(command.id, exc.code, exc.message))
    except SQLAlchemyTimeout:  # every database connection of this node is taken: overload, not a fault
        metrics.COMMAND_ERRORS.labels(Error.BUSY).inc()
        client.send(reply_error(command.id, Error.BUSY, "the server is busy; try again in a moment"))
    except Exception:
        log.exception("command failed", extra={"cmd": name, "client": client.id})
        metrics.COMMAND_ERRORS.labels(Error.INTERNAL).inc()
        client.send(reply_error(command.id, Error.INTERNAL, "internal error; the command was not applied"))


async def websocket_endpoint(services: Services, scope, receive, send) -> None:
    """The ASGI app of `/ws`. Plain ASGI rather than Starlette's WebSocket: every idle socket keeps
    this call stack alive, so each object and frame it does not hold is memory saved 10,000 times."""
    wire: Wire | None = scope.get("extensions", {}).get(EXTENSION)
    if (await receive())["type"] != "websocket.connect":
        return
    if wire is None:
        # Served by something other than collab's uvicorn protocol: refuse rather than run slowly.
        await send({"type": "websocket.close", "code": Close.INTERNAL})
        return
    await send({"type": "websocket.accept"})
    scope["headers"] = ()  # read nothing from them; ~1 KB per socket
    settings = services.settings
    wire.set_limits(settings.outbox_soft_bytes)
    client = Client(wire, services)
    wire.on_drain = client.drain
    services.hub.add_client(client)
    try:
        await _serve(receive, client, services)
    finally:
        services.hub.remove_client(client)
        if client.grant is not None:
            services.sign_ins.lifetimes.release(client)
        client.closed = True
        for callback in client.on_close or ():
            try:
                callback()
            except Exception:
                log.exception("a socket's close callback failed")


async def _serve(receive, client: Client, services: Services) -> None:
    settings = services.settings
    deadline = time.monotonic() + settings.auth_timeout
    while True:
        if client.actor is not None:
            message = await receive()
        else:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except asyncio.TimeoutError:
                client.send(reply_error(None, Error.UNAUTHENTICATED, "no connect within the time allowed"))
                client.close(Close.UNAUTHORIZED)
                return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            client.send(reply_error(None, Error.BAD_FRAME, "binary frames are not part of this protocol"))
            client.close(Close.BAD_PROTOCOL)
            return
        if len(text) > settings.max_frame_bytes and len(text.encode()) > settings.max_frame_bytes:
            client.send(reply_error(None, "too_large", f"frame over {settings.max_frame_bytes} bytes"))
            client.close(Close.FRAME_TOO_LARGE)
            return
        items = parse_frame(text)
        message = text = None  # an idle socket should not keep its last frame (and token) alive
        for item in items:
            if client.closed:
                return
            if isinstance(item, ProtocolError):
                metrics.COMMAND_ERRORS.labels(item.code).inc()
                client.send(reply_error(item.command_id, item.code, item.message))
                continue
            if not client.take_token():
                metrics.COMMAND_ERRORS.labels(Error.RATE_LIMITED).inc()
                client.send(reply_error(item.id, Error.RATE_LIMITED, "too many commands; slow down"))
                if client.strikes >= settings.flood_strikes:
                    client.close(Close.FLOOD)
                    return
                continue
            was_connected = client.actor is not None
            await run_command(client, services, item)
            if item.cmd == "connect" and not was_connected and client.actor is None:
                client.close(Close.UNAUTHORIZED)  # a failed connect ends the connection
                return
        items = item = None
