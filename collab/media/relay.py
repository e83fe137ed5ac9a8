"""Decode once, encode once, send to everyone.

aiortc's default is a full encoder per viewer: every sender encodes every frame it is given, about a
fifth of a core per 640×480 viewer. Here each published track is a `Feed`. Its frames are decoded by
the one receiver, encoded by one shared encoder (VP8 for video, Opus for audio), and the resulting
`av.Packet`s go to a `RelayTrack` per viewer. aiortc senders that receive packets only packetize them
(`RTCRtpSender._next_encoded_frame` → `encoder.pack`), so a viewer costs packetizing, encryption and
the socket write, not an encoder.

Keyframes: a new viewer skips packets until the next keyframe and asks the feed for one. A viewer's
PLI or FIR asks too. The feed forces at most one keyframe per `KEYFRAME_GAP`: a thousand viewers
joining at once cost one keyframe, and a new picture arrives well within a second.

`await fanout.first_frame()` resolves when the track's first frame is here (decoded, for a `Feed`, so
the picture's `size` is known) or the track ends: the stage waits for it before it records.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import multiprocessing
import time
from collections import deque

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger("collab.media")

KEYFRAME_GAP = 0.5  # seconds between forced keyframes on one feed
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_RATE = 48000
VIEWER_QUEUE = 60  # packets waiting for one viewer's sender before it is reset to the next keyframe
# A shared screen (often 1920×1080 at 5–15 fps) is text and fine lines: at a camera's 1 Mbit/s VP8
# smears them. Its picture keeps its size and gets more bits instead.
SCREEN_VIDEO_BITRATE = 2_500_000


class SharedVideoEncoder:
    """VP8 with the settings aiortc's per-sender encoder uses, producing packets instead of payloads."""

    def __init__(self, bitrate: int = 1_000_000) -> None:
        self.bitrate = bitrate
        self.codec: av.codec.context.CodecContext | None = None

    def encode(self, frame: av.VideoFrame, keyframe: bool) -> list[av.Packet]:
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        if self.codec is not None and (frame.width != self.codec.width or frame.height != self.codec.height):
            self.codec = None  # the presenter switched camera or screen: start again with a keyframe
        if self.codec is None:
            c = av.CodecContext.create("libvpx", "w")
            c.width, c.height, c.pix_fmt = frame.width, frame.height, "yuv420p"
            c.bit_rate = self.bitrate
            c.time_base = VIDEO_TIME_BASE
            c.gop_size = 3000
            c.qmin, c.qmax = 2, 56
            c.options = {"bufsize": str(self.bitrate), "cpu-used": "-6", "deadline": "realtime",
                         "lag-in-frames": "0", "minrate": str(self.bitrate), "maxrate": str(self.bitrate),
                         "noise-sensitivity": "4", "overshoot-pct": "15", "partitions": "0",
                         "static-thresh": "1", "undershoot-pct": "100"}
            c.thread_count = min(4, max(1, multiprocessing.cpu_count() // 2))
            self.codec = c
            keyframe = True
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        frame.time_base = VIDEO_TIME_BASE if frame.time_base is None else frame.time_base
        packets = list(self.codec.encode(frame))
        for p in packets:
            p.time_base = self.codec.time_base
        return packets


class SharedAudioEncoder:
    """Opus at 48 kHz stereo in 20 ms packets, as aiortc's per-sender encoder would make them."""

    def __init__(self, bitrate: int = 64000) -> None:
        self.codec = av.CodecContext.create("libopus", "w")
        self.codec.bit_rate = bitrate
        self.codec.format = "s16"
        self.codec.layout = "stereo"
        self.codec.sample_rate = AUDIO_RATE
        self.codec.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.codec.options = {"application": "voip"}
        self.resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE,
                                           frame_size=AUDIO_RATE // 50)

    def encode(self, frame: av.AudioFrame) -> list[av.Packet]:
        out = []
        for f in self.resampler.resample(frame):
            for p in self.codec.encode(f):
                p.time_base = self.codec.time_base
                out.append(p)
        return out


class RelayTrack(MediaStreamTrack):
    """What one viewer's sender reads: the feed's packets, from a keyframe on."""

    def __init__(self, feed: Fanout) -> None:
        super().__init__()
        self.kind = feed.kind
        self.feed = feed
        self._queue: deque[av.Packet] = deque()
        self._ready = asyncio.Event()
        self.waiting_for_keyframe = feed.kind == "video"
        self.delivered = 0

    def push(self, packet: av.Packet) -> None:
        if self.waiting_for_keyframe:
            if not packet.is_keyframe:
                return
            self.waiting_for_keyframe = False
        if len(self._queue) >= VIEWER_QUEUE:  # this viewer's sender fell behind: skip to a fresh picture
            self._queue.clear()
            if self.kind == "video":
                self.waiting_for_keyframe = True
                self.feed.request_keyframe()
                return
        self._queue.append(packet)
        self._ready.set()

    async def recv(self) -> av.Packet:
        while not self._queue:
            if self.readyState != "live" or self.feed.ended:
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        self.delivered += 1
        return self._queue.popleft()

    def wake(self) -> None:
        self._ready.set()

    def stop(self) -> None:
        super().stop()
        self.feed.detach(self)
        self._ready.set()


class Fanout:
    """Encoded packets of one track handed to every viewer's RelayTrack and every sink (a recorder).
    `Feed` encodes a published track once; the lesson-video player passes a file's packets through."""

    mime = ""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.viewers: set[RelayTrack] = set()
        self.sinks: list = []  # callables taking each packet
        self.frame_sinks: list = []  # callables taking each decoded frame (the program; `collab.media.taps`)
        self.size: tuple[int, int] | None = None  # of the picture, for video
        self.ended = False
        self.packets = 0
        self.began = False  # a first frame (or packet) is here
        self._began = asyncio.Event()

    async def first_frame(self) -> bool:
        """Resolves once the first frame is here (decoded, for a `Feed`: `size` is known then) or the
        first packet (a file's feed), or when the track ends without one (False). Media may never
        start flowing: wait for it with a timeout."""
        await self._began.wait()
        return self.began

    def _begin(self) -> None:
        self.began = True
        self._began.set()

    def attach(self) -> RelayTrack:
        track = RelayTrack(self)
        self.viewers.add(track)
        return track

    def detach(self, track: RelayTrack) -> None:
        self.viewers.discard(track)

    def request_keyframe(self) -> None:
        """A viewer needs a full picture (it joined, or lost packets)."""

    def deliver(self, packet: av.Packet) -> None:
        if not self.began:
            self._begin()
        self.packets += 1
        for viewer in list(self.viewers):
            viewer.push(packet)
        for sink in self.sinks:
            sink(packet)

    def stop(self) -> None:
        self.ended = True
        self._began.set()  # no first frame will come now: whoever waits for one stops waiting
        for viewer in list(self.viewers):
            viewer.wake()


class Feed(Fanout):
    """One published track, shared by every viewer of it on this node."""

    def __init__(self, source: MediaStreamTrack, bitrate: int | None = None) -> None:
        super().__init__(source.kind)
        self.source = source
        self.frames = 0
        self.keyframes_forced = 0
        self.skipped = 0  # stale video frames passed over to catch up
        self._want_keyframe = True
        self._last_keyframe = 0.0
        if self.kind == "video":
            self.encoder = SharedVideoEncoder(bitrate or 1_000_000)
            self.mime = "video/vp8"
        else:
            self.encoder = SharedAudioEncoder(bitrate or 64000)
            self.mime = "audio/opus"
        self._task = asyncio.get_running_loop().create_task(self._run())

    def attach(self) -> RelayTrack:
        track = super().attach()
        self.request_keyframe()
        return track

    def request_keyframe(self) -> None:
        self._want_keyframe = True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                frame = await self.source.recv()
                if self.kind == "video":
                    frame = self._newest(frame)
                self.frames += 1
                if self.kind == "video":
                    self.size = (frame.width, frame.height)
                if not self.began:
                    self._begin()
                for sink in self.frame_sinks:
                    sink(frame)
                if not self.viewers and not self.sinks:
                    continue  # nobody watches or records: nothing to encode
                if self.kind == "video":
                    now = time.monotonic()
                    key = self._want_keyframe and now - self._last_keyframe >= KEYFRAME_GAP
                    if key:
                        self._want_keyframe, self._last_keyframe = False, now
                        self.keyframes_forced += 1
                    packets = await loop.run_in_executor(None, self.encoder.encode, frame, key)
                else:
                    packets = self.encoder.encode(frame)
                for p in packets:
                    self.deliver(p)
        except MediaStreamError:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a stage feed failed", extra={"kind": self.kind})
        finally:
            super().stop()

    def _newest(self, frame):
        """Frames that waited while the last one was encoded and sent are stale: go to the newest, so
        a busy moment costs a few skipped frames, not a delay that never goes away. (aiortc's remote
        track queues decoded frames without limit; its queue is private, hence the care.)"""
        queue = getattr(self.source, "_queue", None)
        while queue is not None and queue.qsize() > 0:
            newer = queue.get_nowait()
            if newer is None:  # the end of the track: let the next recv() say so
                queue.put_nowait(None)
                break
            self.skipped += 1
            frame = newer
        return frame

    def stop(self) -> None:
        self._task.cancel()
        super().stop()


def watch_keyframe_requests(sender, feed: Feed) -> None:
    """A viewer's PLI or FIR reaches the aiortc sender, whose own keyframe switch does nothing for
    packets it did not encode: pass the request on to the shared encoder."""
    original = sender._send_keyframe

    def send_keyframe() -> None:
        original()
        feed.request_keyframe()

    sender._send_keyframe = send_keyframe
