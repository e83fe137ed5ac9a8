"""Attendance: how long each teacher was in the room, summed across reconnects, tabs and nodes. No I/O.

Each node records presence intervals per (activity, user, node): opened when the user's first socket
on that node joins the activity's channel, closed when the last one leaves, and kept alive by a
heartbeat while open, so an interval of a node that died ends at its last heartbeat. A teacher's
time is the union of their intervals, clipped to the time the activity was live: two tabs or two
nodes at once count once; a dropped connection counts only the time away as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Record:
    user_id: int
    first_join: datetime | None
    last_leave: datetime | None
    seconds: int
    sessions: int  # separate stretches of presence: 1 = never dropped
    credited: bool

    @property
    def minutes(self) -> float:
        return round(self.seconds / 60, 1)

    @property
    def rejoins(self) -> int:
        return max(self.sessions - 1, 0)


def merge(intervals: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for iv in sorted(intervals, key=lambda i: i.start):
        if iv.end <= iv.start:
            continue
        if out and iv.start <= out[-1].end:
            if iv.end > out[-1].end:
                out[-1] = Interval(out[-1].start, iv.end)
        else:
            out.append(iv)
    return out


def clip(intervals: list[Interval], window: Interval) -> list[Interval]:
    return [Interval(max(i.start, window.start), min(i.end, window.end))
            for i in intervals if i.end > window.start and i.start < window.end]


def record(user_id: int, intervals: list[Interval], live: Interval | None, credit_seconds: float) -> Record:
    """One teacher's record. `live` is when the activity was live (None: it never went live)."""
    merged = merge(intervals)
    counted = merge(clip(merged, live)) if live else []
    seconds = round(sum((i.end - i.start).total_seconds() for i in counted))
    return Record(
        user_id=user_id,
        first_join=merged[0].start if merged else None,
        last_leave=merged[-1].end if merged else None,
        seconds=seconds,
        sessions=len(merged),
        credited=live is not None and seconds >= credit_seconds,
    )


def credit_threshold(planned_seconds: float, ratio: float) -> float:
    """The rule "present for at least `ratio` of the scheduled time"."""
    return planned_seconds * ratio
