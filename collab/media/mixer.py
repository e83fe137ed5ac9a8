"""The program's sound: every voice on stage mixed into one steady stream for the AAC encoder.

Sources push decoded `av.AudioFrame`s whenever they come (aiortc: s16 at 48 kHz, mono or stereo, 20 ms;
a lesson video's audio as its decoder makes it). Each source is resampled on the way in to the mix's
format and kept in its own small buffer. The program's clock pulls exactly `frame_samples` samples at
the AAC frame cadence (1024 / 48000 s), whatever the sources do: silence when nobody speaks.

Each source's buffer is a jitter buffer:
- **It starts once it holds `PREBUFFER` seconds** (and again after it ran dry), so a voice arriving in
  20 ms packets against 21.3 ms pulls, with network jitter on top, does not stutter at every pull.
- **Short of samples**, a playing source gives what it has, padded with silence, and prebuffers again.
- **Far behind** (more than `MAX_BACKLOG` buffered, e.g. after a burst of late packets, or a source
  whose clock runs fast), its oldest samples are dropped down to `PREBUFFER`: the voice stays in step
  with the picture instead of trailing it by more and more.

Voices are summed in float32 and soft-limited: below `KNEE` a sample passes untouched, above it is
bent smoothly (tanh) towards 1.0, so several loud speakers at once never exceed [-1, 1] nor wrap.

`push`, `remove` and `pull` take a lock: pushes come on the event loop, pulls may come from the
program's encoding thread.
"""

from __future__ import annotations

import fractions
import threading

import av
import numpy as np

PREBUFFER = 0.06  # seconds a source holds before it plays
MAX_BACKLOG = 0.2  # seconds buffered past which a source's oldest samples are dropped
KNEE = 0.8  # the limiter leaves samples below this alone


class _Source:
    """One voice: its resampler and its buffered samples, (channels, n) float32, oldest first."""

    __slots__ = ("resampler", "shape", "samples", "playing")

    def __init__(self, channels: int) -> None:
        self.resampler: av.AudioResampler | None = None
        self.shape: tuple | None = None  # (format, layout, rate) the resampler was made for
        self.samples = np.zeros((channels, 0), np.float32)
        self.playing = False


def soft_limit(mix: np.ndarray) -> np.ndarray:
    """Samples above `KNEE` in magnitude bent smoothly towards 1 (continuous, rising, at most 1)."""
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    if peak <= KNEE:
        return mix
    over = np.abs(mix) > KNEE
    bent = np.sign(mix) * (KNEE + (1 - KNEE) * np.tanh((np.abs(mix) - KNEE) / (1 - KNEE)))
    return np.where(over, bent, mix).astype(np.float32)


class Mixer:
    def __init__(self, rate: int = 48000, layout: str = "stereo", frame_samples: int = 1024) -> None:
        self.rate, self.layout, self.frame_samples = rate, layout, frame_samples
        self.channels = av.AudioLayout(layout).nb_channels
        self.prebuffer = round(PREBUFFER * rate)
        self.max_backlog = round(MAX_BACKLOG * rate)
        self.time_base = fractions.Fraction(1, rate)
        self._pts = 0
        self._sources: dict[str, _Source] = {}
        self._lock = threading.Lock()

    def push(self, key: str, frame: av.AudioFrame) -> None:
        """`frame` is the next sound of source `key`, in any format, rate or layout."""
        with self._lock:
            source = self._sources.get(key) or self._sources.setdefault(key, _Source(self.channels))
            shape = (frame.format.name, frame.layout.name, frame.sample_rate)
            if shape != source.shape:  # first frame, or the source changed format: a resampler for it
                # a mono voice is resampled as mono and put on every channel at its own level:
                # swresample's upmix would lower it by 3 dB against the stereo sources
                mono = frame.layout.nb_channels == 1
                source.resampler = av.AudioResampler(format="fltp", layout="mono" if mono else self.layout,
                                                     rate=self.rate)
                source.shape = shape
            chunks = [f.to_ndarray() for f in source.resampler.resample(frame)]
            if not chunks:
                return
            if chunks[0].shape[0] != self.channels:
                chunks = [np.repeat(c, self.channels, axis=0) for c in chunks]
            source.samples = np.concatenate([source.samples, *chunks], axis=1)
            if source.samples.shape[1] > self.max_backlog:
                source.samples = source.samples[:, -self.prebuffer:]

    def remove(self, key: str) -> None:
        with self._lock:
            self._sources.pop(key, None)

    def buffered(self, key: str) -> float:
        """Seconds of `key`'s sound waiting to be mixed (0 for an unknown source): its delay."""
        with self._lock:
            source = self._sources.get(key)
            return source.samples.shape[1] / self.rate if source else 0.0

    def pull(self) -> av.AudioFrame:
        """The next `frame_samples` samples of the mix: fltp, `rate`, `layout`; pts counts samples."""
        n = self.frame_samples
        mix = np.zeros((self.channels, n), np.float32)
        with self._lock:
            for source in self._sources.values():
                have = source.samples.shape[1]
                if not source.playing:
                    if have < self.prebuffer:
                        continue
                    source.playing = True
                take = min(n, have)
                mix[:, :take] += source.samples[:, :take]
                source.samples = source.samples[:, take:]
                if take < n:  # ran dry: wait for a prebuffer's worth before playing again
                    source.playing = False
        frame = av.AudioFrame.from_ndarray(soft_limit(mix), format="fltp", layout=self.layout)
        frame.sample_rate = self.rate
        frame.time_base = self.time_base
        frame.pts = self._pts
        self._pts += n
        return frame
