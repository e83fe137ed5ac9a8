"""Document homes (collab/docs/homes.py): the registry, the studio home's rules (the same answers as the
studio checks they replaced, for every role), and the group-notes template read back as an editor would."""

from __future__ import annotations

import itertools

import pytest
from pycrdt import Doc, Text

from collab import policy
from collab.auth.actor import Actor
from collab.docs import homes
from collab.docs.homes import Home
from collab.docs.records import LessonDoc
from collab.docs.template import CONTENT, SECTIONS, group_notes, lesson_plan
from collab.policy import StudioAccess

LEADER, CO, MEMBER, OBSERVER, STRANGER, ADMIN = (Actor(1, "teacher"), Actor(2, "teacher"), Actor(3, "teacher"),
                                                 Actor(4, "teacher"), Actor(5, "teacher"), Actor(6, "admin"))
ROLES = {LEADER: "leader", CO: "co_leader", MEMBER: "member", OBSERVER: "observer"}
ACTORS = (LEADER, CO, MEMBER, OBSERVER, STRANGER, ADMIN, None, Actor(0, "service", key_id=1,
                                                                   scopes=frozenset({"activities:read"})))


def access_for(actor: Actor | None) -> StudioAccess:
    return StudioAccess(LEADER.user_id, ROLES.get(actor) if actor else None)


async def test_a_registered_kind_answers_for_its_documents_and_an_unknown_kind_is_no_home():
    seen = []

    async def notes(db, doc: LessonDoc, actor):
        seen.append((doc.home_id, actor))
        return None if doc.home_id == 404 else Home(("group", doc.home_id), "x.read", "x.edit", "x.manage")

    homes.register("unit-notes", notes)
    home = await homes.home_of(None, LessonDoc(home="unit-notes", home_id=7), MEMBER)
    assert home == Home(("group", 7), "x.read", "x.edit", "x.manage") and seen == [(7, MEMBER)]
    assert await homes.home_of(None, LessonDoc(home="unit-notes", home_id=404), MEMBER) is None  # owner gone
    assert await homes.home_of(None, LessonDoc(home="unit-nobody", home_id=7), MEMBER) is None
    assert {"studio", "unit-notes"} <= set(homes.kinds())


def test_a_kind_is_registered_once_and_fits_its_column():
    async def one(db, doc, actor):
        return None

    async def other(db, doc, actor):
        return None

    homes.register("unit-once", one)
    homes.register("unit-once", one)  # the same part installing again (a second app in one process)
    with pytest.raises(ValueError, match="twice"):
        homes.register("unit-once", other)
    with pytest.raises(ValueError, match="32"):
        homes.register("x" * 33, one)
    with pytest.raises(ValueError, match="twice"):
        homes.register("studio", one)  # collab/docs registers studios itself


def test_managed_is_the_resource_unless_the_home_says_ownership_matters():
    plain = Home("group", "r", "e", "m")
    assert plain.managed(3) == plain.managed(None) == "group"
    owned = Home("group", "r", "e", "m", owned=lambda owner: ("group", owner))
    assert owned.managed(3) == ("group", 3) and owned.managed() == ("group", None)


@pytest.mark.parametrize("actor,creator", list(itertools.product(ACTORS, (LEADER, MEMBER, OBSERVER, STRANGER))))
def test_the_studio_home_answers_exactly_as_the_studio_checks_it_replaced(actor, creator):
    access = access_for(actor)
    home = homes.studio_home(access)
    assert home.may(actor, home.read) == policy.allowed(actor, "doc.read", access)
    assert home.may(actor, home.edit) == policy.allowed(actor, "doc.edit", access)
    # deleting the document: doc.delete on the document as its creator's
    assert policy.allowed(actor, home.manage, home.managed(creator.user_id)) == \
        policy.allowed(actor, "doc.delete", policy.Owned(access, creator.user_id))
    # deleting anyone's comment was studio.manage
    assert policy.allowed(actor, home.manage, home.managed(None)) == policy.allowed(actor, "studio.manage", access)


def test_the_studio_home_lets_the_roles_do_what_docs_documents_say():
    def can(actor, need):
        home = homes.studio_home(access_for(actor))
        return home.may(actor, getattr(home, need))

    assert [a for a in ACTORS if can(a, "read")] == [LEADER, CO, MEMBER, OBSERVER, ADMIN]
    assert [a for a in ACTORS if can(a, "edit")] == [LEADER, CO, MEMBER, ADMIN]
    assert homes.studio_home(access_for(STRANGER)).outsider == "not a member of this studio"


def lines(state: bytes) -> list[tuple[str, dict]]:
    """The document as an editor shows it: each line's text and its line format."""
    doc = Doc()
    doc.apply_update(state)
    out, current = [], ""
    for chunk, attrs in doc.get(CONTENT, type=Text).diff():
        for i, part in enumerate(chunk.split("\n")):
            if i > 0:
                out.append((current, attrs or {}))
                current = ""
            current += part
    assert current == ""  # every line ends with its newline
    return out


def test_group_notes_have_the_title_then_each_question_then_the_conclusions_with_room_to_answer():
    questions = ["本节课的教学目标达成了吗？", "学生的参与度如何？\n请举例。", "有哪些可以改进的地方？"]
    assert lines(group_notes("第1组 研讨记录", questions)) == [
        ("第1组 研讨记录", {"header": 1}),
        ("本节课的教学目标达成了吗？", {"header": 2}), ("", {}),
        ("学生的参与度如何？ 请举例。", {"header": 2}), ("", {}),  # a heading stays one line
        ("有哪些可以改进的地方？", {"header": 2}), ("", {}),
        ("小组结论 (Conclusions)", {"header": 2}), ("", {}),
    ]


def test_group_notes_without_questions_still_have_the_conclusions():
    assert lines(group_notes("第2组", [])) == [("第2组", {"header": 1}), ("小组结论 (Conclusions)", {"header": 2}),
                                              ("", {})]


def test_the_lesson_plan_template_is_unchanged_by_the_shared_line_writer():
    assert lines(lesson_plan("分数的意义")) == [("分数的意义", {"header": 1})] + [
        line for heading, prompt in SECTIONS
        for line in [(heading, {"header": 2}), *((p, {}) for p in prompt.split("\n"))]]
