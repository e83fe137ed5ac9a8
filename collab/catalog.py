"""Subjects and grades: the codes stored and the names people type.

The pages store codes (`math`, `8`) and show names (数学, 八年级); free text is kept as typed. A filter
should find an activity or a studio whichever of the two it was given or stored with, so it asks for
every spelling of the value (`spellings("八年级") == {"八年级", "8", "Grade 8"}`). The names mirror
`webclient/static/page.js` (SUBJECTS, GRADES_ZH)."""

from __future__ import annotations

SUBJECTS = {
    "math": ("数学", "Maths"), "chinese": ("语文", "Chinese"), "english": ("英语", "English"),
    "physics": ("物理", "Physics"), "chemistry": ("化学", "Chemistry"), "biology": ("生物", "Biology"),
    "history": ("历史", "History"), "geography": ("地理", "Geography"), "politics": ("道德与法治", "Ethics and law"),
    "science": ("科学", "Science"), "music": ("音乐", "Music"), "art": ("美术", "Art"), "pe": ("体育", "PE"),
    "it": ("信息科技", "IT"),
}
GRADES = {str(n): (zh, f"Grade {n}") for n, zh in enumerate(
    ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "七年级", "八年级", "九年级", "高一", "高二", "高三"], 1)}

_GROUPS = [{code, *names} for table in (SUBJECTS, GRADES) for code, names in table.items()]
_BY_SPELLING = {spelling.casefold(): group for group in _GROUPS for spelling in group}


def spellings(value: str) -> set[str]:
    """Every stored form that means the same subject or grade as `value` (itself when unknown)."""
    value = value.strip()
    return {value, *_BY_SPELLING.get(value.casefold(), ())}
