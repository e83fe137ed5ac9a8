"""The people on the stage and the front row, each an aiortc peer in a helper process of its own,
signalling over a node's /ws as the web client does:

- a publisher (`stage.publish`, camera or `source: "screen"`) sending one of three pictures: the
  stamped card (stamp.py: its time in the picture), a camera (a moving gradient, tinted red so it is
  never taken for the card's green) or slides (a 1280x720 screen that changes every few seconds),
  with a tone for sound;
- a WebRTC viewer (`stage.watch`) that decodes the video, counts frames per second and reads the
  card's stamp from every frame it decodes while a window is open.
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import statistics
import time
from dataclasses import dataclass

import av
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamTrack

from benchmarks.audience import stamp
from benchmarks.audience.ws import Ws


class CardTrack(VideoStreamTrack):
    """The stamped card at 30 fps: each frame carries the wall clock of the moment it was made."""

    def __init__(self) -> None:
        super().__init__()
        self.card = stamp.Card()
        self.n = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.n += 1
        frame = self.card.frame(stamp.now_ms(), self.n)
        frame.pts, frame.time_base = pts, time_base
        return frame


class CameraTrack(VideoStreamTrack):
    """640x480 at 30 fps, a diagonal gradient moving a row per frame, red tint changing slowly."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.n = 0
        self.luma = bytes((x + y) // 3 % 256 for y in range(height + 64) for x in range(width))
        self.u = bytes([118]) * (width * height // 4)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.n += 1
        w, h = self.width, self.height
        offset = (self.n % 64) * w
        frame = av.VideoFrame(w, h, "yuv420p")
        frame.planes[0].update(self.luma[offset:offset + w * h])
        frame.planes[1].update(self.u)
        frame.planes[2].update(bytes([150 + (self.n // 3) % 40]) * (w * h // 4))
        frame.pts, frame.time_base = pts, time_base
        return frame


class SlidesTrack(VideoStreamTrack):
    """A shared screen: 1280x720 at 10 fps, white with dark 'text lines' that change every 3 s and a
    small pointer that moves."""

    FPS = 10

    def __init__(self, width: int = 1280, height: int = 720) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.n = 0
        self._start: float | None = None
        self.slides = [self._slide(k) for k in range(4)]
        self.chroma = bytes([128]) * (width * height // 4)

    def _slide(self, k: int) -> bytes:
        w, h = self.width, self.height
        rows = []
        for y in range(h):
            line = (y - 80) // 40
            if 80 <= y < h - 60 and (y - 80) % 40 < 18:
                length = 200 + ((line * 7 + k * 13) % 9) * 90
                rows.append(bytes([235]) * 100 + bytes([40]) * min(length, w - 200) + bytes([235]) * (w - 100 - min(length, w - 200)))
            else:
                rows.append(bytes([235]) * w)
        return b"".join(rows)

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + self.n / self.FPS - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        self.n += 1
        w, h = self.width, self.height
        luma = bytearray(self.slides[(self.n // (3 * self.FPS)) % len(self.slides)])
        px, py = (self.n * 6) % (w - 24), h // 2
        for y in range(py, py + 24):
            luma[y * w + px:y * w + px + 24] = b"\x10" * 24
        frame = av.VideoFrame(w, h, "yuv420p")
        frame.planes[0].update(bytes(luma))
        frame.planes[1].update(self.chroma)
        frame.planes[2].update(self.chroma)
        frame.pts, frame.time_base = self.n * 9000, fractions.Fraction(1, 90000)
        return frame


class Tone(MediaStreamTrack):
    kind = "audio"

    def __init__(self, hz: float = 440.0) -> None:
        super().__init__()
        self.hz, self.rate = hz, 48000
        self.samples = int(AUDIO_PTIME * self.rate)
        self.pts = 0
        self.start: float | None = None
        import array
        import math

        period = [int(6000 * math.sin(2 * math.pi * hz * i / self.rate)) for i in range(self.rate // 10)]
        self.pcm = array.array("h", period * 2).tobytes()  # 0.2 s of a tone that repeats every 0.1 s

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.time()
        else:
            wait = self.start + self.pts / self.rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        offset = 2 * (self.pts % (self.rate // 10))
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.samples)
        frame.planes[0].update(self.pcm[offset:offset + 2 * self.samples])
        frame.sample_rate, frame.pts, frame.time_base = self.rate, self.pts, fractions.Fraction(1, self.rate)
        self.pts += self.samples
        return frame


PICTURES = {"card": CardTrack, "camera": CameraTrack, "slides": SlidesTrack}


@dataclass
class PeerSpec:
    ws_url: str
    token: str
    activity_id: int
    nice: int = 0  # added to the process's nice value (a publisher stands for someone's own computer)


def publisher_main(pipe, spec: PeerSpec) -> None:
    import os

    from benchmarks.stage.procs import serve

    if spec.nice:
        os.nice(spec.nice)
    serve(pipe, lambda: Publisher(spec))


def viewer_main(pipe, spec: PeerSpec) -> None:
    from benchmarks.stage.procs import serve

    serve(pipe, lambda: WebRtcViewer(spec))


async def _offer(pc: RTCPeerConnection) -> dict:
    await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers every candidate first
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


class Publisher:
    def __init__(self, spec: PeerSpec) -> None:
        self.spec = spec
        self.ws: Ws | None = None
        self.pc: RTCPeerConnection | None = None
        self.video = None

    async def publish(self, arg: dict) -> dict:
        """arg: {picture: card|camera|slides, source: camera|screen, audio: bool}"""
        self.ws = await Ws(self.spec.ws_url).open(self.spec.token)
        self.pc = RTCPeerConnection()
        self.video = PICTURES[arg["picture"]]()
        self.pc.addTrack(self.video)
        if arg.get("audio", True):
            self.pc.addTrack(Tone())
        args = {"activity_id": self.spec.activity_id, "offer": await _offer(self.pc)}
        if arg.get("source", "camera") != "camera":
            args["source"] = arg["source"]
        answer = (await self.ws.ok("stage.publish", timeout=30, **args))["answer"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        return {"ok": True}

    async def stats(self, _=None) -> dict:
        return {"frames": self.video.n if self.video else 0, "state": self.pc.connectionState if self.pc else None}

    async def close(self, _=None) -> None:
        if self.pc is not None:
            await self.pc.close()
        if self.ws is not None:
            await self.ws.close()


class WebRtcViewer:
    """Watches one publisher over WebRTC; decodes; counts frames; reads stamps in a window."""

    def __init__(self, spec: PeerSpec) -> None:
        self.spec = spec
        self.ws: Ws | None = None
        self.pc: RTCPeerConnection | None = None
        self.frames = 0
        self.first_at: float | None = None
        self.recording = False
        self.reading = False  # read the stamps too (the latency window), not only count frames
        self.ages: list[int] = []
        self.unread = 0
        self.samples: list[tuple[float, int]] = []
        self.size: tuple[int, int] | None = None
        self._tasks: list[asyncio.Task] = []

    async def watch(self, arg: dict) -> dict:
        """arg: {publisher_id}"""
        self.ws = await Ws(self.spec.ws_url).open(self.spec.token)
        pc = self.pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def _track(track) -> None:
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._read(track) if track.kind == "video" else self._drain(track)))

        r = await self.ws.ok("stage.watch", timeout=30, activity_id=self.spec.activity_id,
                             publisher_id=arg["publisher_id"], offer=await _offer(pc))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=r["answer"]["sdp"], type=r["answer"]["type"]))
        self._tasks.append(asyncio.get_running_loop().create_task(self._sample()))
        return {"ok": True}

    async def _drain(self, track) -> None:
        try:
            while True:
                await track.recv()
        except Exception:  # noqa: BLE001, S110 - the track ended
            pass

    async def _read(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames += 1
                self.size = (frame.width, frame.height)
                if self.first_at is None:
                    self.first_at = time.monotonic()
                if self.recording and self.reading:
                    got = stamp.read_frame(frame)
                    age = stamp.age_ms(got) if got is not None else None
                    if age is None:
                        self.unread += 1
                    else:
                        self.ages.append(age)
        except Exception:  # noqa: BLE001, S110 - the track ended
            pass

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.recording:
                self.samples.append((time.monotonic(), self.frames))

    async def progress(self, _=None) -> dict:
        return {"frames": self.frames, "state": self.pc.connectionState if self.pc else None, "size": self.size}

    async def mark(self, read: bool) -> dict:
        self.ages, self.unread = [], 0
        self.samples = [(time.monotonic(), self.frames)]
        self.recording, self.reading = True, bool(read)
        return {"frames": self.frames}

    async def report(self, _=None) -> dict:
        self.recording = False
        samples = self.samples + [(time.monotonic(), self.frames)]
        per_second = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(samples) if b[0] - a[0] > 0.2]
        wall = samples[-1][0] - samples[0][0]
        return {"fps": round((samples[-1][1] - samples[0][1]) / wall, 2) if wall else None,
                "fps_min_1s": round(min(per_second), 1) if per_second else None,
                "fps_median_1s": round(statistics.median(per_second), 1) if per_second else None,
                "ages_ms": self.ages, "unread": self.unread, "size": self.size,
                "state": self.pc.connectionState if self.pc else None}

    async def close(self, _=None) -> None:
        for t in self._tasks:
            t.cancel()
        if self.pc is not None:
            await self.pc.close()
        if self.ws is not None:
            await self.ws.close()
