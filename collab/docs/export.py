"""Markdown and HTML from the document's rich text (the Quill-delta structure of collab.docs.template).

Lines are cut at "\\n"; a line's format (header 1-3, ordered or bullet list) sits on its "\\n". Text is
escaped for the format it lands in: user text never becomes markup, in either export."""

from __future__ import annotations

import html
import re
from typing import Any

Run = tuple[str, dict[str, Any] | None]


def lines(delta: list[Run]) -> list[tuple[list[Run], dict[str, Any]]]:
    """[(inline runs, line attributes)]; a trailing line without "\\n" gets no attributes."""
    out: list[tuple[list[Run], dict[str, Any]]] = []
    current: list[Run] = []
    for text, attrs in delta:
        if not isinstance(text, str):
            continue  # embeds (images) are not exported yet
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if part:
                current.append((part, attrs))
            if i < len(parts) - 1:
                out.append((current, dict(attrs or {})))
                current = []
    if current:
        out.append((current, {}))
    return out


def _header(attrs: dict[str, Any]) -> int:
    try:
        level = int(attrs.get("header") or 0)
    except (TypeError, ValueError):
        return 0
    return level if 1 <= level <= 6 else 0


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_MD_LINE_START = re.compile(r"^(\s*)(?:([#>+-])|(\d+)([.)]))")  # would make a paragraph a heading or list


def _md_line_start(m: re.Match) -> str:
    if m.group(2):
        return m.group(1) + "\\" + m.group(2)
    return m.group(1) + m.group(3) + "\\" + m.group(4)


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_inline(runs: list[Run]) -> str:
    out = []
    for text, attrs in runs:
        a = attrs or {}
        s = _md_escape(text)
        if a.get("code"):
            s = "`" + text.replace("`", "'") + "`"
        if a.get("bold"):
            s = f"**{s}**"
        if a.get("italic"):
            s = f"*{s}*"
        if a.get("strike"):
            s = f"~~{s}~~"
        link = a.get("link")
        if isinstance(link, str) and _safe_url(link):
            s = f"[{s}]({link.replace(')', '%29').replace(' ', '%20')})"
        out.append(s)
    return "".join(out)


def to_markdown(delta: list[Run]) -> str:
    """Blocks separated by a blank line (Markdown joins adjacent lines), list items kept together."""
    out: list[str] = []
    number, previous = 0, None
    for runs, attrs in lines(delta):
        body = _MD_LINE_START.sub(_md_line_start, _md_inline(runs))
        level, kind = _header(attrs), attrs.get("list")
        number = number + 1 if kind == "ordered" else 0
        if level:
            line = "#" * level + " " + body
        elif kind == "ordered":
            line = f"{number}. {body}"
        elif kind in ("bullet", "unchecked", "checked"):
            line = "- " + body
        else:
            line = body
        if out and not (kind and kind == previous):
            out.append("")
        out.append(line)
        previous = kind
    return "\n".join(out).strip() + "\n"


def _safe_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://", "mailto:"))


def _html_inline(runs: list[Run]) -> str:
    out = []
    for text, attrs in runs:
        a = attrs or {}
        s = html.escape(text)
        for key, tag in (("code", "code"), ("bold", "strong"), ("italic", "em"), ("underline", "u"),
                         ("strike", "s")):
            if a.get(key):
                s = f"<{tag}>{s}</{tag}>"
        link = a.get("link")
        if isinstance(link, str) and _safe_url(link):
            s = f'<a href="{html.escape(link, quote=True)}" rel="noopener noreferrer">{s}</a>'
        out.append(s)
    return "".join(out)


def to_html(delta: list[Run], title: str = "") -> str:
    body, open_list = [], None
    for runs, attrs in lines(delta):
        kind = attrs.get("list")
        tag = "ol" if kind == "ordered" else "ul" if kind in ("bullet", "unchecked", "checked") else None
        if tag != open_list:
            if open_list:
                body.append(f"</{open_list}>")
            if tag:
                body.append(f"<{tag}>")
            open_list = tag
        inner = _html_inline(runs)
        level = _header(attrs)
        if tag:
            body.append(f"<li>{inner}</li>")
        elif level:
            body.append(f"<h{level}>{inner}</h{level}>")
        else:
            body.append(f"<p>{inner or '<br>'}</p>")
    if open_list:
        body.append(f"</{open_list}>")
    return ("<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")
