"""Where a document belongs, and so who may open, edit and manage it.

A lesson document lives in a **home**: a studio (kind "studio", registered here), or whatever another
part registers, such as an activity's breakout group for its notes (`sessions` registers that kind;
`collab` never imports `sessions`). A home kind is a resolver: given the document and the actor, it
answers the `Home`, the resource the policy judges and the policy actions for reading, editing and
managing, or None when the document's owner is gone (an unknown kind is no home either). Every door to
a document (the routes, the ticket, `/ws/docs`, the `doc:<id>` channel) asks `home_of` and then the
policy, so a new kind of owner brings its own rules without a branch in any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from collab import policy
from collab.auth.actor import Actor
from collab.docs.records import LessonDoc
from collab.studios.access import studio_access

STUDIO = "studio"


@dataclass(frozen=True)
class Home:
    resource: Any  # what the policy judges for `read` and `edit`
    read: str  # open the socket (edits arrive), versions, comments, exports
    edit: str  # send edits, comment, resolve, save and restore versions
    manage: str  # delete the document; delete anyone's comment
    # What `manage` judges for something a person made (the document: its creator), when ownership
    # matters to the home's rule; None (the default): `resource`, whoever made it.
    owned: Callable[[int | None], Any] | None = None
    outsider: str = "not allowed to open this document"  # the close reason (4003) for one who may not read

    def managed(self, owner_id: int | None = None) -> Any:
        """The resource `manage` judges for what `owner_id` made (None: someone else's, or nobody's)."""
        return self.resource if self.owned is None else self.owned(owner_id)

    def may(self, actor: Actor | None, action: str) -> bool:
        return policy.allowed(actor, action, self.resource)


Resolver = Callable[[AsyncSession, LessonDoc, Actor | None], Awaitable[Home | None]]

_RESOLVERS: dict[str, Resolver] = {}


def register(kind: str, resolver: Resolver) -> None:
    """A part's kind of home, once per process (at import or when the part installs)."""
    if len(kind) > 32:
        raise ValueError(f"home kind {kind!r}: at most 32 characters (lesson_docs.home)")
    if _RESOLVERS.get(kind, resolver) is not resolver:
        raise ValueError(f"home kind {kind!r} registered twice")
    _RESOLVERS[kind] = resolver


def kinds() -> list[str]:
    return sorted(_RESOLVERS)


async def home_of(db: AsyncSession, doc: LessonDoc, actor: Actor | None) -> Home | None:
    """The document's home as `actor` meets it; None: no such home (an unregistered kind, an owner gone)."""
    resolver = _RESOLVERS.get(doc.home)
    return None if resolver is None else await resolver(db, doc, actor)


async def find(db: AsyncSession, doc_id: int, actor: Actor | None) -> tuple[LessonDoc, Home] | None:
    """A document (without its content: the socket and channel checks load no snapshot) and its home;
    None when either is missing."""
    doc = (await db.execute(select(LessonDoc).where(LessonDoc.id == doc_id).options(
        load_only(LessonDoc.id, LessonDoc.home, LessonDoc.home_id, LessonDoc.studio_id, LessonDoc.created_by,
                  raiseload=True)))).scalar_one_or_none()
    home = None if doc is None else await home_of(db, doc, actor)
    return None if home is None else (doc, home)


def studio_home(access: policy.StudioAccess) -> Home:
    """A studio's document: its members read, its editors edit; its creator (while an editor) and those
    who run the studio delete it (doc.delete on the document as its creator's); those who run it
    delete anyone's comments (doc.delete on what is not theirs: the same people as studio.manage)."""
    return Home(access, "doc.read", "doc.edit", "doc.delete", owned=lambda owner: policy.Owned(access, owner),
                outsider="not a member of this studio")


async def _studio(db: AsyncSession, doc: LessonDoc, actor: Actor | None) -> Home | None:
    access = None if doc.studio_id is None else await studio_access(db, doc.studio_id, actor)
    return None if access is None else studio_home(access)


register(STUDIO, _studio)
