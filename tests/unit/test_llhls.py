"""The live LL-HLS playlist of a rendition (collab/media/llhls.py): what a player reads, and the waits
of blocking playlist reload as draft-pantos-hls-rfc8216bis §6.2.5.2 prescribes them."""

from __future__ import annotations

import asyncio
import io
import re
import time

import av
import pytest

from collab.media import fmp4
from collab.media.cmaf import RUNGS
from collab.media.llhls import HlsError, MediaWindow, RenditionReport, multivariant
from program_media import FPS, encode

EPOCH = 1_700_000_000.0  # 2023-11-14T22:13:20Z
ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"\n]*"|[^",\s]+)')


def attributes(value: str) -> dict[str, str]:
    """An attribute-list (§4.2), checked to be nothing else."""
    found = ATTRIBUTE.findall(value)
    assert ",".join(f"{k}={v}" for k, v in found) == value, value
    return {k: v.strip('"') for k, v in found}


def parse(text: str) -> dict:
    """A media playlist, read as a player does, checking the grammar on the way."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and text.endswith("\n")
    out = {"tags": {}, "segments": [], "parts": [], "hint": None, "reports": [], "ended": False, "map_at": None}
    pending_date = None
    pending_extinf = None
    msn = None
    for at, line in enumerate(lines[1:], start=1):
        assert line, "no blank lines"
        if not line.startswith("#"):  # a segment URI
            assert pending_extinf is not None, f"{line} without EXTINF"
            out["segments"].append({"msn": msn, "uri": line, "duration": pending_extinf, "date": pending_date})
            pending_extinf = pending_date = None
            msn += 1
            continue
        name, _, value = line[1:].partition(":")
        if name in ("EXT-X-VERSION", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE"):
            out["tags"][name] = int(value)
            if name == "EXT-X-MEDIA-SEQUENCE":
                msn = int(value)
        elif name in ("EXT-X-PART-INF", "EXT-X-SERVER-CONTROL"):
            out["tags"][name] = attributes(value)
        elif name == "EXT-X-MAP":
            out["map_at"] = at
            out["map"] = attributes(value)
        elif name == "EXT-X-PROGRAM-DATE-TIME":
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value)
            pending_date = value
        elif name == "EXT-X-PART":
            part = attributes(value)
            part["msn"] = msn
            part["at"] = at
            out["parts"].append(part)
        elif name == "EXTINF":
            assert value.endswith(",")
            pending_extinf = float(value[:-1])
        elif name == "EXT-X-PRELOAD-HINT":
            out["hint"] = attributes(value)
        elif name == "EXT-X-RENDITION-REPORT":
            out["reports"].append(attributes(value))
        elif name == "EXT-X-ENDLIST":
            out["ended"] = True
        else:
            raise AssertionError(f"unexpected tag {line}")
    return out


def window(**options) -> MediaWindow:
    return MediaWindow(rung="720p", **options)


def fill(w: MediaWindow, parts: int, *, first_msn: int = 0, per_segment: int = 4) -> None:
    """`parts` parts of 0.5 s, a segment every `per_segment`, as the encoder makes them."""
    for n in range(parts):
        msn, index = first_msn + n // per_segment, n % per_segment
        w.add_part(msn, index, 0.5, index == 0, f"{msn}.{index}".encode(), EPOCH + n * 0.5)


async def at_once(aw):
    """The result of `aw` if it comes within a few turns of the event loop: without waiting for time to
    pass (no timer, no polling), whatever the machine's load."""
    task = asyncio.ensure_future(aw)
    for _ in range(5):
        await asyncio.sleep(0)
        if task.done():
            return task.result()
    task.cancel()
    raise AssertionError("still waiting")


# the playlist


def test_a_live_playlist_lists_segments_parts_and_the_next_part():
    w = window()
    w.set_init(b"init")
    fill(w, 6)  # segment 0 complete, segment 1 has two parts
    text = w.render([RenditionReport("360p", 1, 1), RenditionReport("720p", 1, 1)])
    p = parse(text)
    assert p["tags"]["EXT-X-VERSION"] == 6
    assert p["tags"]["EXT-X-TARGETDURATION"] == 2
    assert p["tags"]["EXT-X-MEDIA-SEQUENCE"] == 0
    assert p["tags"]["EXT-X-PART-INF"] == {"PART-TARGET": "0.5"}
    assert p["tags"]["EXT-X-SERVER-CONTROL"] == {"CAN-BLOCK-RELOAD": "YES", "PART-HOLD-BACK": "1.5"}
    assert "CAN-SKIP-UNTIL" not in text  # no delta updates
    # EXT-X-MAP comes before any part or segment (hls.js needs the init first)
    assert p["map"] == {"URI": "init.mp4"} and p["map_at"] < p["parts"][0]["at"]
    assert p["segments"] == [{"msn": 0, "uri": "0.m4s", "duration": 2.0, "date": "2023-11-14T22:13:20.000Z"}]
    assert [(q["msn"], q["URI"], q["DURATION"], q.get("INDEPENDENT")) for q in p["parts"]] == [
        (0, "0.0.m4s", "0.5", "YES"), (0, "0.1.m4s", "0.5", None), (0, "0.2.m4s", "0.5", None),
        (0, "0.3.m4s", "0.5", None), (1, "1.0.m4s", "0.5", "YES"), (1, "1.1.m4s", "0.5", None)]
    assert p["hint"] == {"TYPE": "PART", "URI": "1.2.m4s"}
    # the other rung's report, relative to this playlist; none for itself
    assert p["reports"] == [{"URI": "../360p/index.m3u8", "LAST-MSN": "1", "LAST-PART": "1"}]
    assert not p["ended"]
    # the open segment's date comes before its first part
    assert text.index("#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z") < text.index('URI="1.0.m4s"')


def test_the_playlist_is_rendered_once_per_part_and_anew_after_each():
    w = window()
    fill(w, 5)
    first = w.render(uri_prefix="e1/")
    assert w.render(uri_prefix="e1/") is first  # a crowd between two parts shares one rendering
    assert w.render(uri_prefix="e2/") != first and "e2/" in w.render(uri_prefix="e2/")
    w.add_part(1, 1, 0.5, False, b"1.1", EPOCH + 2.5)
    newer = w.render(uri_prefix="e1/")
    assert newer is not first and newer.count("#EXT-X-PART:") == first.count("#EXT-X-PART:") + 1


def test_part_durations_and_segments_keep_the_spec_bounds():
    w = window()
    for n in range(12):  # a 29.97-like drift: parts a hair short
        w.add_part(n // 4, n % 4, 0.4995, n % 4 == 0, b"x", EPOCH + n / 2)
    p = parse(w.render())
    target = float(p["tags"]["EXT-X-PART-INF"]["PART-TARGET"])
    assert all(0.85 * target <= float(q["DURATION"]) <= target for q in p["parts"])
    assert all(round(s["duration"]) <= p["tags"]["EXT-X-TARGETDURATION"] for s in p["segments"])


def test_when_a_segment_has_lasted_its_target_the_hint_is_the_next_segments_first_part():
    w = window()
    fill(w, 4)
    p = parse(w.render())
    assert [s["uri"] for s in p["segments"]] == ["0.m4s"]  # complete at once, not when 1.0 comes
    assert p["hint"]["URI"] == "1.0.m4s"
    assert w.report() == RenditionReport("720p", 0, 3)


def test_the_window_keeps_its_last_segments_and_lists_only_recent_parts():
    w = window(keep_segments=3)
    fill(w, 4 * 6 + 1)  # segments 0-5 complete, 6 just begun
    p = parse(w.render())
    assert p["tags"]["EXT-X-MEDIA-SEQUENCE"] == 3
    assert [s["msn"] for s in p["segments"]] == [3, 4, 5]
    # parts only for the segments that begin within three target durations (6 s) of the end: 4 (4.5 s
    # from it), 5 and 6
    assert sorted({q["msn"] for q in p["parts"]}) == [4, 5, 6]
    assert w.segment_parts(2) is None
    assert [q.data for q in w.segment_parts(3)] == [b"3.0", b"3.1", b"3.2", b"3.3"]
    assert w.segment_parts(6) is None  # not complete yet


async def test_a_part_dropped_from_the_playlist_can_still_be_fetched():
    w = window(keep_segments=8)
    fill(w, 4 * 6)
    assert "0.1.m4s" not in w.render()
    part = await w.part_data(0, 1, timeout=0.1)  # §6.2.2: downloadable after leaving the playlist
    assert part.data == b"0.1"


def test_ending_lists_the_last_segment_and_no_hint():
    w = window()
    fill(w, 6)
    w.end()
    p = parse(w.render())
    assert p["ended"]
    assert p["hint"] is None  # §4.4.5.3: no preload hint with EXT-X-ENDLIST
    assert p["segments"][-1] == {"msn": 1, "uri": "1.m4s", "duration": 1.0, "date": "2023-11-14T22:13:22.000Z"}
    with pytest.raises(ValueError, match="ended"):
        fill(w, 1, first_msn=2)


def test_repeated_parts_are_ignored_and_out_of_order_ones_refused():
    w = window()
    fill(w, 3)
    w.add_part(0, 1, 0.5, False, b"again", EPOCH)  # delivered twice across nodes
    assert w.last == (0, 2)
    with pytest.raises(ValueError, match="not the next part"):
        w.add_part(0, 4, 0.5, False, None, EPOCH)
    with pytest.raises(ValueError, match="must begin with part 0"):
        w.add_part(1, 1, 0.5, False, None, EPOCH)
    fill(w, 1, first_msn=0)  # 0.0 again: ignored
    w.add_part(0, 3, 0.5, False, None, EPOCH)
    with pytest.raises(ValueError, match="is complete"):
        w.add_part(0, 4, 0.5, False, None, EPOCH)


def test_lost_segments_start_the_window_again():
    """Another node that missed segments cannot list a gap: it starts again after it."""
    w = window()
    fill(w, 5)
    w.add_part(4, 0, 0.5, True, None, EPOCH + 10)
    p = parse(w.render())
    assert p["tags"]["EXT-X-MEDIA-SEQUENCE"] == 4
    assert p["segments"] == [] and [q["URI"] for q in p["parts"]] == ["4.0.m4s"]


def test_multivariant_lists_each_rung_with_its_codecs():
    text = multivariant(RUNGS, {"720p": "avc1.64001f,mp4a.40.2", "360p": "avc1.64001e,mp4a.40.2"}, 30)
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    inf = [attributes(line.partition(":")[2]) for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert [line for line in lines if not line.startswith("#")] == ["720p/index.m3u8", "360p/index.m3u8"]
    assert [(i["RESOLUTION"], i["CODECS"], i["FRAME-RATE"]) for i in inf] == [
        ("1280x720", "avc1.64001f,mp4a.40.2", "30.000"), ("640x360", "avc1.64001e,mp4a.40.2", "30.000")]
    assert all(int(i["BANDWIDTH"]) >= int(i["AVERAGE-BANDWIDTH"]) > 0 for i in inf)
    assert int(inf[0]["BANDWIDTH"]) > int(inf[1]["BANDWIDTH"])
    one = multivariant(RUNGS[1:], "avc1.64001e,mp4a.40.2", 30)
    assert 'CODECS="avc1.64001e,mp4a.40.2"' in one


# blocking playlist reload


async def test_a_blocked_reload_returns_as_soon_as_its_part_is_added():
    w = window()
    fill(w, 2)
    waiting = asyncio.ensure_future(w.ready(0, 2))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    fill(w, 3)  # 0.2 arrives (0.0 and 0.1 again are ignored)
    await at_once(waiting)  # woken by add_part itself
    assert 'URI="0.2.m4s"' in w.render()


async def test_a_reload_for_a_whole_segment_waits_for_its_last_part():
    w = window()
    fill(w, 3)
    waiting = asyncio.ensure_future(w.ready(0, None))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # parts of segment 0 are there, the segment is not
    w.add_part(0, 3, 0.5, False, b"", EPOCH)
    await at_once(waiting)
    assert "0.m4s" in w.render().splitlines()


async def test_a_reload_for_what_is_already_there_returns_at_once():
    w = window(keep_segments=2)
    fill(w, 4 * 4 + 1)
    await at_once(w.ready(4, 0))
    await at_once(w.ready(1, 3))  # long gone from the playlist: §6.2.5.2, deliver it anyway
    await at_once(w.ready(None, None))


async def test_a_part_past_a_segments_last_is_the_next_segments_first():
    w = window()
    fill(w, 4)  # segment 0: parts 0-3, complete
    waiting = asyncio.ensure_future(w.ready(0, 4))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    w.add_part(1, 0, 0.5, True, b"", EPOCH + 2)
    await at_once(waiting)


async def test_part_without_msn_is_a_bad_request():
    w = window()
    fill(w, 1)
    with pytest.raises(HlsError) as e:
        await w.ready(None, 1)
    assert e.value.status == 400


async def test_asking_too_far_ahead_is_a_bad_request_at_once():
    w = window()
    fill(w, 4 * 3 + 2)  # last complete segment 2; last part 3.1
    for msn, part in [(5, None), (5, 0), (3, 8), (4, 4)]:
        with pytest.raises(HlsError) as e:
            await at_once(w.ready(msn, part))
        assert e.value.status == 400, (msn, part)
    # within the limits (two segments past the last; six parts past the last part): they wait
    for msn, part in [(4, None), (3, 7), (4, 3)]:
        with pytest.raises(HlsError) as e:
            await w.ready(msn, part, timeout=0.01)
        assert e.value.status == 503, (msn, part)


async def test_a_reload_not_served_in_time_is_503():
    w = window()
    fill(w, 2)
    started = time.perf_counter()
    with pytest.raises(HlsError) as e:
        await w.ready(0, 2, timeout=0.2)
    assert e.value.status == 503
    assert 0.19 < time.perf_counter() - started < 3
    assert w.target_duration * 3 == 6  # the default wait: three target durations


async def test_ending_wakes_every_waiter_and_the_directives_are_then_ignored():
    w = window()
    fill(w, 5)
    waiters = [asyncio.ensure_future(w.ready(1, i)) for i in range(1, 4)]
    waiters.append(asyncio.ensure_future(w.ready(1, None)))
    await asyncio.sleep(0.05)
    assert not any(x.done() for x in waiters)
    w.end()
    await at_once(asyncio.gather(*waiters))
    await at_once(w.ready(9, 0))  # §6.2.5.2: ignored once the playlist has EXT-X-ENDLIST


async def test_the_first_playlist_request_waits_for_the_first_part():
    w = window()
    waiting = asyncio.ensure_future(w.ready(None, None))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    fill(w, 1)
    await at_once(waiting)
    empty = window()
    empty.end()
    with pytest.raises(HlsError) as e:
        await empty.ready(None, None)
    assert e.value.status == 404


# parts by their URIs


async def test_the_hinted_part_is_served_when_it_comes():
    w = window()
    fill(w, 2)
    assert parse(w.render())["hint"]["URI"] == "0.2.m4s"
    waiting = asyncio.ensure_future(w.part_data(0, 2, timeout=1))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    fill(w, 3)
    part = await at_once(waiting)
    assert (part.msn, part.index, part.data, part.independent) == (0, 2, b"0.2", False)


async def test_parts_gone_never_coming_or_too_far_ahead_are_404():
    w = window(keep_segments=2)
    fill(w, 4 * 4 + 1)  # segments 2-3 kept, 4 begun
    for msn, index in [(0, 0), (1, 3), (3, 4), (4, 3)]:
        with pytest.raises(HlsError) as e:
            await at_once(w.part_data(msn, index, timeout=1))
        assert e.value.status == 404, (msn, index)
    assert (await w.part_data(2, 0, timeout=0)).data == b"2.0"
    # the hinted part that does not come in time
    with pytest.raises(HlsError) as e:
        await w.part_data(4, 1, timeout=0.05)
    assert e.value.status == 503


async def test_a_waited_part_that_can_no_longer_come_is_404():
    """The next-but-one part 0.4 is waited for (another node may be ahead), but segment 0 ends at 0.3."""
    w = window()
    fill(w, 3)
    waiting = asyncio.ensure_future(w.part_data(0, 4, timeout=1))
    await asyncio.sleep(0.05)
    w.add_part(0, 3, 0.5, False, b"", EPOCH)
    with pytest.raises(HlsError) as e:
        await at_once(waiting)
    assert e.value.status == 404


# with the encoder


def test_the_encoders_parts_through_the_window_play_as_a_player_fetches_them():
    """Parts of a real rendition numbered as the program does it, then read back by URI: the init
    and a whole segment decode, and the playlist's durations and flags are the parts'."""
    encoded = encode(RUNGS[1], 75)
    w = MediaWindow(rung="360p")
    w.set_init(encoded.init)
    msn, index = -1, 0
    for part in encoded.parts:
        msn, index = (msn + 1, 0) if part.new_segment else (msn, index + 1)
        w.add_part(msn, index, part.duration, part.independent, part.data, EPOCH + part.start)
    w.end()
    p = parse(w.render())
    assert [s["duration"] for s in p["segments"]] == [2.0, 0.5]
    assert [(q["URI"], q.get("INDEPENDENT")) for q in p["parts"]][:5] == [
        ("0.0.m4s", "YES"), ("0.1.m4s", None), ("0.2.m4s", None), ("0.3.m4s", None), ("1.0.m4s", "YES")]
    segment = b"".join(q.data for q in w.segment_parts(1))
    with av.open(io.BytesIO(w.init + segment)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 15
    assert float(frames[0].pts * frames[0].time_base) == pytest.approx(2.0)
    assert fmp4.codecs(w.init) == "avc1.64001e,mp4a.40.2"
    assert 75 / FPS == sum(s["duration"] for s in p["segments"])
