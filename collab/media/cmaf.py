"""The program's encoder and packager: one rendition (a rung of the ladder) as fragmented MP4 parts.

Each `RenditionEncoder` encodes the composed picture with x264 and the mixed sound with FFmpeg's AAC,
and muxes both into fragmented MP4 with PyAV. The muxer cuts a fragment every `part_seconds`; each
fragment is a Low-Latency HLS part (`PartOut`), and every `segment_seconds` a part begins with an IDR
frame and a new segment. The bytes come straight from PyAV's mp4 muxer, so the init segment
(`ftyp` + `moov`) and the `moof` + `mdat` pairs are what players already parse.

How the parts line up:

- The muxer (`frag_duration`) starts a new fragment with the first packet of any track lying a part
  target or more after its track's first packet in the fragment. Packets reach it in decode-time order
  (PyAV's `mux` interleaves), so the video frame at each part boundary comes first and starts the next
  fragment: a part is exactly `part_seconds` of video and the audio decoded before that time.
- Frames are numbered (`index`); a missing number is filled with the previous picture, so parts and
  segments stay on the frame grid and no part runs past the part target (the spec's MUST).
- IDR frames are forced at each `segment_seconds` of the grid; x264's own keyframe interval is the same
  and scene cuts are off, so no IDR comes anywhere else. `frag_keyframe` also cuts a fragment at each
  IDR, which is then always a part boundary already.
- With `delay_moov`, the init segment is written with the first fragment (the muxer then knows the
  codec parameters); `init` is set before the first part is returned.

A part is complete when the muxer receives the next part's first frame and audio up to that time (the
AAC encoder holds one frame), so it comes out one or two frames after its last frame went in.

CPU-heavy and synchronous: call it from one worker thread, never from the event loop.
"""

from __future__ import annotations

import fractions
import logging
from dataclasses import dataclass

import av
from av.video.frame import PictureType

from collab.media import fmp4

log = logging.getLogger("collab.media")

AUDIO_RATE = 48000
AUDIO_FRAME = 1024  # samples per AAC frame


@dataclass(frozen=True)
class Rung:
    name: str  # "720p", "360p": the path segment in URLs
    width: int
    height: int
    video_bitrate: int
    audio_bitrate: int = 96_000


RUNGS = (Rung("720p", 1280, 720, 2_000_000), Rung("360p", 640, 360, 600_000))


@dataclass
class PartOut:
    data: bytes  # moof+mdat (one or more pairs)
    duration: float  # seconds of media (by the video track)
    independent: bool  # begins with a keyframe
    new_segment: bool  # begins a segment (every segment_seconds, at a keyframe)
    start: float  # media time of its first video sample, seconds since the rendition began


class _Sink:
    """The file object PyAV's muxer writes to."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


class RenditionEncoder:
    """One rung of the program. `preset`: x264's; on a 2-core EPYC both rungs take 0.3-0.5 of a core
    with veryfast, a quarter less with superfast (benchmarks/program/results.md)."""

    def __init__(self, rung: Rung, *, fps: int = 30, part_seconds: float = 0.5, segment_seconds: float = 2.0,
                 preset: str = "veryfast") -> None:
        self.rung = rung
        self.fps = fps
        self.part_frames = round(part_seconds * fps)
        self.segment_frames = round(segment_seconds * fps)
        if (self.part_frames < 1 or abs(self.part_frames - part_seconds * fps) > 1e-6
                or abs(self.segment_frames - segment_seconds * fps) > 1e-6
                or self.segment_frames % self.part_frames):
            raise ValueError("parts must be whole frames and segments whole parts")
        self.init: bytes | None = None
        self._sink = _Sink()
        self._reader = fmp4.BoxReader()
        self._header = b""  # ftyp, until its moov comes
        self._tracks: dict[int, fmp4.Track] = {}
        self._moof: bytes | None = None
        self._prefix = b""  # boxes before a moof, or a fragment without video: they join the next part
        self._parts = 0
        self._origin: int | None = None  # the first frame's index: the rendition's time 0
        self._last_index: int | None = None
        self._last_frame: av.VideoFrame | None = None
        self._last_key: int | None = None
        self._samples = 0
        self._closed = False

        part_us = round(self.part_frames * 1_000_000 / fps)
        self._container = av.open(self._sink, "w", format="mp4", options={
            # skip_trailer: no mfra index at the end; the parts are all there is
            "movflags": "cmaf+frag_keyframe+empty_moov+default_base_moof+delay_moov+skip_trailer",
            "frag_duration": str(part_us),
            "flush_packets": "1",
        })
        video = self._container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = rung.width, rung.height, "yuv420p"
        video.bit_rate = rung.video_bitrate
        video.codec_context.options = {
            "preset": preset,
            "tune": "zerolatency",  # no B-frames, no lookahead: a frame in, a packet out
            "maxrate": str(rung.video_bitrate),
            "bufsize": str(rung.video_bitrate),  # one second of VBV: CBR-ish for a CDN
            "forced-idr": "1",
            "x264-params": f"keyint={self.segment_frames}:min-keyint={self.segment_frames}:scenecut=0:bframes=0",
        }
        self._video = video
        audio = self._container.add_stream("aac", rate=AUDIO_RATE)
        audio.layout = "stereo"
        audio.bit_rate = rung.audio_bitrate
        self._audio = audio
        self._video_base = fractions.Fraction(1, fps)
        self._audio_base = fractions.Fraction(1, AUDIO_RATE)

    def video(self, frame: av.VideoFrame, index: int) -> list[PartOut]:
        """Encode frame number `index`: its time is index / fps after the first frame's, which is the
        rendition's time 0 (so normally 0). The frame must be at the rung's size. Sets the frame's pts
        and picture type."""
        self._check_open()
        if (frame.width, frame.height) != (self.rung.width, self.rung.height):
            raise ValueError(f"frame is {frame.width}x{frame.height}, the rung is "
                             f"{self.rung.width}x{self.rung.height}")
        if self._last_index is not None and index <= self._last_index:
            raise ValueError(f"frame index {index} does not follow {self._last_index}")
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        if self._origin is None:
            self._origin = index
        if self._last_index is not None:
            for missing in range(self._last_index + 1, index):  # repeat the picture: the grid holds
                self._encode(self._last_frame, missing)
        self._encode(frame, index)
        self._last_frame = frame
        self._last_index = index
        return self._collect()

    def audio(self, frame: av.AudioFrame) -> list[PartOut]:
        """Encode the next 1024 samples (fltp, 48 kHz, stereo), following the previous ones."""
        self._check_open()
        if (frame.format.name, frame.sample_rate, frame.layout.name, frame.samples) != (
                "fltp", AUDIO_RATE, "stereo", AUDIO_FRAME):
            raise ValueError(f"audio must be {AUDIO_FRAME} fltp samples at {AUDIO_RATE} Hz, stereo; got "
                             f"{frame.samples} {frame.format.name} at {frame.sample_rate} Hz, {frame.layout.name}")
        frame.pts = self._samples
        frame.time_base = self._audio_base
        self._samples += frame.samples
        for packet in self._audio.encode(frame):
            self._container.mux(packet)
        return self._collect()

    def close(self) -> list[PartOut]:
        """Flush the encoders and the muxer: the last part, which may be shorter than the others."""
        if self._closed:
            return []
        self._closed = True
        for stream in (self._video, self._audio):
            for packet in stream.encode(None):
                self._container.mux(packet)
        self._container.close()
        parts = self._collect()
        if self._prefix and parts:  # an audio-only tail belongs to the last part
            parts[-1].data += self._prefix
        elif self._prefix:
            log.info("program rendition ended with %d bytes of audio and no picture", len(self._prefix))
        self._prefix = b""
        return parts

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the rendition encoder is closed")

    def _encode(self, frame: av.VideoFrame, index: int) -> None:
        number = index - self._origin
        boundary = self._last_key is None or number // self.segment_frames > self._last_key // self.segment_frames
        if boundary:
            self._last_key = number
        # A decoded frame may carry its source's picture type, which x264 would obey: say it ourselves.
        frame.pict_type = PictureType.I if boundary else PictureType.NONE
        frame.pts = number
        frame.time_base = self._video_base
        for packet in self._video.encode(frame):
            self._container.mux(packet)

    def _collect(self) -> list[PartOut]:
        parts = []
        for kind, box in self._reader.feed(self._sink.take()):
            if kind == b"ftyp":
                self._header = box
            elif kind == b"moov":
                self.init = self._header + box
                self._tracks = fmp4.tracks(self.init)
            elif kind == b"moof":
                self._moof = box
            elif kind == b"mdat" and self._moof is not None:
                part = self._part(self._moof + box)
                self._moof = None
                if part is not None:
                    parts.append(part)
            elif kind != b"mfra":  # styp, sidx, prft...: they lead the next fragment
                self._prefix += box
        return parts

    def _part(self, data: bytes) -> PartOut | None:
        runs = fmp4.fragment(data[:int.from_bytes(data[:4], "big")], self._tracks)
        video = next((r for r in runs if self._tracks[r.track_id].kind == "video" and r.samples), None)
        if video is None:  # no picture in it (audio ran ahead of a stalled picture): keep it for the next
            self._prefix += data
            return None
        timescale = self._tracks[video.track_id].timescale
        start = video.decode_time / timescale
        first_frame = round(start * self.fps)
        data, self._prefix = self._prefix + data, b""
        part = PartOut(
            data=data,
            duration=video.duration / timescale,
            independent=video.sync_first,
            new_segment=video.sync_first and first_frame % self.segment_frames == 0,
            start=start,
        )
        self._parts += 1
        return part
