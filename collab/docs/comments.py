"""Comments anchored to text ranges.

The anchor is in the document itself: the commented range carries the formatting attribute
`comment_<id>` (true). Like bold, it moves with every edit around it, on every client and node, and
needs no position bookkeeping on the server; an editor shows it as a highlight. The thread (body,
replies, resolved) is a record in the database. Deleting a thread removes its mark; a restore to a
version older than the comment removes it too, and the thread then shows its quote as "detached".

Why not Yjs relative positions: pycrdt counts UTF-8 bytes and its sticky indexes land on wrong items
in Chinese text, which is all of this platform's text.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Text

from collab.docs.text import utf16_len, utf16_to_bytes
from collab.errors import DomainError

PREFIX = "comment_"


def mark(comment_id: int) -> str:
    return f"{PREFIX}{comment_id}"


def add_mark(text: Text, start: int, end: int, comment_id: int) -> str:
    """Mark UTF-16 range [start, end) for `comment_id`; returns the quoted text."""
    s = str(text)
    if not 0 <= start < end <= utf16_len(s):
        raise DomainError("invalid", "the range must be inside the text and not empty")
    b0, b1 = utf16_to_bytes(s, start), utf16_to_bytes(s, end)
    text.format(b0, b1, {mark(comment_id): True})
    return s.encode()[b0:b1].decode()


def remove_mark(text: Text, comment_id: int) -> None:
    key = mark(comment_id)
    pos = 0
    for chunk, attrs in text.diff():
        n = len(chunk.encode()) if isinstance(chunk, str) else 1
        if attrs and attrs.get(key):
            text.format(pos, pos + n, {key: None})
        pos += n


def ranges(delta: list[tuple[Any, dict | None]]) -> dict[int, tuple[int, int]]:
    """comment id -> its current UTF-16 range (from its first to its last marked character)."""
    out: dict[int, tuple[int, int]] = {}
    pos = 0
    for chunk, attrs in delta:
        n = utf16_len(chunk) if isinstance(chunk, str) else 1
        for key, value in (attrs or {}).items():
            if value and key.startswith(PREFIX) and key[len(PREFIX):].isdigit():
                cid = int(key[len(PREFIX):])
                start, _ = out.get(cid, (pos, pos))
                out[cid] = (start, pos + n)
        pos += n
    return out


def without_marks(delta: list[tuple[Any, dict | None]]) -> list[tuple[Any, dict | None]]:
    """The delta as exports and versions' views show it: comment marks are not formatting."""
    return [(c, {k: v for k, v in (a or {}).items() if not k.startswith(PREFIX)} or None) for c, a in delta]
