"""The studio resource library: lesson plans, slides, worksheets and videos.

A file is accepted only when its content says it is what its name claims: the type is read from the
magic bytes (the `filetype` library, plus the OLE container of legacy Office files and a UTF-8 check
for plain text), and the extension must be one that type may carry. An executable renamed `.pdf` is
refused. Files are stored under the resources directory, named by their SHA-256, so two uploads of
one file share the bytes; the database keeps title, kind, tags, name and type.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filetype
from sqlalchemy import select

from collab.errors import DomainError
from collab.studios.records import Resource

KINDS = ("lesson_plan", "slides", "worksheet", "video", "other")
MAX_TAGS = 10
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, .ppt, .xls (Office 97-2003)

# detected media type -> extensions a file of that type may have
ALLOWED: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("pptx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx",),
    "application/x-ole-storage": ("doc", "ppt", "xls"),
    "video/mp4": ("mp4", "m4v"),
    "video/quicktime": ("mov",),
    "video/webm": ("webm",),
    "video/x-matroska": ("webm", "mkv"),
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "audio/mpeg": ("mp3",),
    "text/plain": ("txt", "md"),
}


def sniff(head: bytes, filename: str) -> str:
    """The media type the content proves, checked against the name's extension."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if head.startswith(OLE_MAGIC):
        kind = "application/x-ole-storage"
    else:
        guess = filetype.guess(head)
        if guess is not None:
            kind = guess.mime
        elif b"\x00" not in head and _utf8_prefix(head):
            kind = "text/plain"
        else:
            raise DomainError("unsupported_type", "this kind of file is not accepted in the library")
    allowed = ALLOWED.get(kind)
    if allowed is None:
        raise DomainError("unsupported_type", f"files of type {kind} are not accepted in the library")
    if ext not in allowed:
        raise DomainError("type_mismatch", f"the content is {kind}, which does not match .{ext or '(none)'}")
    return kind


def _utf8_prefix(head: bytes) -> bool:
    for cut in range(4):  # the sniffed prefix may end inside a character
        try:
            head[: len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


def clean_filename(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip().replace("\x00", "")
    if not base or base in (".", "..") or len(base) > 200:
        raise DomainError("invalid", "filename: 1 to 200 characters")
    return base


def parse_tags(raw: Any) -> str:
    """"a, b ,c" or ["a", "b"] -> "|a|b|c|" (so one tag matches exactly with LIKE '%|a|%'). Chinese
    typists separate with ， or 、 as often as with a comma."""
    if isinstance(raw, str):
        raw = re.split(r"[,，、]", raw)
    items = raw if isinstance(raw, list) else None
    if items is None or not all(isinstance(t, str) for t in items):
        raise DomainError("invalid", "tags: a list of words")
    tags = list(dict.fromkeys(t.strip() for t in items if t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > 30 or "|" in t for t in tags):
        raise DomainError("invalid", f"tags: at most {MAX_TAGS}, each at most 30 characters, no '|'")
    return "|" + "|".join(tags) + "|" if tags else ""


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    media_type: str


async def store_upload(upload, filename: str, root: Path, max_bytes: int) -> Stored:
    """Copy an uploaded file into the library, hashing and counting as it goes. Nothing is left behind
    when it is refused."""
    root.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(1024 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise DomainError("too_large", f"files are at most {max_bytes} bytes")
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise DomainError("invalid", "the file is empty")
        media_type = sniff(head, filename)
        sha = digest.hexdigest()
        final = path_of(root, sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_name, final)
        return Stored(sha, size, media_type)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def path_of(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


async def search(db, studio_id: int, q: str = "", tag: str = "", kind: str = "", limit: int = 200) -> list[Resource]:
    query = select(Resource).where(Resource.studio_id == studio_id).order_by(Resource.id.desc())
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Resource.title.ilike(like, escape="\\") | Resource.tags.ilike(like, escape="\\"))
    if tag:
        query = query.where(Resource.tags.like("%|" + tag.replace("%", "").replace("_", "") + "|%"))
    if kind:
        query = query.where(Resource.kind == kind)
    return list((await db.execute(query.limit(limit))).scalars())


def resource_json(r: Resource, uploader: str = "") -> dict[str, Any]:
    return {"id": r.id, "studio_id": r.studio_id, "title": r.title, "kind": r.kind,
            "tags": [t for t in r.tags.split("|") if t], "filename": r.filename, "media_type": r.media_type,
            "size": r.size, "uploaded_by": {"id": r.uploaded_by, "name": uploader},
            "created_at": r.created_at.isoformat(), "download": f"/api/resources/{r.id}/download"}
