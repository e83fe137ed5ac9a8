"""Named versions: save the whole state under a name, list, view, restore.

A restore is an ordinary edit made by the server, so every open client receives it and it can itself
be undone by restoring another version. It changes as little as it can: the text the two states share
at the start and at the end is kept (with comments anchored there), only the middle is replaced, and
formatting is corrected where it differs.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, Text

from collab.docs.template import CONTENT

Run = tuple[str, dict[str, Any] | None]


def text_of(state: bytes) -> Text:
    doc = Doc()
    if state:
        doc.apply_update(state)
    return doc.get(CONTENT, type=Text)


def _chars(delta: list[Run]) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and each character's attributes (embeds dropped)."""
    out, attrs = [], []
    for text, a in delta:
        if isinstance(text, str):
            out.append(text)
            attrs.extend([dict(a or {})] * len(text))
    return "".join(out), attrs


def _runs(chars: str, attrs: list[dict[str, Any]], start: int, end: int):
    """Maximal runs of equal attributes in chars[start:end]: (start, end, attrs)."""
    i = start
    while i < end:
        j = i + 1
        while j < end and attrs[j] == attrs[i]:
            j += 1
        yield i, j, attrs[i]
        i = j


def restore(text: Text, target: list[Run]) -> None:
    """Make `text` (inside the caller's transaction) equal to the `target` delta."""
    cur, cur_attrs = _chars(text.diff())
    tgt, tgt_attrs = _chars(target)
    p = 0
    while p < len(cur) and p < len(tgt) and cur[p] == tgt[p]:
        p += 1
    s = 0
    while s < len(cur) - p and s < len(tgt) - p and cur[-1 - s] == tgt[-1 - s]:
        s += 1
    start_b = len(cur[:p].encode())  # pycrdt positions are UTF-8 bytes (collab.docs.text)
    old_mid_b = len(cur[p:len(cur) - s].encode())
    if old_mid_b:
        del text[start_b:start_b + old_mid_b]
    pos = start_b
    for a, b, attrs in _runs(tgt, tgt_attrs, p, len(tgt) - s):
        piece = tgt[a:b]
        text.insert(pos, piece, attrs or {})
        pos += len(piece.encode())
    # kept prefix and suffix: same characters, perhaps other formatting
    kept = [(i, i) for i in range(p)] + [(len(cur) - s + k, len(tgt) - s + k) for k in range(s)]
    i = 0
    while i < len(kept):
        ci, ti = kept[i]
        if cur_attrs[ci] == tgt_attrs[ti]:
            i += 1
            continue
        j = i + 1
        while j < len(kept) and kept[j][0] == kept[j - 1][0] + 1 and kept[j][1] == kept[j - 1][1] + 1 \
                and cur_attrs[kept[j][0]] != tgt_attrs[kept[j][1]] and tgt_attrs[kept[j][1]] == tgt_attrs[ti] \
                and cur_attrs[kept[j][0]] == cur_attrs[ci]:
            j += 1
        want = dict(tgt_attrs[ti])
        for key in cur_attrs[ci]:
            want.setdefault(key, None)  # None removes a format the target does not have
        b0 = len(tgt[:ti].encode())  # the text now has the target's characters: its positions hold
        b1 = len(tgt[:kept[j - 1][1] + 1].encode())
        text.format(b0, b1, want)
        i = j
