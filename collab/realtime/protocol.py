"""The `/ws` wire protocol: parsing client frames, and the stable error and close codes.

A client frame is one JSON object, or several separated by newlines (a batch). Each is a command:

    {"id": 7, "cmd": "subscribe", "args": {"channel": "announce:all"}}

The server answers every command with the same id, `{"id": 7, "ok": {...}}` or
`{"id": 7, "error": {"code": "...", "message": "..."}}`, and pushes events as
`{"ch": "...", "o": 12, "e": {...}}` (`push_line`) and control lines without offset, such as
`{"ch": "...", "resync": {...}}` (`control_line`). Server frames may also carry several lines.
docs/protocol.md is the reference and docs/pushes.schema.json the shape of every push; this module is
the parser and the code tables, with no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

MAX_COMMANDS_PER_FRAME = 32
MAX_ID = 2**53 - 1  # ids must survive a JavaScript number
CHANNEL_MAX = 128
CHANNEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-.@")


class Error:
    """Error codes carried in `{"error": {"code": ...}}` replies. Stable: clients switch on them."""

    BAD_FRAME = "bad_frame"  # not UTF-8 JSON objects
    BAD_COMMAND = "bad_command"  # an object without a valid id / cmd / args
    UNKNOWN_COMMAND = "unknown_command"
    INVALID = "invalid"  # arguments the command does not accept
    NOT_CONNECTED = "not_connected"  # a command before `connect`
    ALREADY_CONNECTED = "already_connected"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    BAD_CHANNEL = "bad_channel"
    ALREADY_SUBSCRIBED = "already_subscribed"
    NOT_SUBSCRIBED = "not_subscribed"
    TOO_MANY_CHANNELS = "too_many_channels"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_COMMANDS = "too_many_commands"  # more than MAX_COMMANDS_PER_FRAME in one frame
    BUS_UNAVAILABLE = "bus_unavailable"
    BUSY = "busy"  # the node is overloaded (no database connection in time); retry after a moment
    INTERNAL = "internal"
    TOKEN_MISMATCH = "token_mismatch"  # `refresh` with a token for another user (or role)
    # Token errors come from collab.auth.tokens: token_missing, token_expired, token_signature,
    # token_audience, token_issuer, token_invalid; token_revoked from collab.auth.accounts.


class Close:
    """WebSocket close codes the server uses, and what a client should do after each."""

    NORMAL = 1000
    INTERNAL = 1011  # reconnect with backoff
    UNAUTHORIZED = 4001  # connect failed or timed out: get a fresh token, then reconnect
    BAD_PROTOCOL = 4002  # binary frames or a frame that is not the protocol: fix the client
    FORBIDDEN = 4003  # /ws/docs: not a reader of the document's studio: do not retry
    NOT_FOUND = 4004  # /ws/docs: no such document (or it was deleted): do not retry
    TOKEN_EXPIRED = 4005  # the token expired (no `refresh` came in time): get a new token, reconnect, recover
    TOKEN_REVOKED = 4006  # signed out, or the user's sessions were ended: sign in again
    SLOW_CONSUMER = 4008  # fell too far behind: reconnect now and recover from the last offset
    FRAME_TOO_LARGE = 4009  # a frame over the limit: do not resend it
    SHUTDOWN = 4012  # this node is going away: reconnect (to another node) and recover
    FLOOD = 4029  # kept sending after rate limiting: reconnect after a backoff

    REASONS = {
        UNAUTHORIZED: "unauthorized",
        TOKEN_EXPIRED: "token expired",
        TOKEN_REVOKED: "token revoked",
        BAD_PROTOCOL: "bad protocol",
        SLOW_CONSUMER: "slow consumer",
        FRAME_TOO_LARGE: "frame too large",
        SHUTDOWN: "reconnect elsewhere",
        FLOOD: "flood",
        INTERNAL: "internal error",
    }


@dataclass(slots=True)
class Command:
    id: int | None
    cmd: str
    args: dict[str, Any]


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, command_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.command_id = command_id


def parse_frame(text: str) -> list[Command | ProtocolError]:
    """Split a frame into commands. Each line is judged alone: one bad line does not sink the batch."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return [ProtocolError(Error.BAD_FRAME, "empty frame")]
    if len(lines) > MAX_COMMANDS_PER_FRAME:
        return [ProtocolError(Error.TOO_MANY_COMMANDS, f"at most {MAX_COMMANDS_PER_FRAME} commands per frame")]
    return [parse_command(line) for line in lines]


def parse_command(line: str) -> Command | ProtocolError:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return ProtocolError(Error.BAD_FRAME, "not JSON")
    if not isinstance(obj, dict):
        return ProtocolError(Error.BAD_FRAME, "a command is a JSON object")
    cid = obj.get("id")
    if cid is not None and (type(cid) is not int or not 0 < cid <= MAX_ID):
        return ProtocolError(Error.BAD_COMMAND, "id must be a positive integer")
    cmd = obj.get("cmd")
    if not isinstance(cmd, str) or not cmd or len(cmd) > 64:
        return ProtocolError(Error.BAD_COMMAND, "cmd must be a short string", cid)
    args = obj.get("args", {})
    if not isinstance(args, dict):
        return ProtocolError(Error.BAD_COMMAND, "args must be an object", cid)
    return Command(cid, cmd, args)


def valid_channel(name: Any) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= CHANNEL_MAX
        and ":" in name
        and not name.startswith(":")
        and all(c in CHANNEL_CHARS for c in name)
    )


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def reply_ok(cid: int | None, result: Any) -> bytes:
    return orjson.dumps({"id": cid, "ok": result if result is not None else {}})


def reply_error(cid: int | None, code: str, message: str) -> bytes:
    return orjson.dumps({"id": cid, "error": {"code": code, "message": message}})


def push_line(channel_json: bytes, offset: int | None, data: bytes) -> bytes:
    """One push, built by concatenation so the event bytes are never parsed or re-encoded."""
    o = b"null" if offset is None else str(offset).encode()
    return b'{"ch":' + channel_json + b',"o":' + o + b',"e":' + data + b"}"


def control_line(channel: str, kind: str, body: dict[str, Any]) -> bytes:
    return orjson.dumps({"ch": channel, kind: body})
