"""The other end: the publisher process, and viewer processes of many aiortc viewers each.

Viewers count frames where aiortc's receiver hands them to its decoder thread. On a 2-core machine
not every viewer can decode (VP8 640x480 decoding costs ~0.7 ms a frame here, ~2% of a core per viewer,
so 100 viewers would need the whole machine): `decoders` viewers per process decode every frame and
read the publisher's timestamp out of the picture (latency, and proof that the pictures are whole);
the others count the encoded frames aiortc's jitter buffer completes, which is what they would have
decoded. Both go through everything else of aiortc's receive path (ICE, DTLS, SRTP, RTP, NACK,
RTCP reports, REMB, jitter buffer). This is done by replacing `aiortc.rtcrtpreceiver.decoder_worker`,
the body of the receiver's decoder thread, with one that counts (and decodes for the sampled viewers).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass

SAMPLE_EVERY = 1.0  # seconds between frame-count samples, per viewer process


@dataclass
class ViewerSpec:
    index: int
    decoders: int  # viewers of this process that decode (the first ones created)
    nice: int = 0  # added to the process's nice value (the relay under test keeps its priority)


@dataclass
class PublisherSpec:
    width: int = 640
    height: int = 480


def publisher_main(pipe, spec: PublisherSpec) -> None:
    from benchmarks.stage.procs import serve

    serve(pipe, lambda: Publisher(spec))


def viewer_main(pipe, spec: ViewerSpec) -> None:
    import os

    from benchmarks.stage.procs import serve

    if spec.nice:
        os.nice(spec.nice)

    serve(pipe, lambda: ViewerProcess(spec))


class Publisher:
    def __init__(self, spec: PublisherSpec) -> None:
        from aiortc import RTCPeerConnection

        from benchmarks.stage.media import StampedPicture

        self.track = StampedPicture(spec.width, spec.height)
        self.pc = RTCPeerConnection()

    async def offer(self, _=None) -> dict:
        from benchmarks.stage.media import offer_to_send

        return await offer_to_send(self.pc, [self.track])

    async def accept(self, answer: dict) -> None:
        from benchmarks.stage.media import accept

        await accept(self.pc, answer)

    async def stats(self, _=None) -> dict:
        return {"frames": self.track.n, "state": self.pc.connectionState}

    async def close(self, _=None) -> None:
        await self.pc.close()


class Viewer:
    def __init__(self, pc, decode: bool) -> None:
        self.pc = pc
        self.decode = decode
        self.frames = 0
        self.decode_errors = 0
        self.bad_stamps = 0
        self.latencies: list[int] = []
        self.recording = False

    def on_frame(self, frame) -> None:  # decoding viewers, on the event loop
        from benchmarks.stage.media import age_ms, read_stamp

        self.frames += 1
        if self.recording:
            stamp = read_stamp(frame)
            age = age_ms(stamp) if stamp is not None else None
            if age is None:
                self.bad_stamps += 1
            else:
                self.latencies.append(age)


BY_QUEUE: dict = {}  # the receiver track's queue (what aiortc gives the decoder thread) -> Viewer


def counting_decoder_worker(loop, input_q, output_q, decode_error) -> None:
    """Stands in for aiortc.rtcrtpreceiver.decoder_worker (same arguments, same end-of-stream)."""
    import av
    from aiortc.codecs import get_decoder

    viewer = None
    decoder = None
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            break
        codec, encoded_frame = task
        if viewer is None:
            viewer = BY_QUEUE.get(output_q)
            if viewer is None:
                continue
        if not viewer.decode:
            viewer.frames += 1  # only this thread writes it
            continue
        if decoder is None:
            decoder = get_decoder(codec)
        try:
            frames = decoder.decode(encoded_frame)
        except av.FFmpegError:
            viewer.decode_errors += 1
            decode_error.set()  # aiortc's receiver then sends a PLI, as with its own worker
            continue
        for frame in frames:
            loop.call_soon_threadsafe(viewer.on_frame, frame)


class ViewerProcess:
    def __init__(self, spec: ViewerSpec) -> None:
        import aiortc.rtcrtpreceiver

        aiortc.rtcrtpreceiver.decoder_worker = counting_decoder_worker
        self.spec = spec
        self.viewers: list[Viewer] = []
        self.pending: list[Viewer] = []
        self.samples: list[tuple[float, list[int]]] = []
        self.recording = False
        self._sampler = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY)
            if self.recording:
                self.samples.append((time.monotonic(), [v.frames for v in self.viewers]))

    async def offers(self, k: int) -> list[dict]:
        from aiortc import RTCPeerConnection

        from benchmarks.stage.media import offer_to_receive

        out = []
        for _ in range(k):
            pc = RTCPeerConnection()
            decoding = sum(1 for v in self.viewers + self.pending if v.decode)
            viewer = Viewer(pc, decode=decoding < self.spec.decoders)

            @pc.on("track")
            def _track(track, viewer=viewer) -> None:
                BY_QUEUE[track._queue] = viewer

            out.append(await offer_to_receive(pc, ("video",)))
            self.pending.append(viewer)
        return out

    async def accept(self, answers: list[dict]) -> int:
        from benchmarks.stage.media import accept

        for viewer, answer in zip(self.pending, answers):
            await accept(viewer.pc, answer)
            self.viewers.append(viewer)
        self.pending = []
        return len(self.viewers)

    async def progress(self, _=None) -> dict:
        return {"viewers": len(self.viewers),
                "connected": sum(1 for v in self.viewers if v.pc.connectionState == "connected"),
                "failed": sum(1 for v in self.viewers if v.pc.connectionState in ("failed", "closed")),
                "with_frames": sum(1 for v in self.viewers if v.frames > 0)}

    async def mark(self, _=None) -> dict:
        for v in self.viewers:
            v.latencies.clear()
            v.bad_stamps = 0
            v.decode_errors = 0
            v.recording = True
        self.samples = [(time.monotonic(), [v.frames for v in self.viewers])]
        self.recording = True
        return {"viewers": len(self.viewers)}

    async def report(self, _=None) -> dict:
        self.recording = False
        end = (time.monotonic(), [v.frames for v in self.viewers])
        samples = self.samples + [end]
        t0, c0 = samples[0]
        wall = end[0] - t0
        out = []
        for i, v in enumerate(self.viewers):
            v.recording = False
            per_second = [(b[1][i] - a[1][i]) / (b[0] - a[0]) for a, b in itertools.pairwise(samples)
                          if b[0] - a[0] > 0.2]
            out.append({"decode": v.decode, "frames": end[1][i] - c0[i],
                        "fps": (end[1][i] - c0[i]) / wall if wall else 0.0,
                        "fps_median_1s": statistics.median(per_second) if per_second else 0.0,
                        "fps_min_1s": min(per_second) if per_second else 0.0,
                        "latencies_ms": v.latencies[:] if v.decode else [],
                        "bad_stamps": v.bad_stamps, "decode_errors": v.decode_errors,
                        "state": v.pc.connectionState})
        return {"wall": wall, "viewers": out}

    async def close(self, _=None) -> None:
        self._sampler.cancel()
        await asyncio.gather(*(v.pc.close() for v in self.viewers + self.pending), return_exceptions=True)
