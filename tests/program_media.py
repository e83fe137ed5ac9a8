"""Media for the program's tests: a moving picture with a camera's noise (FFmpeg's testsrc2 pattern, the
same frames on every run), a tone, and a rendition encoded from them (collab/media/cmaf.py)."""

from __future__ import annotations

import array
import math
from collections.abc import Iterator
from dataclasses import dataclass

import av

from collab.media.cmaf import AUDIO_FRAME, AUDIO_RATE, PartOut, RenditionEncoder, Rung

FPS = 30


def pictures(rung: Rung) -> Iterator[av.VideoFrame]:
    source = f"testsrc2=size={rung.width}x{rung.height}:rate={FPS},noise=alls=6:allf=t"
    return av.open(source, format="lavfi").decode(video=0)


def tone(k: int, hz: float = 440.0) -> av.AudioFrame:
    """The k-th 1024 samples of a sine, fltp stereo at 48 kHz."""
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=AUDIO_FRAME)
    frame.sample_rate = AUDIO_RATE
    samples = array.array("f", [0.2 * math.sin(2 * math.pi * hz * (k * AUDIO_FRAME + j) / AUDIO_RATE)
                                for j in range(AUDIO_FRAME)])
    for plane in frame.planes:
        plane.update(samples.tobytes())
    return frame


@dataclass
class Encoded:
    init: bytes
    parts: list[PartOut]
    frames: int  # video frames in the rendition (the last index + 1: missing ones are repeated)
    samples: int  # audio samples fed
    made_after: list[int]  # for each part, how many frames after its last frame it came out


def encode(rung: Rung, frames: int, *, skip: frozenset[int] = frozenset(), **options) -> Encoded:
    """`frames` frames of video (leaving out the indexes in `skip`) and the audio of the same time,
    fed as a live program's worker would: a frame, then the audio up to its end."""
    encoder = RenditionEncoder(rung, fps=FPS, **options)
    source = pictures(rung)
    tones = [tone(k) for k in range(47)]  # about a second, repeated
    parts: list[PartOut] = []
    made_after = []
    samples = 0
    for index in range(frames):
        picture = next(source)
        if index in skip:
            continue
        out = encoder.video(picture, index)
        while samples < (index + 1) * AUDIO_RATE // FPS:
            out += encoder.audio(tones[(samples // AUDIO_FRAME) % len(tones)])
            samples += AUDIO_FRAME
        for part in out:
            made_after.append(index - (round((part.start + part.duration) * FPS) - 1))
        parts += out
    parts += encoder.close()
    assert encoder.init is not None
    return Encoded(encoder.init, parts, frames, samples, made_after)
