"""Security headers on every answer the node gives over HTTP (docs/security.md, "The surface").

Pages get a Content-Security-Policy that runs only our own scripts (no inline script, no inline event
handler, no eval), may not be framed (clickjacking of the host's console and the experts' desk), and
talk only to this origin. API answers carry the same set: it costs nothing and a JSON body opened as a
page is then inert too. An answer that already names a header keeps its own: uploaded files carry a
sandboxing CSP of their own (collab/studios/api.py).

The audience's HLS (`/live/`) is fetched by players, possibly from another origin through a CDN: it
keeps its CORS and gets `nosniff`, nothing that would stop a player on another site.
"""

from __future__ import annotations

from collections.abc import Iterable

from collab.web.proxies import TrustedProxies

# The page policy. Styles: our stylesheets, plus CSSOM (element.style, constructed sheets), which CSP
# does not govern; no inline <style> or style="" (see docs/security.md for the editor's bundle).
# connect-src 'self' covers ws: and wss: to this host (CSP 3; Chromium since 2018, checked by
# tests/browser/test_pages_csp.py on the room's /ws and the editor's /ws/docs).
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",  # the program player plays through Media Source Extensions
    "worker-src": "'self' blob:",  # hls.js runs its demuxer in a worker made from a blob
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(script_hashes: Iterable[str] = (), style_hashes: Iterable[str] = ()) -> str:
    """The page policy; hashes ('sha256-…') admit exact inline blocks: an import map (which browsers
    treat as inline script and take from no file), a library's own <style> element."""
    policy = dict(POLICY)
    for directive, hashes in (("script-src", script_hashes), ("style-src", style_hashes)):
        for h in hashes:
            policy[directive] += f" '{h}'"
    return "; ".join(f"{k} {v}" for k, v in policy.items())


CSP = b"content-security-policy"
COMMON = [  # every answer, pages, API, static files and HLS alike
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
PAGES = [
    (b"x-frame-options", b"DENY"),  # frame-ancestors' older twin
    (b"permissions-policy", b"camera=(self), microphone=(self), display-capture=(self), geolocation=(), "
                            b"payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """ASGI middleware: adds the headers an answer does not already name; HSTS only over TLS (the
    socket's, or a trusted proxy's word in X-Forwarded-Proto). `full=False` is the HLS set."""

    def __init__(self, app, proxies: TrustedProxies, full: bool = True) -> None:
        self.app = app
        self.proxies = proxies
        self.headers = COMMON + (PAGES + [(CSP, content_security_policy().encode())] if full else [])

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = self.proxies.scheme(scope) == "https"

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                named = {name.lower() for name, _ in headers}
                headers += [h for h in self.headers if h[0] not in named]
                if tls:
                    headers.append(HSTS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
