"""Attendance: how long each teacher was in the room, summed across reconnects, tabs and nodes. No I/O.

Each node records presence intervals per (activity, user, node): opened when the user's first socket
on that node joins the activity's channel, closed when the last one leaves, and kept alive by a
heartbeat while open, so an interval of a node that died ends at its last heartbeat. A teacher's
time is the union of their intervals, clipped to the time the activity was live: two tabs or two
nodes at once count once; a dropped connection counts only the time away as absent. The curve counts
the people present at each moment of the live window, the same way.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta


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


# The attendance curve: how many were in the room at each moment of the live window. A real activity
# is drawn minute by minute; a window under ten minutes (a rehearsal, a test) gets a finer step so the
# curve still has points to show.
CURVE_STEPS = (1, 2, 5, 10, 15, 30)
CURVE_MINUTE_FROM = 600.0  # seconds of live window from which the step is one minute
CURVE_MAX_POINTS = 120


def curve_step(window_seconds: float) -> int:
    """Seconds between two points of the curve."""
    if window_seconds >= CURVE_MINUTE_FROM:
        return 60
    for step in CURVE_STEPS:
        if window_seconds / step <= CURVE_MAX_POINTS:
            return step
    return 60


def curve(by_user: dict[int, list[Interval]], live: Interval | None, step: int) -> list[tuple[datetime, int]]:
    """(moment, people present) every `step` seconds from the start of `live` while it lasts. Present at a
    moment: inside one of one's intervals (start included, end excluded); two tabs or nodes count once."""
    if live is None or live.end <= live.start:
        return []
    starts: list[datetime] = []
    ends: list[datetime] = []
    for intervals in by_user.values():
        for iv in merge(clip(merge(intervals), live)):
            starts.append(iv.start)
            ends.append(iv.end)
    starts.sort()
    ends.sort()
    out: list[tuple[datetime, int]] = []
    span = (live.end - live.start).total_seconds()
    for k in range(int(span // step) + 1):
        t = live.start + timedelta(seconds=k * step)
        if t >= live.end:
            break
        out.append((t, bisect_right(starts, t) - bisect_right(ends, t)))
    return out
