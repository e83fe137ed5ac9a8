"""An activity's life: scheduled → lobby → live (phase by phase) → ended → archived. No I/O.

`apply(state, command, args, now)` checks a host's command against the activity as it stands and
returns the changes and the event to record and broadcast, or raises `DomainError` with a stable
code. The caller persists the changes and the event, then publishes the event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from collab.errors import DomainError


@dataclass(frozen=True)
class LiveState:
    state: str  # scheduled, lobby, live, ended, archived, cancelled
    phase_count: int
    current_phase: int | None = None
    phase_started_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    state: LiveState
    event: dict[str, Any]  # what happened, as attendees will see it (without id and time)
    extend_minutes: int = 0  # minutes added to the current phase's plan


COMMANDS = ("open_lobby", "start", "next_phase", "goto_phase", "extend_phase", "end", "archive")


def apply(s: LiveState, command: str, args: dict[str, Any], now: datetime) -> Change:
    if command == "open_lobby":
        _need(s, ("scheduled",), "the lobby opens before the activity starts")
        return Change(replace(s, state="lobby"), {"type": "lobby_opened"})
    if command == "start":
        _need(s, ("scheduled", "lobby"), "only a scheduled activity can start")
        first = 0 if s.phase_count else None
        return Change(replace(s, state="live", current_phase=first, phase_started_at=now, started_at=now),
                      {"type": "started", "phase": first})
    if command == "next_phase":
        _need(s, ("live",), "phases move only while the activity is live")
        nxt = (s.current_phase if s.current_phase is not None else -1) + 1
        if nxt >= s.phase_count:
            raise DomainError("last_phase", "this is the last phase; end the activity instead")
        return _to_phase(s, nxt, now)
    if command == "goto_phase":
        _need(s, ("live",), "phases move only while the activity is live")
        index = args.get("phase")
        if type(index) is not int or not 0 <= index < s.phase_count:
            raise DomainError("invalid", f"phase must be 0 to {s.phase_count - 1}")
        if index == s.current_phase:
            raise DomainError("invalid", "that phase is already running")
        return _to_phase(s, index, now)
    if command == "extend_phase":
        _need(s, ("live",), "only a running phase can be extended")
        minutes = args.get("minutes")
        if type(minutes) is not int or not 1 <= minutes <= 120:
            raise DomainError("invalid", "minutes must be a whole number from 1 to 120")
        if s.current_phase is None:
            raise DomainError("invalid", "no phase is running")
        return Change(s, {"type": "phase_extended", "phase": s.current_phase, "minutes": minutes},
                      extend_minutes=minutes)
    if command == "end":
        _need(s, ("live",), "only a live activity can end")
        return Change(replace(s, state="ended", ended_at=now), {"type": "ended"})
    if command == "archive":
        _need(s, ("ended",), "only an ended activity is archived")
        return Change(replace(s, state="archived"), {"type": "archived"})
    raise DomainError("unknown_command", f"no such lifecycle command {command!r}")


def _need(s: LiveState, states: tuple[str, ...], why: str) -> None:
    if s.state not in states:
        raise DomainError("wrong_state", f"{why} (it is {s.state})")


def _to_phase(s: LiveState, index: int, now: datetime) -> Change:
    return Change(replace(s, current_phase=index, phase_started_at=now),
                  {"type": "phase_changed", "from": s.current_phase, "phase": index})
