"""The producer on its own: frames in on the event loop, a steady clock in its thread, parts out into
the rungs' playlists, numbered as LL-HLS wants them."""

from __future__ import annotations

import asyncio
import fractions

import av
import numpy as np

from collab.media.cmaf import PartOut, Rung
from collab.media.compositor import Layout
from sessions.program.producer import Numbering, Producer

SMALL = (Rung("360p", 640, 360, 600_000), Rung("180p", 320, 180, 200_000))


def part(new_segment: bool) -> PartOut:
    return PartOut(b"", 0.5, new_segment, new_segment, 0.0)


def test_parts_are_numbered_by_segment_and_index():
    n = Numbering(msn=7)
    got = [n.next(part(k)) for k in (True, False, False, False, True, False)]
    assert got == [(7, 0), (7, 1), (7, 2), (7, 3), (8, 0), (8, 1)]  # a taken-over run starts at its msn


def frame(colour: int, n: int) -> av.VideoFrame:
    f = av.VideoFrame.from_ndarray(np.full((240, 320, 3), colour, np.uint8), format="rgb24")
    f.pts, f.time_base = n, fractions.Fraction(1, 30)
    return f


def sound(n: int) -> av.AudioFrame:
    t = (np.arange(960) + n * 960) / 48000
    f = av.AudioFrame.from_ndarray((np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)[None, :], format="s16",
                                   layout="mono")
    f.sample_rate, f.pts = 48000, n * 960
    return f


async def test_a_steady_program_comes_out_of_whatever_frames_come_in():
    delivered = []
    producer = Producer(1, lambda rung, msn, index, p, date: delivered.append((rung.name, msn, index, p.duration)),
                        rungs=SMALL, preset="ultrafast", first_msn=3)
    producer.start()
    producer.set_layout(Layout("cam", ("cam",)), {"cam": "王老师"})
    for n in range(75):  # 2.5 s of a camera at 30 fps and its sound at 50 frames a second, unevenly
        producer.picture("cam", frame(200, n))
        producer.sound("cam", sound(n * 5 // 3))
        if n % 3 == 0:
            producer.sound("cam", sound(n * 5 // 3 + 1))
        await asyncio.sleep(1 / 30)
    await asyncio.sleep(0.6)
    await producer.stop()
    for rung in SMALL:
        window = producer.windows[rung.name]
        assert window.init is not None and window.ended
        mine = [d for d in delivered if d[0] == rung.name]
        assert len(mine) >= 5, delivered
        assert mine[0][1:3] == (3, 0)  # numbering starts where it was told
        assert all(0.85 * 0.5 <= d[3] <= 0.5 + 1e-6 for d in mine[:-1])  # the last may be cut short
        assert "#EXT-X-PART:" in window.render() and "#EXT-X-ENDLIST" in window.render()
    assert producer.frames >= 60 and not producer.failed



async def test_after_a_stall_the_parts_come_out_on_time_again():
    """The thread stalls past MAX_LAG and skips ahead: the sound skips with the picture, else the muxer,
    interleaving, holds every later part back by the stall (found by benchmarks/audience)."""
    import time

    delivered = []  # media end of each part, as a wall-clock date
    producer = Producer(1, lambda rung, msn, index, p, date: delivered.append(date + p.duration),
                        rungs=SMALL[1:], preset="ultrafast")
    producer.start()
    producer.set_layout(Layout("cam", ("cam",)), {"cam": "王老师"})

    async def feed(seconds: float, first: int) -> None:
        for n in range(first, first + round(30 * seconds)):
            producer.picture("cam", frame(100 + n % 100, n))
            producer.sound("cam", sound(n * 5 // 3))
            await asyncio.sleep(1 / 30)

    await feed(1.0, 0)
    producer.change(lambda compositor, mixer: time.sleep(1.6))  # the thread stalls, as on a starved machine
    await feed(3.0, 30)
    behind = time.time() - max(delivered)  # how old the newest part out is (a part is 0.5 s)
    await producer.stop()
    assert producer.late_frames > 0 and not producer.failed
    assert behind < 1.0, behind  # with the sound left behind: the stall's 1.6 s more
