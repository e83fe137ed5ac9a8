"""Routes of sign-in sessions: renew a token, sign out, see and end one's sessions, change one's
password; for admins, end all of a user's sessions, change a role, disable an account.

Whatever ends sessions is committed first, then announced to every node (`SignIns.announce`) before
the answer goes out, so the ended token is refused everywhere, and its sockets closed (4006), by the
time the caller hears back (collab/auth/signins.py).
"""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab import audit, policy
from collab.api.common import current_grant, json_body, json_response, path_id
from collab.auth.passwords import MIN_LENGTH, check_password, hash_password
from collab.auth.signins import aware, refresh_in
from collab.errors import DomainError
from collab.store.models import ROLES, AuthSession, User


def _services(request: Request):
    return request.app.state.services


async def _own(request: Request):
    actor, grant = await current_grant(request)
    policy.authorize(actor, "account.sessions")
    return actor, grant


def session_json(s: AuthSession, current: int | None) -> dict:
    return {"id": s.id, "created_at": aware(s.created_at).isoformat(),
            "last_seen_at": aware(s.last_seen_at).isoformat(), "expires_at": aware(s.expires_at).isoformat(), "user_agent": s.user_agent, "client_address": s.client_address,
            "current": s.id == current}


async def refresh_token(request: Request):
    """
    summary: A new token for the same sign-in session, with the account as it is now (send the still-valid token)
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses:
      200: {description: "{token, expires_in, refresh_in}"}
      401: {description: "error.code: token_expired, token_revoked (session ended or account disabled), token_not_renewable (no session: an external provider's token), unauthenticated"}
    """
    actor, grant = await _own(request)
    services = _services(request)
    token = await services.sign_ins.renew(actor.user_id, grant)
    ttl = services.settings.token_ttl
    return json_response({"token": token, "expires_in": ttl, "refresh_in": refresh_in(ttl)},
                         headers={"Cache-Control": "no-store"})


async def sign_out(request: Request):
    """
    summary: Sign out - the token's session ends on the server (its sockets close with 4006 on every node)
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {204: {description: "signed out (a token without a session, an external provider's, is the provider's to end)"}, 401: {description: unauthenticated}}
    """
    actor, grant = await _own(request)
    if grant.session_id is not None:
        await _end(request, actor.user_id, "signed_out", only=grant.session_id)
    return Response(status_code=204)


async def list_sessions(request: Request):
    """
    summary: My signed-in sessions (devices), most recently seen first; `current` marks the one asking
    responses: {200: {description: "{sessions: [{id, created_at, last_seen_at (to the minute), expires_at, user_agent, client_address, current}]}"}, 401: {description: unauthenticated}}
    """
    actor, grant = await _own(request)
    async with _services(request).sessionmaker() as db:
        rows = await _services(request).sign_ins.active(db, actor.user_id)
    return json_response({"sessions": [session_json(s, grant.session_id) for s in rows]})


async def end_session(request: Request):
    """
    summary: End one of my sessions (its tokens stop working and its sockets close, on every node)
    responses: {204: {description: ended}, 404: {description: "not_found: no such open session of mine"}}
    """
    actor, _ = await _own(request)
    if not await _end(request, actor.user_id, "ended", only=path_id(request, "session_id")):
        raise DomainError("not_found", "no such open session")
    return Response(status_code=204)


async def end_other_sessions(request: Request):
    """
    summary: End all my sessions but this one
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {200: {description: "{ended: number of sessions ended}"}, 401: {description: unauthenticated}}
    """
    actor, grant = await _own(request)
    services = _services(request)
    async with services.sessionmaker() as db:
        if grant.session_id is None:  # no session to spare: end the others' rows only
            ended = await services.sign_ins.revoke(db, actor.user_id, "ended")
        else:  # and void whatever else was issued to this user before now (tokens without a session)
            user = await db.get(User, actor.user_id)
            ended = await services.sign_ins.cut_off(db, user, "ended", sparing=grant.session_id)
        await db.commit()
    await services.sign_ins.announce(ended)
    return json_response({"ended": len(ended.sessions)})


async def change_password(request: Request):
    """
    summary: Change my password (the old one is required); my other sessions end, this one stays
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [old_password, new_password]
            properties:
              old_password: {type: string}
              new_password: {type: string, minLength: 8}
    responses: {204: {description: changed}, 400: {description: "error.code: invalid, weak_password, no_password (an external provider's account)"}, 401: {description: "bad_credentials: the old password is wrong"}}
    """
    actor, grant = await _own(request)
    data = await json_body(request)
    old, new = data.get("old_password"), data.get("new_password")
    if not isinstance(old, str) or not isinstance(new, str):
        raise DomainError("invalid", "old_password and new_password are required strings")
    if len(new) < MIN_LENGTH:
        raise DomainError("weak_password", f"password must have at least {MIN_LENGTH} characters")
    services = _services(request)
    async with services.sessionmaker() as db:
        user = await db.get(User, actor.user_id)
        if user is None or user.password_hash is None:
            raise DomainError("no_password", "this account signs in through another system")
        if not await check_password(user.password_hash, old):  # Argon2 off the event loop
            raise DomainError("bad_credentials", "the old password is wrong")
        user.password_hash = hash_password(new)
        ended = await services.sign_ins.cut_off(db, user, "password_changed", sparing=grant.session_id)
        await db.commit()
    await services.sign_ins.announce(ended)
    return Response(status_code=204)


async def end_all_sessions(request: Request):
    """
    summary: End all of a user's sessions on every device (admins)
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {200: {description: "{ended: number of sessions ended}"}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor, _ = await current_grant(request)
    policy.authorize(actor, "user.sessions.end")
    services = _services(request)
    async with services.sessionmaker() as db:
        user = await db.get(User, path_id(request, "user_id"))
        if user is None:
            raise DomainError("not_found", "no such user")
        ended = await services.sign_ins.cut_off(db, user, "ended_by_admin")
        audit.record(db, actor, "user.sessions_ended", "user", user.id, {"sessions": len(ended.sessions)})
        await db.commit()
    await services.sign_ins.announce(ended)
    return json_response({"ended": len(ended.sessions)})


async def update_user(request: Request):
    """
    summary: Change a user's role, or disable or enable the account (admins). A role change or disabling ends all the user's sessions
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            properties:
              role: {type: string, enum: [admin, organizer, expert, teacher]}
              disabled: {type: boolean}
    responses: {200: {description: "user, with disabled"}, 400: {description: "invalid, invalid_role"}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor, _ = await current_grant(request)
    policy.authorize(actor, "user.update")
    data = await json_body(request)
    role, disabled = data.get("role"), data.get("disabled")
    if role is not None and role not in ROLES:
        raise DomainError("invalid_role", f"role must be one of {', '.join(ROLES)}")
    if disabled is not None and not isinstance(disabled, bool):
        raise DomainError("invalid", "disabled is true or false")
    services = _services(request)
    ended = None
    async with services.sessionmaker() as db:
        user = await db.get(User, path_id(request, "user_id"))
        if user is None:
            raise DomainError("not_found", "no such user")
        if disabled is not None and disabled != (user.disabled_at is not None):
            audit.record(db, actor, "user.disable" if disabled else "user.enable", "user", user.id)
        if disabled is True and user.disabled_at is None:
            user.disabled_at = datetime.now(timezone.utc)
            ended = await services.sign_ins.cut_off(db, user, "disabled")
        elif disabled is False and user.disabled_at is not None:
            user.disabled_at = None
            ended = services.sign_ins.reenabled(user)
        if role is not None and role != user.role:
            # a token carries its role, and roles are not nested (an expert moderates what an organizer
            # may not): every change of role ends the user's sessions; they sign in again in the new one
            audit.record(db, actor, "user.role", "user", user.id, {"from": user.role, "to": role})
            user.role = role
            if user.disabled_at is None:
                ended = await services.sign_ins.cut_off(db, user, "role_changed")
        await db.commit()
    if ended is not None:
        await services.sign_ins.announce(ended)
    return json_response({"id": user.id, "username": user.username, "display_name": user.display_name,
                          "role": user.role, "school": user.school, "region": user.region,
                          "disabled": user.disabled_at is not None})


async def _end(request: Request, user_id: int, why: str, only: int) -> bool:
    services = _services(request)
    async with services.sessionmaker() as db:
        ended = await services.sign_ins.revoke(db, user_id, why, only=only)
        await db.commit()
    if ended.sessions:
        await services.sign_ins.announce(ended)
    return bool(ended.sessions)


routes = [
    Route("/api/token/refresh", refresh_token, methods=["POST"]),
    Route("/api/signout", sign_out, methods=["POST"]),
    Route("/api/me/sessions", list_sessions, methods=["GET"]),
    Route("/api/me/sessions/end-others", end_other_sessions, methods=["POST"]),
    Route("/api/me/sessions/{session_id}", end_session, methods=["DELETE"]),
    Route("/api/me/password", change_password, methods=["POST"]),
    Route("/api/users/{user_id}/sessions/end-all", end_all_sessions, methods=["POST"]),
    Route("/api/users/{user_id}", update_user, methods=["PATCH"]),
]
