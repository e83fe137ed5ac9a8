"""Time zones by IANA name: which names are zones a person means, and a moment on a zone's clock.

The platform's default (`--time-zone`, Asia/Shanghai) and each activity's zone are checked here, so a
node refuses a mistyped setting at start with the same rule that refuses it on an activity."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

DEFAULT = "Asia/Shanghai"
# In the zone database but not zones a person means: the host's own clock, and tzdata's internals.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def is_zone(name: object) -> bool:
    return isinstance(name, str) and name in _names()


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(moment: datetime, name: str) -> datetime:
    """`moment` (aware) on the zone's clock, to the second."""
    return moment.astimezone(zone(name)).replace(microsecond=0)
