"""Playing an uploaded lesson video to the stage, the same for everyone.

There is one player per video on the stage, so play, pause and seek are seen by every viewer at
once. The video is passed through as it is in the file: VP8 from WebM, or H.264 from MP4 (rewritten to
Annex B, with parameter sets in front of each keyframe, as RTP needs). Nothing is decoded. Audio is
passed through when it is Opus; otherwise (AAC in MP4) it is decoded and encoded to Opus once.

Viewers get packets on the stage's clock: timestamps run on through pauses and seeks, so their
jitter buffers never see time go backwards. A file's keyframes cannot be forced, so each feed keeps
the packets since the last keyframe and replays them to a new viewer, who gets a picture at once.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from pathlib import Path

import av
import av.bitstream

from collab.media.relay import Fanout, RelayTrack, SharedAudioEncoder

log = logging.getLogger("collab.media")

STAGE_CLOCK = fractions.Fraction(1, 90000)
MAX_GOP_CACHE = 600  # packets kept since the last keyframe (20 s at 30 fps)


class PacketFeed(Fanout):
    """A file's packets, as they are. Its keyframes cannot be forced, so it keeps the packets since
    the last one and replays them to a newcomer."""

    def __init__(self, kind: str, mime: str) -> None:
        super().__init__(kind)
        self.mime = mime
        self._gop: list[av.Packet] = []

    def attach(self) -> RelayTrack:
        track = RelayTrack(self)
        for p in self._gop:  # the picture so far, so the newcomer need not wait for a keyframe
            track.push(p)
        self.viewers.add(track)
        return track

    def push(self, packet: av.Packet) -> None:
        if self.kind == "video":
            if packet.is_keyframe or len(self._gop) >= MAX_GOP_CACHE:
                self._gop = []
            self._gop.append(packet)
        self.deliver(packet)


class LessonPlayer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.container = av.open(str(path))
        self.video = next((s for s in self.container.streams.video), None)
        self.audio = next((s for s in self.container.streams.audio), None)
        if self.video is None or self.video.codec_context.name not in ("vp8", "h264"):
            raise ValueError("a lesson video is VP8 (WebM) or H.264 (MP4)")
        self.feeds: dict[str, PacketFeed] = {
            "video": PacketFeed("video", "video/vp8" if self.video.codec_context.name == "vp8" else "video/h264")}
        self.feeds["video"].size = (self.video.codec_context.width, self.video.codec_context.height)
        self._bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", self.video) \
            if self.video.codec_context.name == "h264" else None
        self._audio_passthrough = self.audio is not None and self.audio.codec_context.name == "opus"
        self._audio_encoder = None
        if self.audio is not None:
            self.feeds["audio"] = PacketFeed("audio", "audio/opus")
            if not self._audio_passthrough:
                self._audio_encoder = SharedAudioEncoder()
        self.duration = float(self.container.duration / av.time_base) if self.container.duration else None
        self.position = 0.0  # seconds into the file where playing (re)started
        self.playing = False
        self._started_wall = 0.0
        self._clock_origin = time.monotonic()
        self._task: asyncio.Task | None = None

    # -- controls (the same for every viewer) --------------------------------------------------------

    def state(self) -> dict:
        return {"state": "playing" if self.playing else "paused", "position": round(self.now(), 3),
                "duration": self.duration}

    def now(self) -> float:
        return self.position + (time.monotonic() - self._started_wall if self.playing else 0.0)

    def play(self) -> None:
        if self.playing:
            return
        self._seek_file(self.position)
        self.playing = True
        self._started_wall = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def pause(self) -> None:
        if not self.playing:
            return
        self.position = self.now()
        self.playing = False
        if self._task:
            self._task.cancel()

    def seek(self, seconds: float) -> None:
        if self.duration is not None:
            seconds = min(seconds, self.duration)
        was_playing = self.playing
        self.pause()
        self.position = max(0.0, seconds)
        if was_playing:
            self.play()

    def stop(self) -> None:
        self.pause()
        for feed in self.feeds.values():
            feed.stop()
        self.container.close()

    # -- the pump ------------------------------------------------------------------------------------

    def _seek_file(self, seconds: float) -> None:
        self.container.seek(int(seconds / self.video.time_base), stream=self.video, backward=True)

    def _stage_pts(self) -> int:
        return int((time.monotonic() - self._clock_origin) / STAGE_CLOCK)

    def _out(self, data: bytes, keyframe: bool) -> av.Packet:
        p = av.Packet(data)
        p.pts = p.dts = self._stage_pts()
        p.time_base = STAGE_CLOCK
        p.is_keyframe = keyframe
        return p

    async def _run(self) -> None:
        streams = [s for s in (self.video, self.audio) if s is not None]
        try:
            for packet in self.container.demux(*streams):
                if packet.pts is None or packet.size == 0:
                    continue
                at = float(packet.pts * packet.time_base)
                # after a seek, packets from the keyframe before the seek point go at once (wait <= 0),
                # so the picture builds up to where everyone is
                wait = (self._started_wall + max(0.0, at - self.position)) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if packet.stream is self.video:
                    key = packet.is_keyframe  # read before the filter takes the packet
                    for p in (self._bsf.filter(packet) if self._bsf else [packet]):
                        self.feeds["video"].push(self._out(bytes(p), key))
                elif self._audio_passthrough:
                    self.feeds["audio"].push(self._out(bytes(packet), False))
                else:
                    for frame in packet.decode():
                        for p in self._audio_encoder.encode(frame):
                            self.feeds["audio"].push(self._out(bytes(p), False))
            self.position, self.playing = self.duration or self.now(), False  # the end of the file
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("playing a lesson video failed", extra={"path": str(self.path)})
            self.playing = False
