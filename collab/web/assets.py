"""The web client's static files, compressed once and revalidated.

Scripts and styles go out gzipped (the lesson editor's bundle is 428 KB as it is, about a quarter of
that compressed: it matters on a village school's line), compressed once per file per process rather
than per request, since ten thousand teachers open the same room page within a minute. Their names
carry no version, so browsers are told to revalidate (`no-cache` with the ETag) rather than to keep
a stale copy after a release."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

COMPRESSIBLE = {".js", ".css", ".html", ".svg", ".txt", ".json", ".map"}
REVALIDATE = "no-cache"


class Assets(StaticFiles):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._gzipped: dict[tuple[str, int, int], bytes] = {}

    def file_response(self, full_path: os.PathLike, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        request = Headers(scope=scope)
        if status_code != 200 or Path(full_path).suffix not in COMPRESSIBLE \
                or "gzip" not in request.get("accept-encoding", ""):
            response = super().file_response(full_path, stat_result, scope, status_code)
            response.headers["Cache-Control"] = REVALIDATE
            if Path(full_path).suffix in COMPRESSIBLE:
                response.headers["Vary"] = "Accept-Encoding"
            return response
        plain = super().file_response(full_path, stat_result, scope, status_code)
        # the compressed form is another representation: its own validator
        etag = plain.headers["etag"].rstrip('"') + '-gz"'
        headers = {"ETag": etag, "Last-Modified": plain.headers["last-modified"], "Cache-Control": REVALIDATE,
                   "Vary": "Accept-Encoding"}
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
