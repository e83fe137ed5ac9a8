"""Property-based fuzzing of the HTTP API from its own description (`/api/openapi.json`), with
schemathesis: every described operation, as each kind of caller (anonymous, a teacher, an expert, an
organizer, an admin), with generated paths, queries and bodies, valid and not.

What must hold for every answer: no server error (5xx); the status is one the description allows
(every operation's `default` is the API's error body, `Error`); an error is that body, and its code is
one the web client has a sentence for in both languages (webclient/static/page.js), since a refusal
a person cannot read is a refusal they cannot act on. The server stays up throughout.

A few examples per operation in the default run (each sent as every caller: some thousands of
requests); the slow run (`-m slow`) asks for a hundred per operation."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from schemathesis.checks import not_a_server_error

import harness

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("anonymous", "teacher1", "expert", "organizer", "admin")
EXAMPLES = int(os.environ.get("COLLAB_FUZZ_EXAMPLES", "4"))
# Not negative_data_rejection: the description is looser than the routes (they refuse more than it
# says), which is the safe way round; the refusal itself is checked (documented code, error body).
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def node():
    d = tempfile.mkdtemp(prefix="collab-fuzz-")
    url = f"sqlite+aiosqlite:///{d}/fuzz.db"
    server = harness.Server(url, name="fuzz")
    env = dict(os.environ, COLLAB_DATA_DIR=str(server.datadir))
    subprocess.run([sys.executable, "-m", "server.cli", "db", "upgrade", "--database-url", url],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "server.cli", "demo", "--database-url", url, "--secret", harness.SECRET],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    server.start()
    tokens = {}
    for role in ROLES[1:]:
        r = httpx.post(server.url + "/api/auth/login", json={"username": role, "password": "collab-demo"})
        assert r.status_code == 200, r.text
        tokens[role] = r.json()["token"]
    yield server, tokens
    server.cleanup()


def operations(server) -> list:
    spec = httpx.get(server.url + "/api/openapi.json").json()
    return [result.ok() for result in schemathesis.openapi.from_dict(spec).get_all_operations()]


@pytest.mark.parametrize("mode,examples", [
    pytest.param(GenerationMode.POSITIVE, EXAMPLES, id="valid"),
    pytest.param(GenerationMode.NEGATIVE, EXAMPLES, id="invalid"),
    pytest.param(GenerationMode.POSITIVE, 100, id="valid-many", marks=pytest.mark.slow),
    pytest.param(GenerationMode.NEGATIVE, 100, id="invalid-many", marks=pytest.mark.slow),
])
def test_every_operation_answers_every_caller_with_a_documented_answer(node, mode, examples):
    server, tokens = node
    codes, problems, calls, skipped = harness.translated_codes(), [], [0], []
    ops = operations(server)
    assert len(ops) >= 50  # the activities', studios' and documents' routes are described too

    def check(case) -> None:
        for role in ROLES:  # the same request from each kind of caller
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
            calls[0] += 1
            try:
                response = case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS, timeout=30)
            except Exception as exc:  # noqa: BLE001 - every operation is tried; the failures are listed at the end
                problems.append(f"{case.method} {case.formatted_path} as {role}: {str(exc).strip().splitlines()[0]}"
                                f"\n    {case.as_curl_command()}")
                return
            if response.status_code >= 400:
                code = response.json()["error"]["code"]
                if code not in codes:
                    problems.append(f"{case.method} {case.formatted_path} as {role}: code {code!r} not in page.js")

    for op in ops:
        run = settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                       suppress_health_check=list(HealthCheck))(given(op.as_strategy(generation_mode=mode))(check))
        try:
            run()
        except Unsatisfiable:  # nothing of it can be made invalid (a path parameter alone): the valid run has it
            assert mode is GenerationMode.NEGATIVE, op.label
            skipped.append(op.label)
    assert httpx.get(server.url + "/readyz").status_code == 200  # still serving
    print(f"{calls[0]} requests over {len(ops) - len(skipped)} operations ({mode.value})")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(sorted(set(problems))[:40])
