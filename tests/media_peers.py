"""aiortc peers for stage tests: generated video (a moving gradient with the frame number in it) and
audio (a tone), publishers and viewers that count what they decode."""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time

import av
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AUDIO_PTIME, VIDEO_CLOCK_RATE, VIDEO_TIME_BASE, MediaStreamError, MediaStreamTrack


class MovingPicture(VideoStreamTrack):
    """640×480 at 30 fps (or another size and rate: a shared screen is 1920×1080 at a few frames a
    second) whose content changes every frame (so VP8 has work to do)."""

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.n = 0
        # a diagonal gradient, long enough that a frame is a slice of it at a moving offset: row y is
        # the diagonal's values from y on
        diagonal = bytes(k // 3 % 256 for k in range(width + height + 64))
        self.luma = b"".join(diagonal[y:y + width] for y in range(height + 64))
        self.chroma = bytes([128]) * (width * height // 4)
        self._start: float | None = None

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        """As aiortc's, at `fps`: the n-th frame is due n/fps seconds after the first."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            await asyncio.sleep(self._start + self.n / self.fps - time.time())
        return int(self.n * VIDEO_CLOCK_RATE / self.fps), VIDEO_TIME_BASE

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.n += 1
        offset = (self.n % 64) * self.width
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(self.luma[offset:offset + self.width * self.height])
        frame.planes[1].update(self.chroma)
        frame.planes[2].update(bytes([(self.n * 3) % 256]) * (self.width * self.height // 4))
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(MediaStreamTrack):
    kind = "audio"

    def __init__(self, hz: float = 440.0) -> None:
        super().__init__()
        self.hz = hz
        self.rate = 48000
        self.samples = int(AUDIO_PTIME * self.rate)
        self.pts = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.time()
        else:
            wait = self.start + (self.pts / self.rate) - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        pcm = array.array("h", (int(8000 * math.sin(2 * math.pi * self.hz * (i + self.pts) / self.rate))
                                for i in range(self.samples)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.samples)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate, frame.pts, frame.time_base = self.rate, self.pts, fractions.Fraction(1, self.rate)
        self.pts += self.samples
        return frame


class Counter:
    """Reads a received track and counts decoded frames (and when the first came)."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.track = track
        self.frames = 0
        self.first_at: float | None = None
        self.size: tuple[int, int] | None = None
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self.frames += 1
                if self.first_at is None:
                    self.first_at = time.monotonic()
                if isinstance(frame, av.VideoFrame):
                    self.size = (frame.width, frame.height)
        except Exception:
            pass

    def stop(self) -> None:
        self.task.cancel()


async def offer_to_receive(pc: RTCPeerConnection, kinds=("video", "audio")) -> dict:
    for kind in kinds:
        pc.addTransceiver(kind, direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}


async def offer_to_send(pc: RTCPeerConnection, tracks) -> dict:
    for t in tracks:
        pc.addTrack(t)
    await pc.setLocalDescription(await pc.createOffer())
    return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}


async def accept(pc: RTCPeerConnection, answer: dict) -> None:
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))


def make_lesson_video(path, kind: str = "webm", seconds: float = 4.0, fps: int = 25) -> None:
    """A small lesson video file: WebM (VP8 + Opus) or MP4 (H.264 + AAC), 320×240, a keyframe every
    2 seconds, with a moving picture and a tone."""
    out = av.open(str(path), "w", format="webm" if kind == "webm" else "mp4")
    v = out.add_stream("libvpx" if kind == "webm" else "libx264", rate=fps)
    v.width, v.height, v.pix_fmt = 320, 240, "yuv420p"
    v.gop_size = fps * 2
    if kind != "webm":
        v.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0"}
    a = out.add_stream("libopus" if kind == "webm" else "aac", rate=48000)
    a.layout = "stereo"
    pic = MovingPicture(320, 240)
    tone = array.array("h", (int(6000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(960 * 2)))
    samples = 0
    for n in range(int(seconds * fps)):
        offset = (n % 64) * 320
        frame = av.VideoFrame(320, 240, "yuv420p")
        frame.planes[0].update(pic.luma[offset:offset + 320 * 240])
        frame.planes[1].update(bytes([128]) * (320 * 240 // 4))
        frame.planes[2].update(bytes([(n * 5) % 256]) * (320 * 240 // 4))
        frame.pts = n
        for p in v.encode(frame):
            out.mux(p)
        while samples < (n + 1) * 48000 // fps:
            af = av.AudioFrame(format="s16", layout="stereo", samples=960)
            af.planes[0].update(tone.tobytes())
            af.sample_rate, af.pts = 48000, samples
            samples += 960
            for p in a.encode(af):
                out.mux(p)
    for s in (v, a):
        for p in s.encode(None):
            out.mux(p)
    out.close()
