"""The live Low-Latency HLS playlist of one rendition: its window of segments and parts, and the waits
of blocking playlist reload (draft-pantos-hls-rfc8216bis, "the spec" below).

A `MediaWindow` serves on the node that encodes the program (its parts carry their bytes) and on
any other node (parts whose bytes live elsewhere, `data=None`: the caller fetches them). It holds the
last `keep_segments` segments; the playlist lists the parts of the last three target durations (§6.2.2:
parts may go from the playlist after three target durations, and must stay downloadable as long again:
their bytes stay for the whole window).

Every viewer gets the same playlist and the same relative URIs, so a CDN caches one copy:

    init.mp4              the init segment (EXT-X-MAP)
    <msn>.<index>.m4s     a part
    <msn>.m4s             a whole segment: its parts concatenated

A segment closes when a part of the next one comes, when it has lasted `segment_target` (the encoder
makes segments of exactly that length, so the preload hint can already point at the next segment's
first part), or at `end()`.

Call everything from the event loop; the waits are asyncio.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collab.media.cmaf import Rung

VERSION = 6  # EXT-X-MAP in a playlist without EXT-X-I-FRAMES-ONLY; LL-HLS tags need none (9 is EXT-X-SKIP's)
_EPSILON = 1e-3  # seconds: part durations are sums of whole ticks, compare with slack


class HlsError(Exception):
    """A request the spec answers with an HTTP error: 400 (asked for too much), 404 (gone or never
    there), 503 (not there in time)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass
class Part:
    msn: int
    index: int
    duration: float
    independent: bool
    data: bytes | None


@dataclass(frozen=True)
class RenditionReport:
    """Where another rendition's playlist ends, for EXT-X-RENDITION-REPORT (§4.4.5.4)."""

    rung: str
    last_msn: int
    last_part: int


@dataclass
class _Segment:
    msn: int
    date: float  # epoch seconds of its first sample
    parts: list[Part] = field(default_factory=list)
    complete: bool = False

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.parts)


def _number(x: float) -> str:
    return f"{x:.5f}".rstrip("0").rstrip(".")


def _date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MediaWindow:
    def __init__(self, *, rung: str = "", part_target: float = 0.5, segment_target: float = 2.0,
                 keep_segments: int = 8, clock: Callable[[], float] = time.time) -> None:
        if not 0 < part_target <= segment_target or keep_segments < 1:
            raise ValueError("need 0 < part_target <= segment_target and keep_segments >= 1")
        self.rung = rung
        self.part_target = part_target
        self.segment_target = segment_target
        # EXT-X-TARGETDURATION may never change (§4.4.3.1), so it comes from the configuration: the
        # encoder's segments are never longer.
        self.target_duration = math.ceil(segment_target - _EPSILON)
        self.keep_segments = keep_segments
        self.clock = clock
        self.init: bytes | None = None
        self.ended = False
        self.updated: float | None = None  # clock() when the last part came
        self._segments: deque[_Segment] = deque()
        self._changed = asyncio.Event()
        # The playlist as last rendered, per (reports, prefix): a crowd of players asks for the same
        # text between two parts, so it is rendered once per part, not once per request.
        self._rendered: dict[tuple, str] = {}
        # §6.2.5.2: how far past the last part a client may ask for one
        self._advance_limit = 3 / part_target if part_target < 1 else 3
        self._parts_per_segment = max(1, round(segment_target / part_target))

    # producing

    def set_init(self, data: bytes | None) -> None:
        self.init = data
        self._wake()

    def add_part(self, msn: int, index: int, duration: float, independent: bool, data: bytes | None,
                 date: float) -> None:
        """Append the next part. `date`: wall-clock epoch seconds of its first sample (used when it
        begins a segment). A part at or before the last one is ignored, so delivery may repeat."""
        if self.ended:
            raise ValueError("the window has ended")
        current = self._segments[-1] if self._segments else None
        if current is not None and (msn < current.msn or (msn == current.msn and index < len(current.parts))):
            return  # a repeat, or older than what the window holds
        if current is None or msn > current.msn:
            if index != 0:
                raise ValueError(f"segment {msn} must begin with part 0, not {index}")
            if current is not None:
                current.complete = True
                if msn > current.msn + 1:  # segments were lost on the way: the window starts again
                    self._segments.clear()
            current = _Segment(msn, date)
            self._segments.append(current)
        elif current.complete:
            raise ValueError(f"segment {msn} is complete (it lasted its {self.segment_target} s)")
        elif index != len(current.parts):
            raise ValueError(f"part {msn}.{index} is not the next part, {msn}.{len(current.parts)}")
        current.parts.append(Part(msn, index, duration, independent, data))
        if current.duration >= self.segment_target - _EPSILON:
            current.complete = True
        while sum(s.complete for s in self._segments) > self.keep_segments:
            self._segments.popleft()
        self.updated = self.clock()
        self._wake()

    def end(self) -> None:
        """The program is over: EXT-X-ENDLIST, no preload hint; every wait returns."""
        self.ended = True
        if self._segments:
            self._segments[-1].complete = True
        self._wake()

    def _wake(self) -> None:
        self._rendered.clear()
        self._changed.set()
        self._changed = asyncio.Event()

    # reading

    @property
    def playable(self) -> bool:
        """A whole segment is listed: players (hls.js) start on one, not on parts alone."""
        return any(s.complete for s in self._segments)

    @property
    def last(self) -> tuple[int, int] | None:
        """(msn, index) of the last part."""
        if not self._segments:
            return None
        segment = self._segments[-1]
        return segment.msn, len(segment.parts) - 1

    def report(self) -> RenditionReport:
        """This rendition's last part, for the other renditions' playlists; LookupError before any."""
        if self.last is None:
            raise LookupError("no part yet")
        return RenditionReport(self.rung, *self.last)

    def _find_segment(self, msn: int) -> _Segment | None:
        if not self._segments or not self._segments[0].msn <= msn <= self._segments[-1].msn:
            return None
        return self._segments[msn - self._segments[0].msn]

    def _find(self, msn: int, index: int) -> Part | None:
        segment = self._find_segment(msn)
        if segment is None or not 0 <= index < len(segment.parts):
            return None
        return segment.parts[index]

    def _hint(self) -> tuple[int, int] | None:
        """The next part, for EXT-X-PRELOAD-HINT."""
        if self.ended or not self._segments:
            return None
        segment = self._segments[-1]
        return (segment.msn + 1, 0) if segment.complete else (segment.msn, len(segment.parts))

    def segment_parts(self, msn: int) -> list[Part] | None:
        """A whole segment's parts, once it is complete and while it is in the window."""
        segment = self._find_segment(msn)
        return list(segment.parts) if segment is not None and segment.complete else None

    def render(self, reports: Sequence[RenditionReport] = (), uri_prefix: str = "") -> str:
        """The media playlist. `uri_prefix` goes before the init section's, parts' and segments' URIs
        (the producer's run, so a cache never serves one run's part for another's)."""
        key = (tuple(reports), uri_prefix)
        text = self._rendered.get(key)
        if text is None:
            text = self._rendered[key] = self._render(reports, uri_prefix)
        return text

    def _render(self, reports: Sequence[RenditionReport], uri_prefix: str) -> str:
        lines = [
            "#EXTM3U",
            f"#EXT-X-VERSION:{VERSION}",
            f"#EXT-X-TARGETDURATION:{self.target_duration}",
            f"#EXT-X-PART-INF:PART-TARGET={_number(self.part_target)}",
            # §4.4.3.8: PART-HOLD-BACK at least twice the part target, three times recommended
            f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={_number(3 * self.part_target)}",
            f"#EXT-X-MEDIA-SEQUENCE:{self._segments[0].msn if self._segments else 0}",
            f'#EXT-X-MAP:URI="{uri_prefix}init.mp4"',
        ]
        # Parts of the segments that begin within three target durations of the end (§6.2.2), and
        # always the last segment's
        listed = 0.0
        with_parts = 0
        for segment in reversed(self._segments):
            listed += segment.duration
            if with_parts and listed > 3 * self.target_duration + _EPSILON:
                break
            with_parts += 1
        first_with_parts = len(self._segments) - with_parts
        for i, segment in enumerate(self._segments):
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(segment.date)}")
            if i >= first_with_parts:
                for part in segment.parts:
                    lines.append(f"#EXT-X-PART:DURATION={_number(part.duration)},URI=\"{uri_prefix}{part.msn}.{part.index}.m4s\""
                                 + (",INDEPENDENT=YES" if part.independent else ""))
            if segment.complete:
                lines.append(f"#EXTINF:{_number(segment.duration)},")
                lines.append(f"{uri_prefix}{segment.msn}.m4s")
        hint = self._hint()
        if hint is not None:
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{uri_prefix}{hint[0]}.{hint[1]}.m4s"')
        for report in reports:
            if report.rung != self.rung:
                lines.append(f'#EXT-X-RENDITION-REPORT:URI="../{report.rung}/index.m3u8",'
                             f"LAST-MSN={report.last_msn},LAST-PART={report.last_part}")
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    # waiting

    def _has(self, msn: int, part: int | None) -> bool:
        """Whether the playlist now holds segment `msn` (complete), or part `msn`.`part`, or later."""
        last = self.last
        if last is None:
            return False
        if part is None:
            segment = self._segments[-1]
            return segment.msn > msn or (segment.msn == msn and segment.complete)
        # In (msn, index) order a part past a segment's last one comes after all of that segment and
        # before the next one's first: §6.2.5.2's "treat it as Part Index 0 of the following segment".
        return last >= (msn, part)

    def _too_far(self, msn: int, part: int | None) -> bool:
        """§6.2.5.2: more than two segments past the last one, or more than the Advance Part Limit
        of parts past the last part."""
        if not self._segments:
            return False  # nothing to measure against yet
        last_segment = self._segments[-1].msn if self._segments[-1].complete else self._segments[-1].msn - 1
        if msn > last_segment + 2:
            return True
        if part is None:
            return False
        last_msn, last_part = self.last
        ahead = (msn - last_msn) * self._parts_per_segment + part - last_part
        return ahead > self._advance_limit

    async def _until(self, satisfied: Callable[[], bool], timeout: float, reason: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not satisfied():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise HlsError(503, reason)
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                if not satisfied():
                    raise HlsError(503, reason) from None

    async def ready(self, msn: int | None, part: int | None, *, timeout: float | None = None) -> None:
        """Return when the playlist may be rendered for a request with `_HLS_msn`=msn and
        `_HLS_part`=part (None when absent), or raise HlsError as §6.2.5.2 prescribes. A request
        without directives waits only for the first part. `timeout` defaults to three target
        durations."""
        if part is not None and msn is None:
            raise HlsError(400, "_HLS_part without _HLS_msn")
        if (msn is not None and msn < 0) or (part is not None and part < 0):
            raise HlsError(400, "negative _HLS_msn or _HLS_part")
        timeout = 3 * self.target_duration if timeout is None else timeout
        if self.ended:  # §6.2.5.2: with EXT-X-ENDLIST the directives are ignored
            if self.last is None:
                raise HlsError(404, "the program ended before it began")
            return
        if msn is None:
            await self._until(lambda: self.ended or self.last is not None, timeout, "no part yet")
        else:
            if self._too_far(msn, part):
                raise HlsError(400, f"_HLS_msn={msn} _HLS_part={part} is too far ahead of {self.last}")
            await self._until(lambda: self.ended or self._has(msn, part), timeout,
                              f"segment {msn} part {part} did not come in time")
        if self.ended and self.last is None:
            raise HlsError(404, "the program ended before it began")

    async def part_data(self, msn: int, index: int, *, timeout: float) -> Part:
        """The part `msn`.`index`: at once when it is there; waited for (at most `timeout`) when it is
        the preload-hinted one or the one after (another node may be a moment ahead of this one);
        404 for a part gone from the window, one that cannot come, or one too far ahead."""
        def gone() -> bool:
            if self._segments and msn < self._segments[0].msn:
                return True
            segment = self._find_segment(msn)
            return segment is not None and segment.complete and index >= len(segment.parts)

        found = self._find(msn, index)
        if found is not None:
            return found
        if gone() or self.ended or msn < 0 or index < 0:
            raise HlsError(404, f"no part {msn}.{index}")
        hint = self._hint()
        if hint is not None and (msn - hint[0]) * self._parts_per_segment + index - hint[1] > 1:
            raise HlsError(404, f"part {msn}.{index} is not the next one")
        await self._until(lambda: self._find(msn, index) is not None or gone() or self.ended, timeout,
                          f"part {msn}.{index} did not come in time")
        found = self._find(msn, index)
        if found is None:
            raise HlsError(404, f"no part {msn}.{index}")
        return found


def multivariant(rungs: Sequence[Rung], codecs: str | Mapping[str, str], frame_rate: float) -> str:
    """The multivariant playlist: one EXT-X-STREAM-INF per rung, in the given order (a player starts
    with the first). `codecs` is one CODECS value for all, or one per rung name (each rung's SPS has
    its own level). BANDWIDTH is a peak: the encoder's VBV (one second at the video bitrate) lets a
    two-second segment reach up to 1.25 times the nominal rate, plus fragment headers."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in rungs:
        nominal = rung.video_bitrate + rung.audio_bitrate
        value = codecs if isinstance(codecs, str) else codecs[rung.name]
        lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={round(nominal * 1.25)},AVERAGE-BANDWIDTH={round(nominal * 1.03)},"
                     f"RESOLUTION={rung.width}x{rung.height},FRAME-RATE={frame_rate:.3f},CODECS=\"{value}\"")
        lines.append(f"{rung.name}/index.m3u8")
    return "\n".join(lines) + "\n"
