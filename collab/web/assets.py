"""The web client's static files, compressed once and revalidated.

Scripts and styles go out gzipped (the lesson editor's bundle is 428 KB as it is, about a quarter of
that compressed: it matters on a village school's line), compressed once per file per process rather
than per request, since ten thousand teachers open the same room page within a minute. Pages link
them by `asset_url`, with a digest of the content in the query: such a URL never changes meaning, so
browsers keep it for a year without asking; a release changes the digest. A URL without the digest
(someone's bookmark, an old page) is revalidated (`no-cache` with the ETag) instead.

ES modules import each other by relative URL (`import "./stage/view.js"`), which a browser resolves
without the importer's query: the digest would be lost and every module revalidated on every visit.
A page that loads modules puts `scripts.import_map(...)` (collab/web/pages.py: a `<script
type="importmap">` its CSP admits by hash) before them: it maps each module's plain URL to its digest
URL, so the whole graph is kept for good too."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

COMPRESSIBLE = {".js", ".css", ".html", ".svg", ".txt", ".json", ".map"}
REVALIDATE = "no-cache"
FOREVER = "public, max-age=31536000, immutable"
STATIC = Path(__file__).resolve().parents[2] / "webclient" / "static"
_digests: dict[str, tuple[int, str]] = {}


def _digest(name: str, mtime_ns: int) -> str:
    """The digest of a file's content, read again only when the file changes."""
    known = _digests.get(name)
    if known is None or known[0] != mtime_ns:
        known = (mtime_ns, hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12])
        _digests[name] = known
    return known[1]


class AssetUrls:
    """The templates' `asset`: `asset('page.js')` is a file's URL, `asset.import_map('stage.js', 'stage')`
    the import map of those modules (files, or every script in a folder)."""

    def __call__(self, name: str) -> str:
        """/static/<name>?v=<digest of its content>."""
        return f"/static/{name}?v={_digest(name, (STATIC / name).stat().st_mtime_ns)}"

    def import_map(self, *names: str) -> dict[str, dict[str, str]]:
        """{"imports": {"/static/<module>": "/static/<module>?v=<digest>", ...}} for the modules named and
        those in the folders named: a relative import resolves to the plain URL, the map turns it
        into the digest URL (and the page's own <script src> of a module is that same URL, so it is
        one module, not two)."""
        modules: list[str] = []
        for name in names:
            path = STATIC / name
            found = sorted(path.rglob("*.js")) if path.is_dir() else [path]
            modules += [p.relative_to(STATIC).as_posix() for p in found]
        return {"imports": {f"/static/{m}": self(m) for m in modules}}


asset_url = AssetUrls()


def _caching(scope: Scope, full_path: os.PathLike, st: os.stat_result) -> str:
    """Forever only when the digest asked for is this file's: during a rolling release a node with the
    old file must not let a browser keep it under the new file's URL."""
    asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [""])[0]
    if not asked:
        return REVALIDATE
    return FOREVER if asked == _digest(os.path.relpath(full_path, STATIC), st.st_mtime_ns) else REVALIDATE


class Assets(StaticFiles):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._gzipped: dict[tuple[str, int, int], bytes] = {}

    def file_response(self, full_path: os.PathLike, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        request = Headers(scope=scope)
        compressible = Path(full_path).suffix in COMPRESSIBLE
        if status_code != 200 or not compressible or "gzip" not in request.get("accept-encoding", ""):
            response = super().file_response(full_path, stat_result, scope, status_code)
            response.headers["Cache-Control"] = _caching(scope, full_path, stat_result)
            if compressible:
                response.headers["Vary"] = "Accept-Encoding"
            return response
        # the plain file's validators and type (not super's answer: that may be a 304 for the plain form)
        plain = FileResponse(full_path, stat_result=stat_result)
        # the compressed form is another representation: its own validator
        etag = plain.headers["etag"].rstrip('"') + '-gz"'
        headers = {"ETag": etag, "Last-Modified": plain.headers["last-modified"],
                   "Cache-Control": _caching(scope, full_path, stat_result), "Vary": "Accept-Encoding"}
        if etag in [t.strip() for t in request.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return Response(self._compressed(str(full_path), stat_result), status_code,
                        media_type=plain.media_type, headers={**headers, "Content-Encoding": "gzip"})

    def _compressed(self, path: str, st: os.stat_result) -> bytes:
        key = (path, st.st_mtime_ns, st.st_size)
        body = self._gzipped.get(key)
        if body is None:
            with open(path, "rb") as f:
                body = gzip.compress(f.read(), compresslevel=9, mtime=0)
            self._gzipped = {k: v for k, v in self._gzipped.items() if k[0] != path}  # an older copy goes
            self._gzipped[key] = body
        return body
