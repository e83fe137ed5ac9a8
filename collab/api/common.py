"""What every API route shares: the caller's identity, JSON bodies, and error answers.

A route refuses by raising `collab.errors.DomainError` (the policy's `Denied`, a rule's error, or
`DomainError(code, message)` of its own) and never catches one to rewrap it: `domain_error`, installed
once as the app's exception handler, answers every refusal with its status and
`{"error": {"code", "message"}}` (and `retry_after`, with a `Retry-After` header, for one that passes
with time).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from collab import policy
from collab.auth.actor import Actor
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
    retry_after = getattr(exc, "retry_after", None)  # a refusal that passes with time (429) says when
    if retry_after is None:
        return json_response({"error": error}, exc.status)
    error["retry_after"] = retry_after
    return json_response({"error": error}, exc.status, {"Retry-After": str(retry_after)})


async def current_actor(request: Request) -> Actor | None:
    """The bearer token's actor, None without one; a token that fails is an error (TokenError, 401),
    not anonymity."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get("collab_token", "")
    if not token:
        return None
    return await request.app.state.services.tokens.resolve(token)


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
