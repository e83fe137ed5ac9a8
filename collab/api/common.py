"""What every API route shares: the caller's identity, JSON bodies, and error answers.

A route refuses by raising `collab.errors.DomainError` (the policy's `Denied`, a rule's error, or
`DomainError(code, message)` of its own) and never catches one to rewrap it: `domain_error`, installed
once as the app's exception handler, answers every refusal with its status and
`{"error": {"code", "message"}}` (and `retry_after`, with a `Retry-After` header, for one that passes
with time; `line` for an uploaded list refused at a line).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from collab import audit, keys, policy
from collab.auth.actor import Actor
from collab.auth.tokens import Grant
from collab.errors import DomainError


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


async def domain_error(request: Request, exc: DomainError) -> Response:
    """The API's answer to every refusal (Starlette's exception handler for DomainError). An error that
    names the input at fault (the agenda's `field`) says it first, `field: message`, which the
    schedule form reads to point at the field."""
    field = getattr(exc, "field", None)
    error = {"code": exc.code, "message": exc.message if field is None else f"{field}: {exc.message}"}
    line = getattr(exc, "line", None)  # an uploaded list's line at fault (sessions.groups.roster)
    if line is not None:
        error["line"] = line
    retry_after = getattr(exc, "retry_after", None)  # a refusal that passes with time (429) says when
    if retry_after is None:
        return json_response({"error": error}, exc.status)
    error["retry_after"] = retry_after
    return json_response({"error": error}, exc.status, {"Retry-After": str(retry_after)})


def _authorization(request: Request) -> str:
    """The `Authorization: Bearer …` token ("" without one): the only place a service key is read from."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def bearer_token(request: Request) -> str:
    return _authorization(request) or request.cookies.get("collab_token", "")


async def current_actor(request: Request) -> Actor | None:
    """The bearer token's actor, None without one; a token that fails is an error (TokenError, 401),
    not anonymity. A service key (`Authorization: Bearer collab_sk_…`, never a cookie) is a service
    actor; the call is then put in the audit log (collab.api.key_calls). Where the request came from
    is noted for the audit log of whatever the route does (collab.audit.ORIGIN)."""
    audit.ORIGIN.set(audit.Origin(request.client.host if request.client else "",
                                  request.headers.get("user-agent", "")))
    bearer = _authorization(request)
    if bearer and keys.is_key(bearer):
        return await _key_actor(request, bearer)
    token = bearer or request.cookies.get("collab_token", "")
    if not token:
        return None
    return await request.app.state.services.tokens.resolve(token)


async def current_grant(request: Request) -> tuple[Actor, Grant]:
    """The bearer token's actor and grant (its sign-in session, its expiry); 401 without one. A service
    key has no sign-in session: it is refused."""
    token = bearer_token(request)
    if not token:
        raise DomainError("unauthenticated", "sign in first")
    if keys.is_key(token):  # refused as every route beyond a key's scopes is (key_scope)
        policy.authorize(await current_actor(request), "self")
    return await request.app.state.services.tokens.resolve_grant(token)


async def _key_actor(request: Request, secret: str) -> Actor:
    try:
        actor = await request.app.state.services.get(keys.KeyResolver).resolve(secret)
    except keys.KeyRefused as exc:
        if exc.key_id is not None:  # a revoked or expired key still in use: the log should say so
            request.scope[KEY_CALL] = exc.key_id, ""
        raise
    request.scope[KEY_CALL] = actor.key_id, actor.name
    return actor


KEY_CALL = "collab.key_call"  # scope entry: (key id, key name) of a call made with a service key


def path_id(request: Request, key: str) -> int:
    """An id from the path; anything else is a 404, never a 500."""
    try:
        return int(request.path_params[key])
    except ValueError:
        raise DomainError("not_found", f"no such {key.removesuffix('_id')}") from None


async def authorized(request: Request, action: str, resource: Any = None) -> Actor | None:
    actor = await current_actor(request)
    policy.authorize(actor, action, resource)
    return actor


async def json_body(request: Request, max_bytes: int = 64 * 1024) -> dict[str, Any]:
    body = await request.body()
    if len(body) > max_bytes:
        raise DomainError("too_large", f"body over {max_bytes} bytes")
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise DomainError("bad_json", "body is not JSON") from None
    if not isinstance(data, dict):
        raise DomainError("bad_json", "body must be a JSON object")
    return data


def reader_lang(request: Request) -> str:
    """"en" or "zh" (the default): `?lang=`, else the first of them in Accept-Language by its weight."""
    asked = request.query_params.get("lang")
    if asked is not None:
        if _primary(asked) not in ("zh", "en"):
            raise DomainError("invalid", "lang must be zh or en")
        return _primary(asked)
    weighted = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        weighted.append((-q, i, _primary(tag)))
    return next((tag for q, _, tag in sorted(weighted) if q < 0 and tag in ("zh", "en")), "zh")


def _primary(tag: str) -> str:
    """A language tag's primary subtag: zh-Hans-CN is zh."""
    return tag.strip().split("-")[0].lower()
