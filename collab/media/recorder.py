"""Recording the stage without encoding it again: the shared encoders' VP8 and Opus packets are muxed
as they are into a WebM file, one per publication. Cheap enough for the event loop (microseconds a
packet), and the file is exactly what viewers saw.

Timestamps: a received track's clock starts anywhere, so each stream is shifted to start at the
moment its first packet reached the recorder; audio and video then line up with the wall clock.
"""

from __future__ import annotations

import fractions
import logging
import time
from pathlib import Path

import av

log = logging.getLogger("collab.media")


class Recorder:
    """`h264`: a lesson video passed through as H.264 goes into Matroska (WebM takes only VP8/VP9/AV1)."""

    def __init__(self, path: Path, width: int | None, height: int | None, audio: bool, h264: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.media_type = "video/x-matroska" if h264 else "video/webm"
        self.started = time.monotonic()
        self.container = av.open(str(path), "w", format="matroska" if h264 else "webm")
        self.video = None
        if width and height:
            self.video = self.container.add_stream("h264" if h264 else "libvpx", rate=30)
            self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
            self.video.time_base = fractions.Fraction(1, 90000)
        self.audio = None
        if audio:
            self.audio = self.container.add_stream("libopus", rate=48000)
            self.audio.layout = "stereo"
        self._origin: dict[str, tuple[int, float]] = {}  # kind -> (first pts, seconds after start)
        self._last: dict[str, int] = {}
        self._waiting_keyframe = True
        self.packets = 0
        self.closed = False

    def packet(self, kind: str, packet: av.Packet) -> None:
        stream = self.video if kind == "video" else self.audio
        if stream is None or self.closed or packet.pts is None:
            return
        if kind == "video" and self._waiting_keyframe:
            if not packet.is_keyframe:
                return
            self._waiting_keyframe = False
        tb = packet.time_base
        if kind not in self._origin:
            self._origin[kind] = (packet.pts, time.monotonic() - self.started)
        first, offset = self._origin[kind]
        pts = packet.pts - first + int(offset / tb)
        pts = max(pts, self._last.get(kind, -1) + 1)  # the muxer wants increasing timestamps
        self._last[kind] = pts
        out = av.Packet(bytes(packet))
        out.pts = out.dts = pts
        out.time_base = tb
        out.stream = stream
        out.is_keyframe = packet.is_keyframe
        try:
            self.container.mux(out)
            self.packets += 1
        except Exception:  # a broken recording must not break the stage
            log.exception("recording a packet failed", extra={"path": str(self.path)})

    def close(self) -> int:
        """Finish the file; returns its size in bytes (0 if nothing was recorded)."""
        if self.closed:
            return self.path.stat().st_size if self.path.exists() else 0
        self.closed = True
        try:
            self.container.close()
        except Exception:
            log.exception("closing a recording failed", extra={"path": str(self.path)})
        if self.packets == 0:
            self.path.unlink(missing_ok=True)
            return 0
        return self.path.stat().st_size
