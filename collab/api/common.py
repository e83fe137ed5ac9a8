"""What every API route shares: the caller's identity, JSON bodies, and error answers.

A route refuses by raising `collab.errors.DomainError` (the policy's `Denied`, a rule's error, or
`DomainError(code, message)` of its own); `domain_error`, installed once as the app's exception
handler, answers every refusal with its status and `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from collab import policy
from collab.auth.actor import Actor
from collab.auth.tokens import TokenError
from collab.errors import DomainError


class ApiError(DomainError):
    """A route's own refusal, in the old argument order (status first); being replaced by
    `DomainError(code, message)`, which takes its status from the code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message, status=status)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


async def domain_error(request: Request, exc: DomainError) -> Response:
    """The API's answer to every refusal (Starlette's exception handler for DomainError)."""
    return error_response(exc.status, exc.code, exc.message)


async def current_actor(request: Request) -> Actor | None:
    """The bearer token's actor, None without one; a token that fails is an error, not anonymity."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get("collab_token", "")
    if not token:
        return None
    try:
        return await request.app.state.services.tokens.resolve(token)
    except TokenError as exc:
        raise ApiError(401, exc.code, exc.message) from None


def refusal(exc: Exception) -> ApiError:
    """A route's answer to `policy.Denied` (401 when signing in could help, else 403) or to a domain
    error that carries its own `status`, `code` and `message` (studios, documents, the library)."""
    return ApiError(exc.status, exc.code, exc.message)


def path_id(request: Request, key: str) -> int:
    """An id from the path; anything else is a 404, never a 500."""
    try:
        return int(request.path_params[key])
    except ValueError:
        raise ApiError(404, "not_found", f"no such {key.removesuffix('_id')}") from None


async def authorized(request: Request, action: str, resource: Any = None) -> Actor | None:
    actor = await current_actor(request)
    try:
        policy.authorize(actor, action, resource)
    except policy.Denied as exc:
        raise refusal(exc) from None
    return actor


async def json_body(request: Request, max_bytes: int = 64 * 1024) -> dict[str, Any]:
    body = await request.body()
    if len(body) > max_bytes:
        raise ApiError(413, "too_large", f"body over {max_bytes} bytes")
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "body must be a JSON object")
    return data
