"""The process under test: one publisher's video in, N viewers out.

mode "collab": what `sessions/stage/` does on a node. `collab.media.peers.receive` answers the
publisher and makes a `collab.media.relay.Feed` of its track (decoded once, encoded once by the shared
VP8 encoder); each viewer's offer goes to `collab.media.peers.send(offer, feeds)`, whose RelayTracks
hand the same packets to every viewer's aiortc sender. The process runs like `collab serve`: uvloop, and
the collector tuned by `server.cli._tune_gc`. No /ws, database or policy: only the media path.

mode "aiortc": the plain aiortc way, the baseline. The publisher's track goes into one
`aiortc.contrib.media.MediaRelay`; each viewer's peer connection gets `relay.subscribe(track)`
(`pc.addTrack`), so each viewer's RTCRtpSender receives decoded frames and runs its own VP8 encoder.
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import statistics
import time
from dataclasses import dataclass

LAG_EVERY = 0.02


@dataclass
class RelaySpec:
    mode: str  # "collab" or "aiortc"
    switch_interval: float = 0.0  # 0: Python's default (5 ms), as the server runs; else sys.setswitchinterval
    cpu: int = -1  # >= 0: pin the relay (and the threads it will start) to this CPU


def relay_main(pipe, spec: RelaySpec) -> None:
    import os

    from benchmarks.stage.procs import serve

    if spec.cpu >= 0:
        os.sched_setaffinity(0, {spec.cpu})  # before any thread exists: they inherit it

    serve(pipe, lambda: Relay(spec))


class Relay:
    def __init__(self, spec: RelaySpec) -> None:
        from server.cli import _tune_gc

        _tune_gc()  # as `collab serve` does before it starts
        if spec.switch_interval:
            import sys

            sys.setswitchinterval(spec.switch_interval)
        self.mode = spec.mode
        self.pub_pc = None
        self.feeds: dict = {}  # collab: kind -> Feed
        self.source = None  # aiortc: the publisher's video track
        self.media_relay = None
        self.source_frames = 0
        self.views: list = []  # (pc, tracks)
        self._drain_task = None
        self.stun_requests = 0
        self._count_stun_requests()
        self.lags: list[float] = []  # event loop lateness, ms, measured every LAG_EVERY
        self.encodes: list[tuple[float, float]] = []  # shared encoder calls: (start, end), perf_counter
        self._lag_task = asyncio.get_running_loop().create_task(self._lag())

    async def _lag(self) -> None:
        """How late the loop runs a 20 ms timer: how long it was busy (a burst of sends, handshakes)."""
        while True:
            t = time.perf_counter()
            await asyncio.sleep(LAG_EVERY)
            self.lags.append(1000 * (time.perf_counter() - t - LAG_EVERY))

    def _time_encoder(self, feed) -> None:
        """Wraps the Feed's shared encoder to record when each encode started and ended (executor thread)."""
        encode = feed.encoder.encode
        relay = self

        def timed(frame, keyframe):
            t0 = time.perf_counter()
            try:
                return encode(frame, keyframe)
            finally:
                relay.encodes.append((t0, time.perf_counter()))

        feed.encoder.encode = timed

    def _count_stun_requests(self) -> None:
        """Counts STUN requests the relay answers (viewers' connectivity and consent checks): a counter
        around aioice's handler, nothing else changed."""
        from aioice import ice

        original = ice.Connection.request_received
        relay = self

        def request_received(conn, *args, **kwargs):
            relay.stun_requests += 1
            return original(conn, *args, **kwargs)

        ice.Connection.request_received = request_received

    # -- the publisher ------------------------------------------------------------------------
    async def publish(self, offer: dict) -> dict:
        if self.mode == "collab":
            from collab.media import peers

            def on_feed(feed) -> None:
                self.feeds[feed.kind] = feed
                if feed.kind == "video":
                    self._time_encoder(feed)

            self.pub_pc, answer = await peers.receive(offer, on_feed)
            return answer
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.contrib.media import MediaRelay

        pc = self.pub_pc = RTCPeerConnection()

        @pc.on("track")
        def _track(track) -> None:
            if track.kind == "video":
                self.source = track
                self.media_relay = MediaRelay()
                # read the source from the start (as a Feed does), counting frames: one more subscriber
                # that only counts, so the receiver's queue never holds a backlog for the first viewers
                self._drain_task = asyncio.get_running_loop().create_task(
                    self._drain(self.media_relay.subscribe(track, buffered=False)))

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        for t in pc.getTransceivers():
            t.direction = "recvonly"
        await pc.setLocalDescription(await pc.createAnswer())
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    async def _drain(self, track) -> None:
        try:
            while True:
                await track.recv()
                self.source_frames += 1
        except Exception:  # noqa: BLE001, S110 - the source ended
            pass

    def _frames(self) -> int:
        if self.mode == "collab":
            feed = self.feeds.get("video")
            return feed.frames if feed else 0
        return self.source_frames

    async def wait_source(self, timeout: float) -> dict:
        """Until the publisher's video is decoded here (frames counted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._frames() >= 10:
                return {"frames": self._frames()}
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no video from the publisher after {timeout:g} s (frames {self._frames()})")

    # -- viewers ------------------------------------------------------------------------------
    async def watch(self, offers: list[dict]) -> dict:
        """Answer viewers' offers one after another, as a node answers stage.watch commands."""
        answers, t0 = [], time.process_time()
        for offer in offers:
            if self.mode == "collab":
                from collab.media import peers

                pc, answer, tracks = await peers.send(offer, self.feeds)
                self.views.append((pc, tracks))
            else:
                answer = await self._watch_aiortc(offer)
            answers.append(answer)
        return {"answers": answers, "cpu_s": time.process_time() - t0}

    async def _watch_aiortc(self, offer: dict) -> dict:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        track = self.media_relay.subscribe(self.source)
        pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        self.views.append((pc, [track]))
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    # -- numbers ------------------------------------------------------------------------------
    async def stats(self, _=None) -> dict:
        """Counters now: source frames decoded, packets and bytes every viewer's sender sent, losses the
        viewers reported (RTCP receiver reports), and what the collab relay itself counted."""
        sent_packets = sent_bytes = lost = 0
        connected = 0
        codecs: dict[str, int] = {}
        for pc, _tracks in self.views:
            if pc.connectionState == "connected":
                connected += 1
            for sender in pc.getSenders():
                if sender.track is None and self.mode == "aiortc":
                    continue
                report = await sender.getStats()
                for s in report.values():
                    if s.type == "outbound-rtp":
                        sent_packets += s.packetsSent
                        sent_bytes += s.bytesSent
                    elif s.type == "remote-inbound-rtp":
                        lost += max(0, s.packetsLost)
        for pc, _tracks in self.views[:1]:
            for t in pc.getTransceivers():
                for c in (getattr(t, "_codecs", None) or [])[:1]:
                    codecs[c.mimeType] = codecs.get(c.mimeType, 0) + 1
        out = {"frames": self._frames(), "sent_packets": sent_packets, "sent_bytes": sent_bytes,
               "lost_reported": lost, "stun_requests": self.stun_requests, "viewers": len(self.views), "connected": connected, "codec": codecs,
               "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        # where a backlog would build: encoded frames waiting for the receiver's decoder thread, decoded
        # frames waiting to be read from the receiver's track (by the Feed, or by MediaRelay)
        for r in self.pub_pc.getReceivers() if self.pub_pc else []:
            if r.track is not None and r.track.kind == "video":
                dq = getattr(r, "_RTCRtpReceiver__decoder_queue", None)
                out["decoder_queue"] = dq.qsize() if dq is not None else None
                out["source_queue"] = r.track._queue.qsize()
        if self.mode == "collab":
            feed = self.feeds.get("video")
            if feed is not None:
                out.update({"feed_packets": feed.packets, "keyframes_forced": feed.keyframes_forced,
                            "relay_tracks": len(feed.viewers),
                            "relay_tracks_waiting_for_keyframe": sum(1 for v in feed.viewers
                                                                     if v.waiting_for_keyframe),
                            "relay_queue_max": max((len(v._queue) for v in feed.viewers), default=0)})
        return out

    async def timings(self, reset: bool) -> dict:
        """Loop lateness and shared-encoder timings since the last reset."""
        lags, encs = self.lags, self.encodes
        if reset:
            self.lags, self.encodes = [], []
            return {}

        def pct(xs, p):
            s = sorted(xs)
            return round(s[min(len(s) - 1, int(len(s) * p / 100))], 2) if s else None

        durations = [1000 * (b - a) for a, b in encs]
        gaps = [1000 * (b[0] - a[1]) for a, b in itertools.pairwise(encs)]  # one encode's end to the next's start
        return {"loop_lag_ms": {"p50": pct(lags, 50), "p99": pct(lags, 99), "max": pct(lags, 100)},
                "encode_ms": {"p50": pct(durations, 50), "p99": pct(durations, 99)},
                "encode_end_to_next_start_ms": {"p50": pct(gaps, 50), "p99": pct(gaps, 99),
                                                "mean": round(statistics.mean(gaps), 2) if gaps else None}}

    async def close(self, _=None) -> None:
        self._lag_task.cancel()
        for pc, tracks in self.views:
            for t in tracks:
                t.stop()
            await pc.close()
        for feed in self.feeds.values():
            feed.stop()
        if self.pub_pc is not None:
            await self.pub_pc.close()
