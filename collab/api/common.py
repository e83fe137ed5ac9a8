"""What every API route shares: the caller's identity, JSON bodies, and error answers.

A route refuses by raising `collab.errors.DomainError` (the policy's `Denied`, a rule's error, or
`DomainError(code, message)` of its own) and never catches one to rewrap it: `domain_error`, installed
once as the app's exception handler, answers every refusal with its status and
`{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from collab import policy
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
    return error_response(exc.status, exc.code, exc.message if field is None else f"{field}: {exc.message}")


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get("collab_token", "")


async def current_actor(request: Request) -> Actor | None:
    """The bearer token's actor, None without one; a token that fails (expired, revoked) is an error
    (TokenError, 401), not anonymity."""
    token = bearer_token(request)
    if not token:
        return None
    return await request.app.state.services.tokens.resolve(token)


async def current_grant(request: Request) -> tuple[Actor, Grant]:
    """The bearer token's actor and grant (its sign-in session, its expiry); 401 without one."""
    token = bearer_token(request)
    if not token:
        raise DomainError("unauthenticated", "sign in first")
    return await request.app.state.services.tokens.resolve_grant(token)


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
