"""The program's encoder and packager (collab/media/cmaf.py, collab/media/fmp4.py): real x264 and AAC
through PyAV's mp4 muxer, the parts read back with PyAV's demuxer and decoders, as a player would."""

from __future__ import annotations

import io
import re

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collab.media import fmp4
from collab.media.cmaf import RUNGS, RenditionEncoder, Rung
from program_media import FPS, encode, pictures, tone

SMALL = RUNGS[1]  # 360p: what these tests need, at a third of 720p's cost
PART = 0.5
SEGMENT = 2.0


@pytest.fixture(scope="module")
def rendition():
    """4.5 s of the 360p rendition. Frames 40 and 45 never came (the compositor missed them); 45 would
    have begun a part."""
    return encode(SMALL, 135, skip=frozenset({40, 45}))


def demux(data: bytes) -> dict[str, list[av.Packet]]:
    """The packets of an init segment followed by fragments, by stream type."""
    with av.open(io.BytesIO(data)) as container:
        out: dict[str, list] = {"video": [], "audio": []}
        for packet in container.demux():
            if packet.size:
                out[packet.stream.type].append(packet)
        return out


def decode(data: bytes) -> tuple[list[av.VideoFrame], list[av.AudioFrame]]:
    with av.open(io.BytesIO(data)) as container:
        video = list(container.decode(video=0))
    with av.open(io.BytesIO(data)) as container:
        audio = list(container.decode(audio=0))
    return video, audio


def test_parts_are_a_part_target_long_and_follow_each_other(rendition):
    durations = [p.duration for p in rendition.parts]
    assert all(0.85 * PART <= d <= PART + 1e-9 for d in durations[:-1]), durations
    assert 0 < durations[-1] <= PART  # the last part is what was left
    assert rendition.parts[0].start == 0
    for before, after in zip(rendition.parts, rendition.parts[1:]):
        assert after.start == pytest.approx(before.start + before.duration, abs=1e-6)
    assert sum(durations) == pytest.approx(rendition.frames / FPS)
    assert len(rendition.parts) == 9  # 4.5 s: the missing frames were filled, not skipped


def test_a_part_comes_out_within_two_frames_of_its_last_frame(rendition):
    assert max(rendition.made_after[:-1]) <= 2


def test_segments_begin_at_keyframes_on_part_boundaries(rendition):
    starts = [p.start for p in rendition.parts if p.new_segment]
    assert starts == [0.0, 2.0, 4.0]
    for part in rendition.parts:
        assert part.independent == part.new_segment  # no keyframe anywhere else
        packets = demux(rendition.init + part.data)["video"]
        assert packets[0].is_keyframe == part.new_segment
        assert not any(p.is_keyframe for p in packets[1:])


def test_every_part_carries_its_audio(rendition):
    tracks = fmp4.tracks(rendition.init)
    assert sorted(t.kind for t in tracks.values()) == ["audio", "video"]
    for part in rendition.parts:
        moof = part.data[:int.from_bytes(part.data[:4], "big")]
        runs = {tracks[r.track_id].kind: r for r in fmp4.fragment(moof, tracks)}
        audio = runs["audio"]
        audio_start = audio.decode_time / tracks[audio.track_id].timescale
        audio_end = audio_start + audio.duration / tracks[audio.track_id].timescale
        # the AAC frames decoded in the part's time (the muxer's decode times include the encoder's
        # one-frame priming, which the init's edit list takes off)
        assert audio_start - 2 * 1024 / 48000 <= part.start <= audio_start + 1024 / 48000
        assert part.start + part.duration <= audio_end + 1024 / 48000 or part is rendition.parts[-1]


def test_one_segment_plays_on_its_own_after_the_init(rendition):
    """A player joining at a segment: init + that segment's parts decode, time running on from 2 s."""
    segment = rendition.parts[4:8]
    assert segment[0].new_segment and segment[0].start == 2.0
    data = rendition.init + b"".join(p.data for p in segment)
    packets = demux(data)
    times = [float(p.pts * p.time_base) for p in packets["video"]]
    assert times == pytest.approx([2.0 + i / FPS for i in range(60)])
    video, audio = decode(data)
    assert len(video) == 60
    assert (video[0].width, video[0].height) == (SMALL.width, SMALL.height)
    heard = sum(f.samples for f in audio) / 48000
    assert heard == pytest.approx(2.0, abs=0.05)


def test_the_whole_rendition_decodes_without_a_gap(rendition):
    data = rendition.init + b"".join(p.data for p in rendition.parts)
    video, audio = decode(data)
    assert len(video) == rendition.frames  # 135: frames 40 and 45 repeat 39 and 44
    times = [float(f.pts * f.time_base) for f in video]
    assert times == pytest.approx([i / FPS for i in range(rendition.frames)])
    audio_times = [float(f.pts * f.time_base) for f in audio]
    steps = {round((b - a) * 48000) for a, b in zip(audio_times, audio_times[1:])}
    assert steps == {1024}
    heard = sum(f.samples for f in audio)
    assert abs(heard - rendition.samples) <= 2 * 1024


def test_bitrate_stays_near_the_rung(rendition):
    """The CDN and players size from BANDWIDTH: each segment within 1.25 times the nominal rate."""
    nominal = SMALL.video_bitrate + SMALL.audio_bitrate
    segments, current = [], []
    for part in rendition.parts:
        if part.new_segment and current:
            segments.append(current)
            current = []
        current.append(part)
    for segment in segments:
        rate = sum(len(p.data) for p in segment) * 8 / sum(p.duration for p in segment)
        assert 0.7 * nominal < rate < 1.25 * nominal


def test_codecs_come_from_the_init_segment(rendition):
    # High profile (0x64), no constraint flags, level 3.0 (0x1e) for 640x360 at 30 fps; AAC-LC
    assert fmp4.codecs(rendition.init) == "avc1.64001e,mp4a.40.2"
    assert re.fullmatch(r"avc1\.64[0-9a-f]{4},mp4a\.40\.2", fmp4.codecs(rendition.init))


def test_720p_rung_makes_720p_parts():
    result = encode(RUNGS[0], 20)
    assert fmp4.codecs(result.init) == "avc1.64001f,mp4a.40.2"  # level 3.1 for 1280x720 at 30 fps
    video, _ = decode(result.init + b"".join(p.data for p in result.parts))
    assert (video[0].width, video[0].height) == (1280, 720)
    assert len(video) == 20


def test_other_part_and_segment_lengths():
    result = encode(Rung("tiny", 320, 180, 200_000), 45, part_seconds=1 / 3, segment_seconds=1.0)
    assert [round(p.duration * FPS) for p in result.parts] == [10] * 4 + [5]
    assert [p.new_segment for p in result.parts] == [True, False, False, True, False]


@given(cuts=st.lists(st.integers(min_value=0, max_value=150_000), max_size=30))
@settings(max_examples=40, deadline=None)
def test_box_reader_reassembles_boxes_cut_anywhere(rendition, cuts):
    whole = rendition.init + b"".join(p.data for p in rendition.parts[:3])
    reader = fmp4.BoxReader()
    got = []
    at = 0
    for cut in sorted({min(c, len(whole)) for c in cuts} | {len(whole)}):
        got += reader.feed(whole[at:cut])
        at = cut
    assert b"".join(box for _, box in got) == whole
    assert [kind for kind, _ in got] == [b"ftyp", b"moov"] + [b"moof", b"mdat"] * 3
    assert reader.pending == 0


def test_bad_input_is_refused_with_a_reason():
    encoder = RenditionEncoder(SMALL)
    with pytest.raises(ValueError, match="640x360"):
        encoder.video(next(pictures(RUNGS[0])), 0)
    frame = next(pictures(SMALL))
    encoder.video(frame, 3)
    with pytest.raises(ValueError, match="does not follow"):
        encoder.video(frame, 3)
    short = av.AudioFrame(format="fltp", layout="stereo", samples=512)
    short.sample_rate = 48000
    with pytest.raises(ValueError, match="1024 fltp samples"):
        encoder.audio(short)
    encoder.audio(tone(0))
    encoder.close()
    with pytest.raises(RuntimeError, match="closed"):
        encoder.video(frame, 4)
    with pytest.raises(ValueError, match="whole frames"):
        RenditionEncoder(SMALL, part_seconds=0.3, segment_seconds=1.0)
