"""python -m benchmarks.program.picture [--ticks N]: what the program's picture and sound cost per tick.

The compositor (collab/media/compositor.py) at 1280x720 with a 1920x1080 shared screen as the main tile
and four 640x480 cameras in the strip, all labelled, in the states a live activity goes through; and the
mixer (collab/media/mixer.py) with five voices pushing as aiortc and a decoded lesson video do. Each
compose and each pull is timed on its own (wall clock); CPU is the process's over all ticks (swscale
runs on one thread, so the two agree unless the machine is busy). See benchmarks/README.md ("Program").
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np

from benchmarks.fanout.report import cell, machine
from collab.media.compositor import Compositor, Layout
from collab.media.mixer import Mixer

HERE = Path(__file__).resolve().parent
FPS = 30
CAMERAS = ("expert1", "expert2", "host", "teacher")


def pictures(width: int, height: int, count: int, seed: int) -> list[av.VideoFrame]:
    """`count` distinct yuv420p frames of noise (a scaler's cost does not depend on the content)."""
    rng = np.random.default_rng(seed)
    return [av.VideoFrame.from_ndarray(rng.integers(0, 256, (height * 3 // 2, width), np.uint8), format="yuv420p")
            for _ in range(count)]


def compose_case(width: int, height: int, ticks: int, screen_every: int, cameras_every: int,
                 stalled: int = 0) -> dict:
    """Compose `ticks` frames; the screen sends a new frame every `screen_every` ticks and each camera
    every `cameras_every` (0: the same frame object again every tick: live, nothing to scale);
    `stalled` cameras send nothing after the first frame (stalled after STALL_SECONDS)."""
    screen, cams = pictures(1920, 1080, 4, 1), {k: pictures(640, 480, 4, i + 2) for i, k in enumerate(CAMERAS)}
    comp = Compositor(width, height)
    comp.set_layout(Layout(main="screen", order=CAMERAS))
    comp.set_label("screen", "王老师的屏幕")
    for k in CAMERAS:
        comp.set_label(k, f"{k}（专家）")
    comp.update("screen", screen[0], now=0)
    for k in CAMERAS:
        comp.update(k, cams[k][0], now=0)
    comp.compose(0)  # first scale of everything, not part of the steady state
    wall, cpu0 = [], time.process_time()
    for i in range(1, ticks + 1):
        now = i / FPS
        t0 = time.perf_counter()
        if not screen_every or i % screen_every == 0:
            comp.update("screen", screen[i % 4 if screen_every else 0], now)
        for j, k in enumerate(CAMERAS):
            if j >= stalled and (not cameras_every or i % cameras_every == 0):
                comp.update(k, cams[k][i % 4 if cameras_every else 0], now)
        frame = comp.compose(now)
        wall.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    assert (frame.width, frame.height) == (width, height)
    return summary(wall, cpu, 1 / FPS)


def summary(wall: list[float], cpu: float, period: float) -> dict:
    us = sorted(w * 1e6 for w in wall)
    mean_cpu = cpu * 1e6 / len(wall)
    return {"p50_us": us[len(us) // 2], "p99_us": us[int(len(us) * 0.99)], "max_us": us[-1],
            "cpu_us": mean_cpu, "core_pct": 100 * mean_cpu / (period * 1e6)}


def scale_alone(width: int, height: int, box: tuple[int, int], n: int = 200) -> float:
    """µs for one swscale of a width x height frame to `box`, as the compositor calls it."""
    from av.video.reformatter import Interpolation, VideoReformatter

    frames, scaler = pictures(width, height, 4, 9), VideoReformatter()
    t0 = time.perf_counter()
    for i in range(n):
        scaler.reformat(frames[i % 4], width=box[0], height=box[1], format="yuv420p",
                        interpolation=Interpolation.AREA, threads=1)
    return (time.perf_counter() - t0) * 1e6 / n


def voices(seconds: float) -> dict[str, list[av.AudioFrame]]:
    """Four aiortc voices (s16 stereo 48 kHz, 20 ms) and a lesson video's decoded audio (fltp 44.1 kHz,
    1024 samples)."""
    out = {}
    for i, k in enumerate(CAMERAS):
        wave = (0.2 * np.sin(2 * np.pi * (200 + 50 * i) * np.arange(960) / 48000) * 32767).astype(np.int16)
        frames = []
        for _ in range(round(seconds / 0.02)):
            f = av.AudioFrame.from_ndarray(np.repeat(wave, 2).reshape(1, -1), format="s16", layout="stereo")
            f.sample_rate = 48000
            frames.append(f)
        out[k] = frames
    lesson = []
    for _ in range(round(seconds * 44100 / 1024)):
        f = av.AudioFrame.from_ndarray(np.full((2, 1024), 0.1, np.float32), format="fltp", layout="stereo")
        f.sample_rate = 44100
        lesson.append(f)
    out["lesson"] = lesson
    return out


def mixer_case(seconds: float) -> dict:
    """The program's clock pulls every 1024 / 48000 s while five voices push as they arrive."""
    mixer, events = Mixer(), []
    for key, frames in voices(seconds).items():
        at = 0.0
        for f in frames:
            events.append((at, 0, key, f))
            at += f.samples / f.sample_rate
    events += [(j * 1024 / 48000, 1, None, None) for j in range(1, round(seconds * 48000 / 1024))]
    events.sort(key=lambda e: e[:2])
    pulls, pushes = [], []
    cpu0 = time.process_time()
    for _, is_pull, key, frame in events:
        t0 = time.perf_counter()
        if is_pull:
            mixer.pull()
            pulls.append(time.perf_counter() - t0)
        else:
            mixer.push(key, frame)
            pushes.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    out = summary(pulls, 0.0, 1024 / 48000)
    out["push_us"] = statistics.mean(pushes) * 1e6
    out["cpu_us"] = cpu * 1e6 / len(pulls)  # pushes included: the sound's whole cost per AAC frame
    out["core_pct"] = 100 * cpu / seconds
    return out


CASES = [  # (label, width, height, screen_every, cameras_every, stalled)
    ("no source has a new picture (all scaled planes reused)", 1280, 720, 0, 0, 0),
    ("cameras 30 fps, screen 5 fps (a shared screen changes rarely)", 1280, 720, 6, 1, 0),
    ("every source new every tick (screen at 30 fps too: the worst case)", 1280, 720, 1, 1, 0),
    ("cameras 30 fps, screen 5 fps, one camera stalled (dimmed + caption)", 1280, 720, 6, 1, 1),
    ("360p program: cameras 30 fps, screen 5 fps", 640, 360, 6, 1, 0),
]


def table(res: dict) -> str:
    lines = ["| compose at 30 fps: 1920x1080 screen as main + 4 labelled 640x480 cameras | "
             "p50 / p99 / max µs per frame | CPU µs per frame | % of a core at 30 fps |", "|---|---|---|---|"]
    for label, r in res["compose"].items():
        lines.append(f"| {label} | {cell(r['p50_us'])} / {cell(r['p99_us'])} / {cell(r['max_us'])} | "
                     f"{cell(r['cpu_us'])} | {cell(r['core_pct'])} |")
    lines += ["", "| one swscale (AREA, 1 thread), as the compositor does when a frame is new | µs |", "|---|---|"]
    lines += [f"| {k} | {cell(v)} |" for k, v in res["scale"].items()]
    m = res["mixer"]
    lines += ["", "| mixer: 4 aiortc voices (s16 stereo 48 kHz, 20 ms) + a lesson video (fltp 44.1 kHz) | value |",
              "|---|---|",
              f"| pull() p50 / p99 / max µs | {cell(m['p50_us'])} / {cell(m['p99_us'])} / {cell(m['max_us'])} |",
              f"| push() mean µs (resampling included) | {cell(m['push_us'])} |",
              f"| CPU µs per AAC frame (1024 samples), pushes included | {cell(m['cpu_us'])} |",
              f"| % of a core (CPU per second of sound) | {cell(m['core_pct'])} |"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.program.picture")
    ap.add_argument("--ticks", type=int, default=900, help="frames composed per case (900 = 30 s of program)")
    ns = ap.parse_args()
    info = machine()
    t0 = time.monotonic()
    res = {"compose": {}, "scale": {}}
    for label, w, h, screen_every, cameras_every, stalled in CASES:
        res["compose"][label] = compose_case(w, h, ns.ticks, screen_every, cameras_every, stalled)
        print(f"{label}: {res['compose'][label]}", flush=True)
    res["scale"] = {"1920x1080 screen -> 956x538 main tile": scale_alone(1920, 1080, (956, 538)),
                    "640x480 camera -> 314x236 strip tile": scale_alone(640, 480, (314, 236))}
    res["mixer"] = mixer_case(ns.ticks / FPS)
    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    head = ("# Program picture and sound: cost per tick\n\nGenerated by `python -m benchmarks.program.picture`; "
            "see benchmarks/README.md (\"Program picture and sound\").\n\n"
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} at {info['commit']}"
            f"{' (collab/ dirty)' if info['collab_dirty'] else ''} on {info['cpus']} cores / {info['memory_gb']} GB, "
            f"Python {info['python']}, PyAV {av.__version__}, {ns.ticks} ticks per case, load average before "
            f"{info['loadavg_before']} / after {info['loadavg_after']}, took {time.monotonic() - t0:.0f} s. "
            f"Command: `{shlex.join(['python', '-m', 'benchmarks.program.picture', *sys.argv[1:]])}`")
    text = head + "\n\n" + table(res) + "\n"
    print(text)
    (HERE / "results-picture.txt").write_text(text)


if __name__ == "__main__":
    main()
