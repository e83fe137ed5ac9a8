"""python -m benchmarks.program [--seconds 20] [--presets veryfast,superfast,ultrafast] [--paced 10]

See benchmarks/README.md ("Program encode") and results.md.

Encodes synthetic moving content (FFmpeg's testsrc2 pattern, with temporal noise like a camera's) at
each rung of collab.media.cmaf.RUNGS with each x264 preset, and reports:

- encoder CPU (user + system, all threads) per second of media, the source's own cost subtracted;
- part durations (min / max) and how many frames after its last frame a part came out;
- with --paced N: N seconds fed in real time (frames at 30 fps, audio at 48 kHz, both rungs in one
  thread as the program's worker would), and the delay from a part's media end to its PartOut.
"""

from __future__ import annotations

import argparse
import array
import math
import os
import statistics
import time

import av

from collab.media.cmaf import AUDIO_FRAME, AUDIO_RATE, RUNGS, RenditionEncoder

FPS = 30
SOURCE = os.environ.get("PROGRAM_BENCH_SOURCE", "testsrc2=size={w}x{h}:rate=30,noise=alls=6:allf=t")


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def tone(k: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=AUDIO_FRAME)
    frame.sample_rate = AUDIO_RATE
    samples = array.array("f", [0.2 * math.sin(2 * math.pi * 440 * (k * AUDIO_FRAME + j) / AUDIO_RATE)
                                for j in range(AUDIO_FRAME)]).tobytes()
    for plane in frame.planes:
        plane.update(samples)
    return frame


def frames(rung):
    return av.open(SOURCE.format(w=rung.width, h=rung.height), format="lavfi").decode(video=0)


def measure(rung, preset: str, seconds: int) -> dict:
    encoder = RenditionEncoder(rung, preset=preset)
    source = frames(rung)
    tones = [tone(k) for k in range(50)]
    source_cpu = 0.0
    durations, lags = [], []
    samples = 0
    start = cpu()
    for index in range(seconds * FPS):
        t = cpu()
        frame = next(source)
        source_cpu += cpu() - t
        out = encoder.video(frame, index)
        while samples < (index + 1) * AUDIO_RATE // FPS:
            out += encoder.audio(tones[(samples // AUDIO_FRAME) % len(tones)])
            samples += AUDIO_FRAME
        for part in out:
            durations.append(part.duration)
            lags.append(index - round((part.start + part.duration) * FPS) + 1)
    encoder.close()
    used = cpu() - start - source_cpu
    return {"cpu_per_s": used / seconds, "part_min": min(durations[:-1]), "part_max": max(durations),
            "lag_frames": sorted(set(lags))}


def paced(preset: str, seconds: int) -> dict:
    """Both rungs in one thread, fed in real time: media end of a part -> its PartOut, in ms."""
    encoders = [RenditionEncoder(r, preset=preset) for r in RUNGS]
    sources = [frames(r) for r in RUNGS]
    tones = [tone(k) for k in range(50)]
    delays = []
    began = time.perf_counter()
    samples = 0
    index = 0
    while index < seconds * FPS:
        now = time.perf_counter() - began
        due_frame = index / FPS
        due_audio = samples / AUDIO_RATE
        if min(due_frame, due_audio) > now:
            time.sleep(min(due_frame, due_audio) - now)
            continue
        outs = []
        if due_audio <= due_frame:
            for e in encoders:
                outs += e.audio(tones[(samples // AUDIO_FRAME) % len(tones)])
            samples += AUDIO_FRAME
        else:
            for e, s in zip(encoders, sources):
                outs += e.video(next(s), index)
            index += 1
        ready = time.perf_counter() - began
        delays += [(ready - (p.start + p.duration)) * 1000 for p in outs]
    for e in encoders:
        e.close()
    delays.sort()
    return {"p50": statistics.median(delays), "max": delays[-1], "n": len(delays)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--presets", default="veryfast,superfast,ultrafast")
    parser.add_argument("--paced", type=int, default=0, help="seconds of a real-time run of both rungs")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {args.seconds} s of {SOURCE.format(w='W', h='H')} per run")
    print("| preset | rung | encoder CPU, cores | part duration min / max s | part out after its last frame, frames |")
    print("|---|---|---|---|---|")
    for preset in args.presets.split(","):
        total = 0.0
        for rung in RUNGS:
            r = measure(rung, preset, args.seconds)
            total += r["cpu_per_s"]
            print(f"| {preset} | {rung.name} | {r['cpu_per_s']:.3f} | {r['part_min']:.3f} / {r['part_max']:.3f} "
                  f"| {', '.join(map(str, r['lag_frames']))} |")
        print(f"| {preset} | **both** | **{total:.3f}** | | |")
    if args.paced:
        for preset in args.presets.split(","):
            r = paced(preset, args.paced)
            print(f"paced {preset}: part media end -> PartOut p50 {r['p50']:.0f} ms, max {r['max']:.0f} ms "
                  f"({r['n']} parts, both rungs)")


if __name__ == "__main__":
    main()
