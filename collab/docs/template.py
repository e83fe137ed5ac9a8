"""The templates new documents start from, in the document structure every editor uses: a studio's
lesson plan, and a breakout group's notes.

Structure (docs/documents.md): one `Y.Text` named "content" holding rich text the way Quill's delta
does. Inline formats (bold, italic, underline, link) are attributes on characters; line formats
(header: 1-3, list: "ordered" | "bullet") are attributes on the line's closing "\\n".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pycrdt import Doc, Text

CONTENT = "content"

# (heading, prompt) in Chinese with the English in brackets: the platform's teachers read Chinese.
SECTIONS = [
    ("教学目标 (Objectives)", "知识与技能、过程与方法、情感态度与价值观。"),
    ("教学重点与难点 (Key and difficult points)", "重点：\n难点："),
    ("教学过程 (Teaching process)", "导入 → 新授 → 练习 → 小结，每个环节写明师生活动与设计意图。"),
    ("练习设计 (Exercises)", "基础题、提高题、拓展题。"),
    ("教学反思 (Reflection)", "课后填写：目标达成情况、学生表现、改进之处。"),
]


def _lines(text: Text) -> Callable[..., None]:
    """Appends lines to `text`: a line's format goes on its closing newline."""
    pos = len(text)  # pycrdt counts UTF-8 bytes; Yjs clients count UTF-16 units (collab.docs.text)

    def line(body: str, attrs: dict | None = None) -> None:
        nonlocal pos
        if body:
            text.insert(pos, body, {})  # {}: no formatting, not the formatting of what precedes
            pos += len(body.encode())
        text.insert(pos, "\n", attrs or {})
        pos += 1

    return line


def write_template(text: Text, title: str) -> None:
    line = _lines(text)
    line(title, {"header": 1})
    for heading, prompt in SECTIONS:
        line(heading, {"header": 2})
        for p in prompt.split("\n"):
            line(p)


CONCLUSIONS = "小组结论 (Conclusions)"


def write_group_notes(text: Text, title: str, questions: Sequence[str]) -> None:
    """The title, then each guiding question as a level-2 heading with an empty line under it for the
    group's answer, then the conclusions heading with its empty line."""
    line = _lines(text)
    line(_one_line(title), {"header": 1})
    for heading in (*questions, CONCLUSIONS):
        line(_one_line(heading), {"header": 2})
        line("")


def _one_line(s: str) -> str:
    return " ".join(s.split())  # a heading is one line: a newline inside it would end it early


def group_notes(title: str, questions: Sequence[str]) -> bytes:
    """A group's notes' first state, as one Yjs update."""
    doc = Doc()
    text = doc.get(CONTENT, type=Text)
    with doc.transaction():
        write_group_notes(text, title, questions)
    return doc.get_update()


def lesson_plan(title: str) -> bytes:
    """A new document's first state, as one Yjs update."""
    doc = Doc()
    text = doc.get(CONTENT, type=Text)
    with doc.transaction():
        write_template(text, title)
    return doc.get_update()


def blank() -> bytes:
    doc = Doc()
    doc.get(CONTENT, type=Text)
    return doc.get_update()
