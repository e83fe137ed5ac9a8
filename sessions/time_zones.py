"""An activity's time zone: an IANA name (Asia/Shanghai unless the deployment or the organizer says
otherwise), checked against the zone database. Its times are shown and exported in it, to the second:
a teacher in Xinjiang and the organizer in Beijing read the same clock for the same activity. No I/O
beyond reading the zone database once."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from sessions.agenda import AgendaError

DEFAULT = "Asia/Shanghai"
# In the zone database but not zones a person means: the host's own clock, and tzdata's internals.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class TimeZoneError(AgendaError):
    """Not an IANA time zone name; the API answers `bad_time_zone`."""

    def __init__(self, name: object) -> None:
        super().__init__("time_zone", f"time_zone: {name!r} is not an IANA time zone name (such as Asia/Shanghai)")


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def check(name: object) -> str:
    """`name` if it names a zone, else TimeZoneError."""
    if not isinstance(name, str) or name not in _names():
        raise TimeZoneError(name)
    return name


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(moment: datetime, name: str) -> datetime:
    """`moment` (aware) on the zone's clock, to the second."""
    return moment.astimezone(zone(name)).replace(microsecond=0)
