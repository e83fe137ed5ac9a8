"""The organizer's list for a group phase that assigns from a list: a CSV of `username,group name`, one
teacher a line (docs/groups.md). No I/O: the route (sessions/groups/roster_api.py) resolves the
usernames and stores the entries.

A list is taken whole or not at all: the first thing wrong with it is refused, naming its line, so the
organizer can fix it in the spreadsheet they made it in. Excel in China saves CSV as GB18030, so a list
that is not UTF-8 (with or without the BOM Excel writes) is read as GB18030.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from collab.errors import DomainError

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 100_000
MAX_GROUP = 100  # characters, as ActivityGroup.name
HEADERS = {("username", "group"), ("用户名", "组名")}


class RosterError(DomainError):
    """A list refused: `line` is where (1 is the first; 0 is the list as a whole)."""

    code = "roster_invalid"

    def __init__(self, line: int, message: str) -> None:
        super().__init__(None, f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Entry:
    line: int
    username: str
    group: str


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise RosterError(body.count(b"\n", 0, exc.start) + 1, "the list is neither UTF-8 nor GB18030 text") from None


def parse(body: bytes) -> list[Entry]:
    if len(body) > MAX_BYTES:
        raise RosterError(0, f"the list is over {MAX_BYTES // (1024 * 1024)} MB")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    first = True
    reader = csv.reader(io.StringIO(decode(body), newline=""), strict=True)
    try:
        for row in reader:
            line = reader.line_num
            if line > MAX_LINES:
                raise RosterError(line, f"a list has at most {MAX_LINES:,} lines")
            fields = [f.strip() for f in row]
            if not any(fields):
                continue  # a blank line
            if first and tuple(f.lower() for f in fields) in HEADERS:
                first = False
                continue
            first = False
            if len(fields) != 2:
                raise RosterError(line, f"{len(fields)} field{'s' * (len(fields) != 1)}; a line is: username,group name")
            username, group = fields
            if not username:
                raise RosterError(line, "the username is empty")
            if not group:
                raise RosterError(line, "the group name is empty")
            if any(c < " " for c in username + group):  # a NUL the database refuses, a stray line break
                raise RosterError(line, "a control character in the line")
            if len(group) > MAX_GROUP:
                raise RosterError(line, f"the group name is longer than {MAX_GROUP} characters")
            if username in seen:
                raise RosterError(line, f"{username} is on lines {seen[username]} and {line}")
            seen[username] = line
            entries.append(Entry(line, username, group))
    except csv.Error as exc:  # an unclosed quote, a NUL
        raise RosterError(reader.line_num, f"not CSV: {exc}") from None
    return entries


def groups_of(entries: list[Entry]) -> list[str]:
    """The list's group names, in the order first seen."""
    return list(dict.fromkeys(e.group for e in entries))
