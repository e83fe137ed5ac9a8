"""Frame parsing: every input gets commands or specific errors, never an exception."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collab.realtime.protocol import (
    MAX_COMMANDS_PER_FRAME,
    Command,
    Error,
    ProtocolError,
    parse_frame,
    push_line,
    valid_channel,
)
from collab.realtime.wire import text_frame

KNOWN_CODES = {v for k, v in vars(Error).items() if k.isupper()}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=500)
@given(st.text(max_size=300))
def test_any_text_yields_commands_or_known_errors(text):
    for item in parse_frame(text):
        assert isinstance(item, (Command, ProtocolError))
        if isinstance(item, ProtocolError):
            assert item.code in KNOWN_CODES


@settings(max_examples=500)
@given(st.dictionaries(st.sampled_from(["id", "cmd", "args", "x"]), json_values, max_size=4))
def test_json_objects_of_any_shape_are_judged_field_by_field(obj):
    frame = orjson.dumps(obj).decode()
    obj = orjson.loads(frame)  # judge what the server reads: JSON has no infinity, orjson writes it as null
    [item] = parse_frame(frame)
    valid = (
        isinstance(obj.get("cmd"), str) and 0 < len(obj["cmd"]) <= 64
        and (obj.get("id") is None or type(obj["id"]) is int and 0 < obj["id"] <= 2**53 - 1)
        and isinstance(obj.get("args", {}), dict)
    )
    assert isinstance(item, Command) == valid
    if valid:
        assert item.cmd == obj["cmd"] and item.args == obj.get("args", {})
    else:
        assert item.code in (Error.BAD_COMMAND, Error.BAD_FRAME)


def test_a_bad_line_does_not_sink_the_batch():
    items = parse_frame('{"id":1,"cmd":"ping"}\nnot json\n[1,2]\n{"id":4,"cmd":"ping"}')
    assert [type(i).__name__ for i in items] == ["Command", "ProtocolError", "ProtocolError", "Command"]
    assert items[1].code == Error.BAD_FRAME and items[2].code == Error.BAD_FRAME


def test_huge_numbers_are_refused_not_crashed_on():
    for frame in ('{"id": 123456789012345678901234567890, "cmd": "ping"}', '{"id": 9007199254740993, "cmd": "ping"}'):
        [item] = parse_frame(frame)
        assert isinstance(item, ProtocolError) and item.code in (Error.BAD_FRAME, Error.BAD_COMMAND)


def test_error_keeps_the_command_id_when_it_can():
    [item] = parse_frame('{"id": 9, "cmd": 5}')
    assert item.code == Error.BAD_COMMAND and item.command_id == 9


def test_too_many_commands_in_one_frame():
    frame = "\n".join('{"id":%d,"cmd":"ping"}' % (i + 1) for i in range(MAX_COMMANDS_PER_FRAME + 1))
    [item] = parse_frame(frame)
    assert item.code == Error.TOO_MANY_COMMANDS


def test_empty_frame():
    assert parse_frame("  \n ")[0].code == Error.BAD_FRAME


@given(st.text(max_size=140))
def test_channel_names(name):
    ok = valid_channel(name)
    if ok:
        assert ":" in name and len(name) <= 128 and not name.startswith(":")


def test_push_line_is_valid_json_with_the_event_bytes_untouched():
    data = orjson.dumps({"id": "x", "body": "引号\"<b>\n"})
    line = push_line(orjson.dumps("announce:all"), 7, data)
    assert orjson.loads(line) == {"ch": "announce:all", "o": 7, "e": orjson.loads(data)}
    assert b"\n" not in line  # lines are the unit of coalescing
    assert orjson.loads(push_line(b'"a:b"', None, b"{}"))["o"] is None


@given(st.binary(max_size=70000))
def test_text_frame_header_matches_rfc6455(payload):
    frame = text_frame(payload)
    assert frame[0] == 0x81  # FIN + text, no mask from the server
    n = len(payload)
    if n < 126:
        assert frame[1] == n and frame[2:] == payload
    elif n < 65536:
        assert frame[1] == 126 and int.from_bytes(frame[2:4], "big") == n and frame[4:] == payload
    else:
        assert frame[1] == 127 and int.from_bytes(frame[2:10], "big") == n and frame[10:] == payload


def test_text_frame_decodes_with_websockets_reader():
    """The frame the hub builds by hand is what a standard client parser reads."""
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    for size in (5, 300, 70000):
        payload = b"x" * size
        reader = StreamReader()
        reader.feed_data(text_frame(payload))
        gen = Frame.parse(reader.read_exact, mask=False)
        try:
            next(gen)
        except StopIteration as done:
            frame = done.value
        assert frame.opcode == Opcode.TEXT and frame.fin and frame.data == payload
