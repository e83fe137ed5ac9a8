"""The page policy's pieces that need no server: the editor bundle's admitted style, the proxies we
believe about https."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from collab.web import pages
from collab.web.assets import STATIC
from collab.web.headers import content_security_policy
from collab.web.proxies import TrustedProxies


def b64_sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_admitted_editor_style_is_the_one_the_bundle_injects():
    """quill-cursors (in static/dist/editor.js) puts its stylesheet into a <style> it makes: after a
    rebuild that changes it, QUILL_CURSORS_STYLE must change too, or the editor's cursors lose their
    styles under the policy."""
    bundle = (STATIC / "dist" / "editor.js").read_text(encoding="utf-8")
    found = re.search(r'\.push\(\[\w+\.id,("\.ql-container.*?"),""\]\)', bundle)
    assert found, "quill-cursors' stylesheet is no longer where the bundle kept it: find it and hash it again"
    assert b64_sha256(json.loads(found.group(1))) == pages.QUILL_CURSORS_STYLE
    assert b64_sha256("") == pages.EMPTY_STYLE


def test_hashes_extend_the_policy_and_never_open_it():
    policy = content_security_policy(["sha256-abc"], ["sha256-def"])
    assert "script-src 'self' 'sha256-abc';" in policy and "style-src 'self' 'sha256-def';" in policy
    assert "unsafe" not in policy and "frame-ancestors 'none'" in policy


def scope(client: str, scheme: str = "http", proto: str | None = None) -> dict:
    headers = [(b"x-forwarded-proto", proto.encode())] if proto else []
    return {"type": "http", "scheme": scheme, "client": (client, 5000), "headers": headers}


def test_only_a_listed_proxy_is_believed_about_https():
    proxies = TrustedProxies("10.0.0.0/8, 127.0.0.1, ::1")
    assert proxies.scheme(scope("10.2.3.4", proto="https")) == "https"
    assert proxies.scheme(scope("::1", proto="HTTPS")) == "https"
    assert proxies.scheme(scope("127.0.0.1", proto="https, http")) == "http"  # what our neighbour saw
    assert proxies.scheme(scope("192.168.1.9", proto="https")) == "http"  # anyone else: the socket's scheme
    assert proxies.scheme(scope("10.2.3.4")) == "http"
    assert proxies.scheme(scope("192.168.1.9", scheme="https")) == "https"  # TLS on the socket itself
    assert TrustedProxies("").scheme(scope("127.0.0.1", proto="https")) == "http"  # by default: nobody



async def test_a_fault_of_ours_still_answers_with_the_headers():
    """A 500 (the app's handler answers it, then the exception goes on to the log) is framed by the
    middleware like any answer: no real node has a route that fails on purpose, so here one does."""
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Route

    from collab.api.common import error_response
    from collab.web.headers import SecurityHeaders

    async def broken(request):
        raise RuntimeError("a bug")

    async def fault(request, exc):  # as server/app.py's
        return error_response(500, "internal", "internal error; nothing was changed")

    app = SecurityHeaders(Starlette(routes=[Route("/broken", broken)], exception_handlers={500: fault}),
                          TrustedProxies(""))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        r = await client.get("/broken")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
