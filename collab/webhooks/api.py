"""The admins' webhook routes: endpoints, secrets, the delivery log, replay (documented at
/api/openapi.json and in docs/integration.md). Every route asks the policy for `webhook.manage`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from collab.api.common import authorized, json_body, json_response, path_id
from collab.errors import DomainError
from collab.webhooks import endpoints
from collab.webhooks.outbox import TYPES

TYPES_SCHEMA = "{type: array, minItems: 1, items: {type: string, enum: [" + ", ".join((*TYPES, "'*'")) + "]}}"


def _services(request: Request):
    return request.app.state.services


async def list_endpoints(request: Request):
    """
    summary: Webhook endpoints (admins)
    responses: {200: {description: "{endpoints: [...], event_types: [...]}"}, 403: {description: forbidden}}
    """
    await authorized(request, "webhook.manage")
    async with _services(request).sessionmaker() as db:
        found = await endpoints.listing(db)
    return json_response({"endpoints": [endpoints.endpoint_json(e) for e in found], "event_types": list(TYPES)})


async def create_endpoint(request: Request):
    """
    summary: Add a webhook endpoint (admins); its secret is in this answer only
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [url, event_types]
            properties:
              url: {type: string, maxLength: 2000, description: "http(s); a public address unless --webhook-allow-private"}
              event_types: TYPES
              description: {type: string, maxLength: 200}
              secret: {type: string, description: "whsec_ and 24 to 64 bytes in base64; made here when absent"}
    responses: {201: {description: "{endpoint, secret}"}, 400: {description: "invalid; unknown_event_type; webhook_url_refused"}, 403: {description: forbidden}}
    """
    actor = await authorized(request, "webhook.manage")
    data = await json_body(request)
    services = _services(request)
    async with services.sessionmaker() as db:
        endpoint, secret = await endpoints.create(
            db, actor.user_id, data.get("url"), data.get("event_types"), data.get("description", ""),
            allow_private=services.settings.webhook_allow_private, secret=data.get("secret"), actor=actor)
        await db.commit()
        return json_response({"endpoint": endpoints.endpoint_json(endpoint), "secret": secret}, 201)


async def get_endpoint(request: Request):
    """
    summary: One webhook endpoint (admins)
    responses: {200: {description: endpoint}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    await authorized(request, "webhook.manage")
    async with _services(request).sessionmaker() as db:
        return json_response(endpoints.endpoint_json(await endpoints.get(db, path_id(request, "endpoint_id"))))


async def change_endpoint(request: Request):
    """
    summary: Change a webhook endpoint (admins); enabling it again resumes its pending deliveries
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            properties:
              url: {type: string, maxLength: 2000}
              event_types: TYPES
              description: {type: string, maxLength: 200}
              enabled: {type: boolean}
    responses: {200: {description: endpoint}, 400: {description: "invalid; unknown_event_type; webhook_url_refused"}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor = await authorized(request, "webhook.manage")
    data = await json_body(request)
    services = _services(request)
    async with services.sessionmaker() as db:
        endpoint = await endpoints.get(db, path_id(request, "endpoint_id"))
        await endpoints.change(db, endpoint, data, allow_private=services.settings.webhook_allow_private,
                               actor=actor)
        await db.commit()
        return json_response(endpoints.endpoint_json(endpoint))


async def rotate_secret(request: Request):
    """
    summary: A new secret for a webhook endpoint (admins); the old one signs beside it for --webhook-rotation-overlap seconds
    requestBody: {required: false, content: {application/json: {schema: {type: object, properties: {secret: {type: string, description: "whsec_…; made here when absent"}}}}}}
    responses: {200: {description: "{secret, previous_secret_until}"}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor = await authorized(request, "webhook.manage")
    data = await json_body(request)
    services = _services(request)
    async with services.sessionmaker() as db:
        endpoint = await endpoints.get(db, path_id(request, "endpoint_id"))
        secret = await endpoints.rotate(db, endpoint, services.settings.webhook_rotation_overlap, data.get("secret"),
                                        actor=actor)
        await db.commit()
        return json_response({"secret": secret,
                              "previous_secret_until": endpoints.endpoint_json(endpoint)["previous_secret_until"]})


async def delivery_log(request: Request):
    """
    summary: A webhook endpoint's delivery log, newest first (admins)
    parameters:
      - {name: status, in: query, schema: {type: string, enum: [pending, succeeded, failed]}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 50}}
      - {name: before, in: query, schema: {type: integer}, description: "a delivery id: older ones (to page back)"}
    responses: {200: {description: "{deliveries: [{id, event: {id, type, created_at}, status, attempts: [{at, node, status_code, error, response, duration_ms}], last_status_code, next_attempt_at}]}"}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    await authorized(request, "webhook.manage")
    q = request.query_params
    try:
        limit = int(q.get("limit", "50"))
        before = int(q["before"]) if "before" in q else None
    except ValueError:
        raise DomainError("invalid", "limit and before must be whole numbers") from None
    if before is not None and not 0 < before < 2**31:  # an id column's range, or PostgreSQL refuses it
        raise DomainError("invalid", "before must be a delivery id")
    async with _services(request).sessionmaker() as db:
        endpoint = await endpoints.get(db, path_id(request, "endpoint_id"))
        log = await endpoints.deliveries(db, endpoint, q.get("status"), limit, before)
    return json_response({"deliveries": log})


async def replay(request: Request):
    """
    summary: Deliver an event to a webhook endpoint again, under the same webhook-id (admins)
    requestBody: {required: true, content: {application/json: {schema: {type: object, required: [event], properties: {event: {type: string, description: "the event's id (the webhook-id header, msg_…)"}}}}}}
    responses: {202: {description: "{delivery: id, status: pending}"}, 403: {description: forbidden}, 404: {description: not_found}}
    """
    actor = await authorized(request, "webhook.manage")
    data = await json_body(request)
    async with _services(request).sessionmaker() as db:
        endpoint = await endpoints.get(db, path_id(request, "endpoint_id"))
        delivery = await endpoints.replay(db, endpoint, data.get("event"), actor=actor)
        await db.commit()
        return json_response({"delivery": delivery.id, "status": "pending"}, 202)


routes = [
    Route("/api/webhooks", list_endpoints, methods=["GET"]),
    Route("/api/webhooks", create_endpoint, methods=["POST"]),
    Route("/api/webhooks/{endpoint_id}", get_endpoint, methods=["GET"]),
    Route("/api/webhooks/{endpoint_id}", change_endpoint, methods=["PATCH"]),
    Route("/api/webhooks/{endpoint_id}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/api/webhooks/{endpoint_id}/deliveries", delivery_log, methods=["GET"]),
    Route("/api/webhooks/{endpoint_id}/replay", replay, methods=["POST"]),
]

for _route in routes:  # the event types' enum, written once
    if _route.endpoint.__doc__:
        _route.endpoint.__doc__ = _route.endpoint.__doc__.replace("event_types: TYPES", "event_types: " + TYPES_SCHEMA)
