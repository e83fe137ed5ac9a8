"""Reading the organizer's list (sessions/groups/roster.py): what a spreadsheet saves is read, and a list
with anything wrong is refused at the line at fault."""

from __future__ import annotations

import pytest

from sessions.groups.roster import MAX_BYTES, Entry, RosterError, groups_of, parse


def test_a_list_with_a_header_blank_lines_and_quotes():
    body = 'username,group\n\nzhang_wei,"代数组, 上午"\n  li_na  ,  几何组 \n   \n'.encode()
    assert parse(body) == [Entry(3, "zhang_wei", "代数组, 上午"), Entry(4, "li_na", "几何组")]


@pytest.mark.parametrize("encoding,bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gb18030", b"")])
def test_what_excel_saves_is_read(encoding, bom):
    body = bom + "用户名,组名\r\nzhang_wei,第一组\r\nli_na,第二组\r\n".encode(encoding)
    entries = parse(body)
    assert entries == [Entry(2, "zhang_wei", "第一组"), Entry(3, "li_na", "第二组")]
    assert groups_of(entries) == ["第一组", "第二组"]


def test_a_header_is_only_the_first_line():
    assert parse(b"a,b\nusername,group\n") == [Entry(1, "a", "b"), Entry(2, "username", "group")]


@pytest.mark.parametrize("body,line", [
    (b"a,b\nc\n", 2), (b"a,b,\n", 1), (b" ,b\n", 1), (b"a, \n", 1), (b"a,b\x00\n", 1),
    (b"a,b\nc,d\na,e\n", 3), (b'a,"b\n', 1), (b"a,b\n" + b"\xff\xfe\xfd\n", 2),
])
def test_the_line_at_fault_is_named(body, line):
    with pytest.raises(RosterError) as e:
        parse(body)
    assert e.value.line == line and e.value.code == "roster_invalid" and e.value.status == 400


def test_limits_on_lines_and_bytes():
    many = "".join(f"t{i},g\n" for i in range(100_000)).encode()
    assert len(parse(many)) == 100_000
    with pytest.raises(RosterError) as e:
        parse(many + b"one_more,g\n")
    assert e.value.line == 100_001
    with pytest.raises(RosterError) as e:
        parse(b"a," + b"x" * MAX_BYTES + b"\n")
    assert e.value.line == 0 and "5 MB" in e.value.message
