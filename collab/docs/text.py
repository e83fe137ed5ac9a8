"""Positions in the document's text. pycrdt (Yrs) counts UTF-8 bytes; Yjs clients, Quill and the API
count UTF-16 code units, as JavaScript strings do. Every index that crosses that line goes through
here."""

from __future__ import annotations


def utf16_to_bytes(s: str, index: int) -> int:
    """The byte offset of UTF-16 position `index` in `s` (clamped to the text)."""
    if s.isascii():
        return max(0, min(index, len(s)))
    units = offset = 0
    for ch in s:
        if units >= index:
            break
        units += 2 if ord(ch) > 0xFFFF else 1
        offset += len(ch.encode())
    return offset


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2
