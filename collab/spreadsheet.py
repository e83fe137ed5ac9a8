"""Cells of the CSV exports people open in a spreadsheet (attendance, groups, the audit log)."""

from __future__ import annotations


def safe_cell(text: str) -> str:
    """A cell starting with = + - @ (or a tab or carriage return) is a formula to a spreadsheet: a name
    a teacher typed must not run one, so it is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
