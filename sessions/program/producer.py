"""Making one activity's program on this node: taps on the stage's feeds, composed and mixed and
encoded once per rung on a steady clock, cut into LL-HLS parts.

The clock runs in a thread of its own: composing and encoding 720p and 360p take most of a core's
tenth every frame, which the event loop must never wait for. Frames reach the thread through a
one-slot mailbox per source (a newer frame replaces an older one not yet composed) and sound through
a queue; the thread owns the compositor, the mixer and the encoders, so none of them needs a lock.
Parts go back to the loop (`call_soon_threadsafe`), which adds them to the playlists and hands them
to the other nodes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import av

from collab.media.cmaf import RUNGS, PartOut, RenditionEncoder, Rung
from collab.media.compositor import Compositor, Layout
from collab.media.llhls import MediaWindow
from collab.media.mixer import Mixer

log = logging.getLogger("collab.program")

FPS = 30
PART_SECONDS = 0.5
SEGMENT_SECONDS = 2.0
AUDIO_RATE = 48000
AAC_FRAME = 1024
MAX_LAG = 1.0  # seconds behind its clock after which the thread gives up catching up


@dataclass
class Numbering:
    """Media sequence numbers and part indexes of one rung, as parts come out of its encoder."""

    msn: int
    index: int = -1
    started: bool = False

    def next(self, part: PartOut) -> tuple[int, int]:
        if part.new_segment and self.started:
            self.msn, self.index = self.msn + 1, 0
        else:
            self.index += 1
        self.started = True
        return self.msn, self.index


@dataclass
class _Inbox:
    """What the loop hands the thread: newest picture per source, sound in order, and changes."""

    pictures: dict[str, av.VideoFrame] = field(default_factory=dict)
    sounds: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    changes: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)  # callables on the thread's objects
    lock: threading.Lock = field(default_factory=threading.Lock)


OnPart = Callable[[Rung, int, int, PartOut, float], None]  # rung, msn, index, part, wall-clock date


class Producer:
    """One activity's program; `windows` are its live playlists (one per rung)."""

    def __init__(self, activity_id: int, on_part: OnPart | None = None, *, rungs: tuple[Rung, ...] = RUNGS,
                 first_msn: int = 0, slate: str = "", preset: str | None = None) -> None:
        self.activity_id = activity_id
        self.rungs = rungs
        self.on_part = on_part
        self.windows = {r.name: MediaWindow(rung=r.name, part_target=PART_SECONDS, segment_target=SEGMENT_SECONDS)
                        for r in rungs}
        self.numbering = {r.name: Numbering(first_msn) for r in rungs}
        self._inbox = _Inbox()
        self._slate = slate
        self._preset = preset
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.started_wall = 0.0
        self.frames = 0
        self.late_frames = 0  # frames skipped because the thread fell behind its clock
        self.failed = False  # the thread stopped on an error

    # -- from the loop -------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"program-{self.activity_id}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop the clock, flush the last parts, end the playlists."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        for window in self.windows.values():
            window.end()

    def picture(self, key: str, frame: av.VideoFrame) -> None:
        with self._inbox.lock:
            self._inbox.pictures[key] = frame

    def sound(self, key: str, frame: av.AudioFrame) -> None:
        self._inbox.sounds.put((key, frame))

    def change(self, do: Callable[[Compositor, Mixer], None]) -> None:
        """Run `do(compositor, mixer)` on the thread before its next frame (labels, layout, removals)."""
        self._inbox.changes.put(do)

    def set_layout(self, layout: Layout, labels: dict[str, str]) -> None:
        def do(compositor: Compositor, mixer: Mixer) -> None:
            for key, text in labels.items():
                compositor.set_label(key, text)
            compositor.set_layout(layout)
        self.change(do)

    def still(self, key: str, frame: av.VideoFrame) -> None:
        """A picture that stays until replaced or removed (a card: collab.media.cards)."""
        self.change(lambda compositor, mixer: compositor.show_still(key, frame))

    def remove(self, key: str) -> None:
        with self._inbox.lock:
            self._inbox.pictures.pop(key, None)
        self.change(lambda compositor, mixer: (compositor.remove(key), mixer.remove(key)))

    # -- the thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        top = self.rungs[0]  # composed at the top rung's size; the others are scaled from it
        compositor = Compositor(top.width, top.height, slate=self._slate)
        mixer = Mixer(rate=AUDIO_RATE, layout="stereo", frame_samples=AAC_FRAME)
        encoders = {r.name: RenditionEncoder(r, fps=FPS, part_seconds=PART_SECONDS, segment_seconds=SEGMENT_SECONDS,
                                             **({"preset": self._preset} if self._preset else {}))
                    for r in self.rungs}
        t0 = time.perf_counter()
        self.started_wall = time.time()
        samples = 0
        n = 0
        try:
            while not self._stop.is_set():
                due = t0 + n / FPS
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                elif now - due > MAX_LAG:  # the machine stalled: skip ahead instead of racing to catch up
                    skipped = int((now - due) * FPS)
                    n += skipped
                    self.late_frames += skipped
                    # the sound is not skipped: the encoders repeat the picture over the skipped frames
                    # and the loop below encodes the mixer's sound for them, so both tracks stay at the
                    # same time (a sound track left behind makes the muxer hold every part back by it)
                    log.warning("the program fell behind its clock", extra={"activity": self.activity_id,
                                                                            "frames": skipped})
                self._take_inbox(compositor, mixer)
                picture = compositor.compose(time.monotonic())
                out: list[tuple[Rung, PartOut]] = []
                for rung in self.rungs:
                    frame = picture if (rung.width, rung.height) == (picture.width, picture.height) else \
                        picture.reformat(width=rung.width, height=rung.height)
                    out += [(rung, p) for p in encoders[rung.name].video(frame, n)]
                n += 1
                while samples < n * AUDIO_RATE // FPS:
                    sound = mixer.pull()
                    sound.pts = samples
                    samples += AAC_FRAME
                    for rung in self.rungs:
                        out += [(rung, p) for p in encoders[rung.name].audio(sound)]
                self.frames = n
                if out:
                    self._loop.call_soon_threadsafe(self._deliver, out, [e.init for e in encoders.values()])
            last = [(rung, p) for rung in self.rungs for p in encoders[rung.name].close()]
            if last:
                self._loop.call_soon_threadsafe(self._deliver, last, [e.init for e in encoders.values()])
        except Exception:
            self.failed = True
            log.exception("the program stopped", extra={"activity": self.activity_id})

    def _take_inbox(self, compositor: Compositor, mixer: Mixer) -> None:
        inbox = self._inbox
        while not inbox.changes.empty():
            inbox.changes.get_nowait()(compositor, mixer)
        with inbox.lock:
            pictures, inbox.pictures = inbox.pictures, {}
        for key, frame in pictures.items():
            compositor.update(key, frame)
        while not inbox.sounds.empty():
            key, frame = inbox.sounds.get_nowait()
            mixer.push(key, frame)

    # -- back on the loop ----------------------------------------------------------------------------

    def _deliver(self, out: list[tuple[Rung, PartOut]], inits: list[bytes | None]) -> None:
        for rung, init in zip(self.rungs, inits):
            window = self.windows[rung.name]
            if window.init is None and init is not None:
                window.set_init(init)
        for rung, part in out:
            msn, index = self.numbering[rung.name].next(part)
            date = self.started_wall + part.start
            self.windows[rung.name].add_part(msn, index, part.duration, part.independent, part.data, date)
            if self.on_part is not None:
                self.on_part(rung, msn, index, part, date)
