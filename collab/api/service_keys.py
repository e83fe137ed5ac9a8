"""Service API keys over the API (admins): create (the secret answered once), list, revoke.
The same as `collab keys create|list|revoke` on the command line (server/cli.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from collab import keys
from collab.api.common import authorized, json_body, json_response, path_id


async def create_key(request: Request):
    """
    summary: Make a service API key (admins); its secret is in this answer and never again
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [name, scopes]
            properties:
              name: {type: string, minLength: 1, maxLength: 100, description: "who uses it, e.g. 省平台"}
              scopes: {type: array, minItems: 1, items: {type: string, enum: [attendance:read, activities:read, registrations:read]}}
              expires_in_days: {type: integer, minimum: 1, maximum: 3660, description: "none: it does not expire"}
    responses: {201: {description: "the key as listed, plus `secret` (collab_sk_…), shown once"}, 400: {description: "invalid, invalid_scope"}, 403: {description: forbidden}}
    """
    actor = await authorized(request, "keys.manage")
    data = await json_body(request)
    async with request.app.state.services.sessionmaker() as db:
        row, secret = await keys.create(db, actor, data.get("name"), data.get("scopes"), data.get("expires_in_days"))
        return json_response({**keys.key_json(row), "secret": secret}, 201,
                             headers={"Cache-Control": "no-store"})  # a secret is never kept by a cache


async def list_keys(request: Request):
    """
    summary: The service keys (admins), with their visible prefix, scopes, last use and state; never the secret
    responses: {200: {description: "{keys: [{id, name, prefix, scopes, created_by, created_at, expires_at, last_used_at, revoked_at, state}]}"}, 403: {description: forbidden}}
    """
    await authorized(request, "keys.manage")
    async with request.app.state.services.sessionmaker() as db:
        return json_response({"keys": [keys.key_json(k) for k in await keys.listing(db)]})


async def revoke_key(request: Request):
    """
    summary: Revoke a service key (admins); every node refuses it within seconds (401 key_revoked)
    requestBody: {required: false, content: {application/json: {schema: {type: object, description: "no fields: send nothing or {}"}}}}
    responses: {200: {description: the key as listed}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor = await authorized(request, "keys.manage")
    key_id = path_id(request, "key_id")
    services = request.app.state.services
    async with services.sessionmaker() as db:
        row = await keys.revoke(db, actor, key_id)
        body = keys.key_json(row)
    services.get(keys.KeyResolver).forget(key_id)  # this node at once; the others within CACHE_SECONDS
    return json_response(body)


routes = [
    Route("/api/keys", create_key, methods=["POST"]),
    Route("/api/keys", list_keys, methods=["GET"]),
    Route("/api/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
]
