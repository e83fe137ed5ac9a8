"""API routes: sign-in, accounts, announcements, presence. Documented at /api/openapi.json."""

from __future__ import annotations

import orjson
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from collab import announcements, audit, policy
from collab.api.client_address import client_address, trusted_networks
from collab.api.common import authorized, current_actor, json_body, json_response
from collab.auth import devices
from collab.auth.accounts import authenticate, create_user
from collab.errors import DomainError
from collab.realtime.bus import BusUnavailable
from collab.realtime.dispatch import Context
from collab.realtime.protocol import valid_channel
from collab.store.models import User


def user_json(u: User) -> dict:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
            "school": u.school, "region": u.region}


async def login(request: Request):
    """
    summary: Sign in with a username and password
    description: >-
      Failed sign-ins are counted per client address, per account and per known device (the
      `collab_device` cookie this answer sets); past a limit the answer is 429 `signin_throttled` with
      `Retry-After`, the same for every name, known or not.
    requestBody: {required: true, content: {application/json: {schema: {type: object, required: [username, password], properties: {username: {type: string}, password: {type: string}}}}}}
    responses:
      200: {description: "{token, expires_in, user}; sets the collab_device cookie"}
      401: {description: "error.code = bad_credentials"}
      403: {description: "error.code = account_disabled (the password was right)"}
      429: {description: "error.code = signin_throttled, error.retry_after (seconds, also the Retry-After header)"}
    """
    data = await json_body(request)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise DomainError("invalid", "username and password are required")
    services = request.app.state.services
    settings = services.settings
    throttle = services.signin_throttle
    address = client_address(request.client.host if request.client else None,
                             request.headers.get("x-forwarded-for"), trusted_networks(settings.trusted_proxies))
    attempt = throttle.attempt(address, username, devices.known(settings.secret, username,
                                                                request.cookies.get(devices.COOKIE)))
    async with throttle.turn(attempt):  # checked before the account is looked up: a throttled name tells nothing
        if await request.is_disconnected():  # gave up while queued (a storm): spend no core on it
            return Response(status_code=499)
        user = await authenticate(services.sessionmaker, username, password)
        if user is None:
            await throttle.failed(attempt)
            raise DomainError("bad_credentials", "wrong username or password")
    async with services.sessionmaker() as db:
        # a sign-in session: the token carries its id, so it can be listed and ended (collab/api/signins.py)
        token = await services.sign_ins.open(db, user, request.headers.get("user-agent", ""), address)
    response = json_response({"token": token, "expires_in": settings.token_ttl, "user": user_json(user)})
    response.set_cookie(devices.COOKIE, devices.issue(settings.secret, username, settings.signin_device_days),
                        max_age=settings.signin_device_days * 86400, path=devices.PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


async def me(request: Request):
    """
    summary: The signed-in user
    responses: {200: {description: user}, 401: {description: unauthenticated}}
    """
    actor = await authorized(request, "self")
    async with request.app.state.services.sessionmaker() as db:
        user = await db.get(User, actor.user_id)
    if user is None:
        raise DomainError("not_found", "no such user")
    return json_response(user_json(user))


async def list_users(request: Request):
    """
    summary: List users (admins and organizers)
    responses: {200: {description: "{users: [...]}"}}
    """
    await authorized(request, "user.list")
    async with request.app.state.services.sessionmaker() as db:
        users = (await db.execute(select(User).order_by(User.id).limit(500))).scalars().all()
    return json_response({"users": [user_json(u) for u in users]})


async def create_user_route(request: Request):
    """
    summary: Create a local account (admins)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [username, password, display_name]
            properties:
              username: {type: string, minLength: 3, maxLength: 64, pattern: "^[A-Za-z0-9._-]+$"}
              password: {type: string, minLength: 8}
              display_name: {type: string, minLength: 1, maxLength: 100}
              role: {type: string, enum: [admin, organizer, expert, teacher], default: teacher}
              school: {type: string, maxLength: 200}
              region: {type: string, maxLength: 100}
    responses: {201: {description: user}, 400: {description: "error.code: invalid, invalid_role, invalid_username, weak_password, invalid_name, username_taken"}, 403: {description: forbidden}}
    """
    actor = await authorized(request, "user.create")
    data = await json_body(request)
    fields = {k: data.get(k) for k in ("username", "password", "display_name", "role", "school", "region")}
    if not all(isinstance(fields[k], str) for k in ("username", "password", "display_name")):
        raise DomainError("invalid", "username, password and display_name are required strings")
    kwargs = {k: v for k, v in fields.items() if isinstance(v, str)}
    async with request.app.state.services.sessionmaker() as db:
        user = await create_user(db, **kwargs)
        audit.record(db, actor, "user.create", "user", user.id, {"username": user.username, "role": user.role})
        await db.commit()
    return json_response(user_json(user), 201)


async def get_user(request: Request):
    """
    summary: One user (themselves, or any user for admins and organizers)
    responses: {200: {description: user}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    try:
        user_id = int(request.path_params["user_id"])
    except ValueError:
        raise DomainError("not_found", "no such user") from None
    await authorized(request, "user.read", user_id)
    async with request.app.state.services.sessionmaker() as db:
        user = await db.get(User, user_id)
    if user is None:
        raise DomainError("not_found", "no such user")
    return json_response(user_json(user))


async def post_announcement(request: Request):
    """
    summary: Post an announcement to a channel (admins and organizers); persisted, then published
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [channel, body]
            properties:
              channel: {type: string, description: "namespace:name, e.g. announce:all"}
              body: {type: string, minLength: 1, maxLength: 2000}
    responses: {201: {description: "{event, offset}"}, 400: {description: invalid}, 403: {description: forbidden}}
    """
    actor = await current_actor(request)
    data = await json_body(request)
    services = request.app.state.services
    async with services.sessionmaker() as db:
        if actor is None:
            policy.authorize(None, "announce.post", data.get("channel"))
        event, offset = await announcements.post(db, services.hub, actor, data.get("channel"), data.get("body"))
    return json_response({"event": event, "offset": offset}, 201)


async def list_announcements(request: Request):
    """
    summary: Recent announcements of a channel, oldest first (the snapshot a client reloads on resync)
    parameters:
      - {name: channel, in: query, required: true, schema: {type: string}}
      - {name: limit, in: query, schema: {type: integer, default: 50, maximum: 500}}
      - {name: before, in: query, description: "announcement id to page back from", schema: {type: integer}}
    responses: {200: {description: "{announcements: [...]}"}}
    """
    channel = request.query_params.get("channel", "")
    if not valid_channel(channel):
        raise DomainError("bad_channel", "channel must be 'namespace:name'")
    try:
        limit = int(request.query_params.get("limit", 50))
        before = int(request.query_params["before"]) if "before" in request.query_params else None
    except ValueError:
        raise DomainError("invalid", "limit and before are integers") from None
    if not 1 <= limit <= 500:
        raise DomainError("invalid", "limit is 1 to 500")
    await authorized(request, "announce.list", channel)
    services = request.app.state.services
    async with services.sessionmaker() as db:
        rows = await announcements.recent(db, channel, limit, before)
        names = {u.id: u.display_name for u in (await db.execute(select(User).where(User.id.in_({r.author_id for r in rows})))).scalars()}
    return json_response({"announcements": [announcements.as_event(r, names.get(r.author_id, "")) for r in rows]})


async def presence(request: Request):
    """
    summary: Presence counts of a channel, summed over live nodes
    responses: {200: {description: "{clients, users}"}, 503: {description: bus_unavailable}}
    """
    channel = request.path_params["channel"]
    if not valid_channel(channel):
        raise DomainError("bad_channel", "channel must be 'namespace:name'")
    services = request.app.state.services
    actor = await current_actor(request)
    resource = await services.registry.channel_resource(Context(None, actor, services), channel)
    policy.authorize(actor, "node.presence", resource)
    try:
        counts = await services.hub.presence(channel)
    except BusUnavailable:
        raise DomainError("bus_unavailable", "the bus is unreachable") from None
    return json_response({"channel": channel, "clients": counts.clients, "users": counts.users})


routes = [
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/users", list_users, methods=["GET"]),
    Route("/api/users", create_user_route, methods=["POST"]),
    Route("/api/users/{user_id}", get_user, methods=["GET"]),
    Route("/api/announcements", post_announcement, methods=["POST"]),
    Route("/api/announcements", list_announcements, methods=["GET"]),
    Route("/api/channels/{channel}/presence", presence, methods=["GET"]),
]

schemas = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "collab API", "version": "0.1.0"}})


# Every operation may refuse: its error answers are this body (collab/api/common.py, error_response),
# with a code the web client translates (webclient/static/page.js).
ERROR_BODY = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "line": {"type": "integer", "description": "roster_invalid: the list's line at fault"}}}},
}


async def openapi(request: Request):
    spec = schemas.get_schema(routes=request.app.routes)
    spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_BODY
    refusal = {"description": "a refusal: error.code says why",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.setdefault("responses", {}).setdefault("default", refusal)
    # YAML reads status codes as integers; OpenAPI wants them as strings.
    return Response(orjson.dumps(spec, option=orjson.OPT_NON_STR_KEYS), media_type="application/json")
