"""The lifecycle of an activity, command by command, with no I/O."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from collab.errors import DomainError
from sessions.lifecycle import LiveState, apply

NOW = datetime(2027, 3, 1, 6, 0, tzinfo=timezone.utc)


def run(s: LiveState, *commands):
    events = []
    for cmd in commands:
        name, args = cmd if isinstance(cmd, tuple) else (cmd, {})
        change = apply(s, name, args, NOW)
        s = change.state
        events.append(change.event["type"])
    return s, events


def test_a_whole_activity():
    s, events = run(LiveState("scheduled", phase_count=4), "open_lobby", "start", "next_phase",
                    ("extend_phase", {"minutes": 10}), "next_phase", "next_phase", "end", "archive")
    assert events == ["lobby_opened", "started", "phase_changed", "phase_extended", "phase_changed",
                      "phase_changed", "ended", "archived"]
    assert s.state == "archived" and s.current_phase == 3 and s.started_at == NOW and s.ended_at == NOW


def test_a_host_may_skip_ahead_or_go_back():
    s, _ = run(LiveState("scheduled", phase_count=4), "start", ("goto_phase", {"phase": 3}))
    assert s.current_phase == 3
    s, _ = run(s, ("goto_phase", {"phase": 1}))
    assert s.current_phase == 1


@pytest.mark.parametrize("state,command,args,code", [
    ("scheduled", "next_phase", {}, "wrong_state"),
    ("live", "start", {}, "wrong_state"),
    ("lobby", "open_lobby", {}, "wrong_state"),
    ("ended", "start", {}, "wrong_state"),
    ("cancelled", "start", {}, "wrong_state"),
    ("scheduled", "archive", {}, "wrong_state"),
    ("live", "goto_phase", {"phase": 9}, "invalid"),
    ("live", "goto_phase", {"phase": "2"}, "invalid"),
    ("live", "goto_phase", {"phase": 0}, "invalid"),  # already running
    ("live", "extend_phase", {"minutes": 0}, "invalid"),
    ("live", "extend_phase", {"minutes": 500}, "invalid"),
    ("live", "fly", {}, "unknown_command"),
])
def test_refusals_have_codes(state, command, args, code):
    s = LiveState(state, phase_count=4, current_phase=0 if state == "live" else None)
    with pytest.raises(DomainError) as e:
        apply(s, command, args, NOW)
    assert e.value.code == code


def test_the_last_phase_does_not_advance():
    s, _ = run(LiveState("scheduled", phase_count=2), "start", "next_phase")
    with pytest.raises(DomainError) as e:
        apply(s, "next_phase", {}, NOW)
    assert e.value.code == "last_phase"


def test_an_activity_without_phases_can_still_run():
    s, events = run(LiveState("scheduled", phase_count=0), "start", "end")
    assert events == ["started", "ended"] and s.current_phase is None
