"""Documents outside the live socket: create, list, versions, comments, exports. Every function asks the
policy through `guarded` first, with the actions the document's home names (collab/docs/homes.py).
Changes to the content (a restore, a comment's mark) are made in the node's open room, so they are
stored and reach every open client like anyone's edit."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pycrdt import Doc, Text
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab import policy
from collab.auth.actor import Actor
from collab.docs import comments as marks
from collab.docs import homes, store
from collab.docs.export import to_html, to_markdown
from collab.docs.homes import Home
from collab.docs.records import DocComment, DocVersion, LessonDoc
from collab.docs.template import CONTENT, blank, lesson_plan
from collab.docs.versions import restore, text_of
from collab.errors import DomainError
from collab.store.models import User
from collab.studios.access import studio_access

MAX_COMMENT = 2000

Need = Literal["read", "edit", "manage"]


async def guarded(db: AsyncSession, doc_id: int, actor: Actor | None, need: Need) -> tuple[LessonDoc, Home]:
    """The document, if `actor` may `need` it: the home names the policy's action for each (a studio's
    are doc.read, doc.edit, and doc.delete on the document as its creator's). A document whose home is
    gone, or of a kind this node does not know, is no document (not_found)."""
    doc = await db.get(LessonDoc, doc_id)
    home = None if doc is None else await homes.home_of(db, doc, actor)
    if home is None:
        raise DomainError("not_found", "no such document")
    if need == "manage":
        policy.authorize(actor, home.manage, home.managed(doc.created_by))
    else:
        policy.authorize(actor, home.read if need == "read" else home.edit, home.resource)
    return doc, home


def may_manage_all(actor: Actor | None, home: Home) -> bool:
    """Delete anyone's comments: `manage` for what nobody in particular made (studios: the leaders)."""
    return policy.allowed(actor, home.manage, home.managed(None))


def _title(data: dict[str, Any]) -> str:
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise DomainError("invalid", "title: 1 to 200 characters")
    return title.strip()


async def create(db: AsyncSession, actor: Actor | None, studio_id: int, data: dict[str, Any]) -> LessonDoc:
    access = await studio_access(db, studio_id, actor)
    if access is None:
        raise DomainError("not_found", "no such studio")
    policy.authorize(actor, "doc.create", access)
    title = _title(data)
    template = data.get("template", True)
    if not isinstance(template, bool):
        raise DomainError("invalid", "template is true (the lesson-plan template) or false (blank)")
    doc = LessonDoc(studio_id=studio_id, home=homes.STUDIO, title=title, created_by=actor.user_id,
                    snapshot=lesson_plan(title) if template else blank(), snapshot_upto=0)
    db.add(doc)
    await db.commit()
    return doc


async def create_in_home(db: AsyncSession, home: str, home_id: int, title: str, created_by: int,
                         snapshot: bytes, commit: bool = True) -> LessonDoc:
    """A document of another part's home (a group's notes). No policy check here: the owning part asked
    its own rule before (who may open a group's notes is the group's business). Committed unless the
    caller commits it with its own change (`commit=False`: flushed, so it has its id)."""
    if home == homes.STUDIO:
        raise ValueError("studio documents are made by create(), with their studio_id")
    doc = LessonDoc(studio_id=None, home=home, home_id=home_id, title=title[:200], created_by=created_by,
                    snapshot=snapshot, snapshot_upto=0)
    db.add(doc)
    await (db.commit() if commit else db.flush())
    return doc


async def listing(db: AsyncSession, studio_id: int) -> list[tuple[LessonDoc, str]]:
    rows = await db.execute(select(LessonDoc, User.display_name).join(User, User.id == LessonDoc.created_by)
                            .where(LessonDoc.studio_id == studio_id, LessonDoc.home == homes.STUDIO)
                            .order_by(LessonDoc.updated_at.desc()))
    return [(d, n) for d, n in rows.all()]


def doc_json(d: LessonDoc, creator: str = "") -> dict[str, Any]:
    return {"id": d.id, "studio_id": d.studio_id, "title": d.title, "created_by": {"id": d.created_by, "name": creator},
            "created_at": d.created_at.isoformat(), "updated_at": d.updated_at.isoformat(),
            "socket": f"/ws/docs/{d.id}"}


async def current_state(rooms, db: AsyncSession, doc_id: int) -> bytes:
    """The document as it is now: the open room's copy when this node has it, else the stored one."""
    room = rooms.rooms.get(doc_id)
    if room is not None:
        return room.doc.get_update()
    s = await store.load(db, doc_id)
    return store.merge_state(s.snapshot, s.updates) if s else b""


def render(state: bytes, title: str) -> dict[str, Any]:
    delta = marks.without_marks(text_of(state).diff())
    return {"text": "".join(c for c, _ in delta if isinstance(c, str)), "markdown": to_markdown(delta),
            "html": to_html(delta, title)}


async def delete(rooms, db: AsyncSession, actor: Actor | None, doc_id: int) -> None:
    """Its creator, or those who run the studio (the home's `manage`). Open editors everywhere are
    closed with 4004."""
    doc, _ = await guarded(db, doc_id, actor, "manage")
    await db.delete(doc)
    await db.commit()
    await rooms.deleted(doc_id)


# -- versions --------------------------------------------------------------------------------------


async def save_version(rooms, db: AsyncSession, actor: Actor | None, doc_id: int, name: Any) -> DocVersion:
    await guarded(db, doc_id, actor, "edit")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise DomainError("invalid", "name: 1 to 100 characters")
    version = DocVersion(doc_id=doc_id, name=name.strip(), state=await current_state(rooms, db, doc_id),
                         created_by=actor.user_id, created_at=datetime.now(timezone.utc))
    db.add(version)
    await db.commit()
    return version


async def versions(db: AsyncSession, doc_id: int) -> list[tuple[DocVersion, str]]:
    rows = await db.execute(select(DocVersion, User.display_name).join(User, User.id == DocVersion.created_by)
                            .where(DocVersion.doc_id == doc_id).order_by(DocVersion.id.desc()))
    return [(v, n) for v, n in rows.all()]


def version_json(v: DocVersion, by: str = "") -> dict[str, Any]:
    return {"id": v.id, "name": v.name, "created_by": {"id": v.created_by, "name": by},
            "created_at": v.created_at.isoformat(), "bytes": len(v.state)}


async def version(db: AsyncSession, doc_id: int, version_id: int) -> DocVersion:
    v = await db.get(DocVersion, version_id)
    if v is None or v.doc_id != doc_id:
        raise DomainError("not_found", "no such version")
    return v


async def restore_version(rooms, db: AsyncSession, actor: Actor | None, doc_id: int, version_id: int) -> None:
    await guarded(db, doc_id, actor, "edit")
    v = await version(db, doc_id, version_id)
    target = text_of(v.state).diff()
    room = await rooms.open(doc_id)
    room.change(lambda text: restore(text, target))
    await room.flush()  # stored before the caller is told it is done


# -- comments --------------------------------------------------------------------------------------


def _body(data: dict[str, Any]) -> str:
    body = data.get("body")
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_COMMENT:
        raise DomainError("invalid", f"body: 1 to {MAX_COMMENT} characters")
    return body.strip()


async def add_comment(rooms, db: AsyncSession, actor: Actor | None, doc_id: int, data: dict[str, Any]) -> DocComment:
    """A new thread on UTF-16 range [start, end), or a reply (parent_id)."""
    await guarded(db, doc_id, actor, "edit")
    body = _body(data)
    now = datetime.now(timezone.utc)
    parent_id = data.get("parent_id")
    if parent_id is not None:
        parent = await db.get(DocComment, parent_id) if type(parent_id) is int else None
        if parent is None or parent.doc_id != doc_id or parent.parent_id is not None:
            raise DomainError("invalid", "parent_id must be a thread of this document")
        c = DocComment(doc_id=doc_id, parent_id=parent_id, user_id=actor.user_id, body=body, resolved=False,
                       quote="", created_at=now)
        db.add(c)
        await db.commit()
        return c
    start, end = data.get("start"), data.get("end")
    if type(start) is not int or type(end) is not int:
        raise DomainError("invalid", "start and end: positions in the text (UTF-16 units, as Yjs counts)")
    c = DocComment(doc_id=doc_id, user_id=actor.user_id, body=body, resolved=False, quote="", created_at=now,
                   anchor={"mark": "pending"})
    db.add(c)
    await db.flush()  # the id names the mark
    room = await rooms.open(doc_id)
    quoted: list[str] = []

    def anchor(text: Text) -> None:
        quoted.append(marks.add_mark(text, start, end, c.id))

    try:
        room.change(anchor)
    except DomainError:  # the range is not in the text: nothing of the comment is kept
        await db.rollback()
        raise
    c.quote, c.anchor = quoted[0][:500], {"mark": marks.mark(c.id)}
    await db.commit()
    await room.flush()
    return c


async def comment_of(db: AsyncSession, doc_id: int, comment_id: int) -> DocComment:
    c = await db.get(DocComment, comment_id)
    if c is None or c.doc_id != doc_id:
        raise DomainError("not_found", "no such comment")
    return c


async def resolve(db: AsyncSession, actor: Actor | None, doc_id: int, comment_id: int, resolved: Any) -> DocComment:
    await guarded(db, doc_id, actor, "edit")
    if not isinstance(resolved, bool):
        raise DomainError("invalid", "resolved is true or false")
    c = await comment_of(db, doc_id, comment_id)
    if c.parent_id is not None:
        raise DomainError("invalid", "resolve the thread, not a reply")
    c.resolved, c.resolved_by = resolved, (actor.user_id if resolved else None)
    await db.commit()
    return c


async def delete_comment(rooms, db: AsyncSession, actor: Actor | None, doc_id: int, comment_id: int) -> None:
    """Its author (who may still edit), or whoever manages the document whatever its owner (in a studio,
    those who run it); a thread goes with its replies and its mark."""
    _, home = await guarded(db, doc_id, actor, "read")
    c = await comment_of(db, doc_id, comment_id)
    if not (c.user_id == actor.user_id and home.may(actor, home.edit)) and not may_manage_all(actor, home):
        raise policy.Denied("forbidden", "doc.comment.delete")
    if c.parent_id is None and c.anchor:
        room = await rooms.open(doc_id)
        room.change(lambda text: marks.remove_mark(text, c.id))
        await room.flush()
    await db.delete(c)
    await db.commit()


async def threads(rooms, db: AsyncSession, doc_id: int) -> list[dict[str, Any]]:
    rows = (await db.execute(select(DocComment, User.display_name).join(User, User.id == DocComment.user_id)
                             .where(DocComment.doc_id == doc_id).order_by(DocComment.id))).all()
    doc = Doc()
    state = await current_state(rooms, db, doc_id)
    if state:
        doc.apply_update(state)
    where = marks.ranges(doc.get(CONTENT, type=Text).diff())
    out: dict[int, dict[str, Any]] = {}
    for c, name in rows:
        item = {"id": c.id, "user": {"id": c.user_id, "name": name}, "body": c.body, "at": c.created_at.isoformat()}
        if c.parent_id is None:
            span = where.get(c.id)
            out[c.id] = {**item, "quote": c.quote, "resolved": c.resolved, "replies": [],
                         "range": {"start": span[0], "end": span[1]} if span else None,
                         "detached": span is None}
        elif c.parent_id in out:
            out[c.parent_id]["replies"].append(item)
    return list(out.values())

