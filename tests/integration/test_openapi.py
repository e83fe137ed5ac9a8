"""/api/openapi.json, as an integrator's generator reads it from a running server: every operation that
takes a body (POST, PUT, PATCH) says what the body is, with a schema that is itself valid."""

from __future__ import annotations

import httpx
import jsonschema
import pytest

import harness


@pytest.fixture(scope="module")
async def spec(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("the description does not depend on the database; one kind is enough")
    server = harness.Server(database_url).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            r = await http.get("/api/openapi.json")
            assert r.status_code == 200
            yield r.json()
    finally:
        server.cleanup()


def operations(spec, methods=("post", "put", "patch")):
    return [(m.upper(), path, op) for path, ops in spec["paths"].items() for m, op in ops.items() if m in methods]


async def test_every_operation_with_a_body_describes_it(spec):
    ops = operations(spec)
    assert len(ops) > 20  # the activities, studios and documents routes are described too
    missing = []
    for method, path, op in ops:
        content = (op.get("requestBody") or {}).get("content") or {}
        schemas = [media.get("schema") for media in content.values()]
        if not schemas or not all(s and ("type" in s or "$ref" in s or "properties" in s) for s in schemas):
            missing.append(f"{method} {path}")
    assert not missing, "no request body schema: " + ", ".join(missing)


async def test_request_body_schemas_are_valid_json_schemas(spec):
    for method, path, op in operations(spec):
        for media, body in op["requestBody"]["content"].items():
            try:
                jsonschema.Draft4Validator.check_schema(body["schema"])  # OpenAPI 3.0 schemas are draft 4's kin
            except jsonschema.SchemaError as exc:
                pytest.fail(f"{method} {path} ({media}): {exc.message}")


async def test_creating_a_user_is_described_as_the_route_reads_it(spec):
    body = spec["paths"]["/api/users"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"username", "password", "display_name"}
    assert {"username", "password", "display_name", "role", "school", "region"} <= set(body["properties"])
    assert set(body["properties"]["role"]["enum"]) >= {"admin", "organizer", "expert", "teacher"}
    validator = jsonschema.Draft4Validator(body)
    assert validator.is_valid({"username": "wang", "password": "password-wang", "display_name": "王老师"})
    assert not validator.is_valid({"username": "wang"})  # the route answers 400 invalid to this
