"""An activity's time zone: an IANA name (the deployment's `--time-zone` unless the organizer names
one), checked by `collab.time_zones`. Its times are shown and exported in it, to the second: a teacher
in Xinjiang and the organizer in Beijing read the same clock for the same activity."""

from __future__ import annotations

from collab.time_zones import DEFAULT, is_zone  # noqa: F401  (DEFAULT: an activity's zone when none is set)
from sessions.agenda import AgendaError


class TimeZoneError(AgendaError):
    """Not an IANA time zone name."""

    code = "bad_time_zone"

    def __init__(self, name: object) -> None:
        super().__init__("time_zone", f"{name!r} is not an IANA time zone name (such as Asia/Shanghai)")


def check(name: object) -> str:
    """`name` if it names a zone, else TimeZoneError."""
    if not is_zone(name):
        raise TimeZoneError(name)
    return name  # type: ignore[return-value]
