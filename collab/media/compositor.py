"""The program's picture: what is on stage, composed into one yuv420p frame at the caller's rate.

Sources (the lesson video, the presenter's camera, experts, a teacher called up, a shared screen) hand
in their newest decoded frame whenever it comes (`update`); the program's clock asks for a picture
(`compose`) at its own steady rate, 30 times a second. Each source is a tile, placed by a `Layout`:

- **main + strip** (`Layout(main=key, order=...)`): the main tile takes the picture's left three
  quarters at full height; the others are stacked, centred, in a column on the right quarter (4:3 slots
  while they fit, shorter when there are more than four), at most `MAX_STRIP`. Meant for up to about
  six others; past that the grid shows people larger.
- **grid** (`Layout(main=None, order=...)`): ceil(sqrt(n)) columns, the last row centred; at most
  `MAX_GRID` tiles.

`order` lists tiles in display order; the main tile may be in it or not (it is skipped in the strip).
Sources with a frame that the layout does not name come after, in the order they first sent a frame,
so someone who just came on stage shows before the layout names them; past the limits above, the last
in that order are left out. A main whose source has no frame (yet) gives the grid. Sources show once
their first frame arrives; `remove` takes the tile away.

Pictures keep their aspect ratio inside their tile (dark bars), never stretched. A source is scaled
(swscale, in C) only when it has a new frame or its tile changed size; the scaled planes are kept and
copied into each composed frame, so a tick costs a fill, a few copies and the captions' blends.

A still (`show_still`: a card of text, e.g. a reporting group's notes) is a source that never stalls.
A source whose newest frame is older than `STALL_SECONDS` (a publisher's bad network) keeps its last
frame, dimmed, with "重新连接中…" over it (`language="en"`: "Reconnecting…"). The picture goes on at
the caller's rate whatever the sources do; with no source at all it shows the slate text.

Threads: `update`, `set_label`, `remove` and `set_layout` only swap references, so `compose` may run
on a worker thread (one at a time) while they are called on the event loop. Times are the caller's clock (`update`'s
default is `time.monotonic()`, so pass the same clock to `compose`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from collab.media import captions

STALL_SECONDS = 1.0  # no new frame for this long: the tile is dimmed and says it is reconnecting
DIM = 0.35  # a stalled tile's brightness, relative to its last frame
BLACK = (16, 128, 128)  # video black (studio range Y, neutral U and V): background and bars
GAP = 2  # pixels of background around each tile when there are several, so they read as separate
MAX_STRIP = 8  # tiles beside the main one at most (90 px high at 720p); later ones are left out
MAX_GRID = 16  # tiles in the grid at most (4 x 4); later ones are left out
RECONNECTING = {"zh": "重新连接中…", "en": "Reconnecting…"}


@dataclass(frozen=True)
class Layout:
    main: str | None  # key of the large tile; None: an even grid of all tiles
    order: tuple[str, ...] = ()  # tiles in display order; main may be included (it is skipped in the strip)


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


def _even(v: float) -> int:
    return max(0, int(v)) & ~1


def arrange(layout: Layout, present: list[str], width: int, height: int) -> dict[str, Rect]:
    """Where each present source's tile goes: key -> rectangle, all coordinates even (YUV420p)."""
    if not present:
        return {}
    named = [k for k in layout.order if k in present]
    order = list(dict.fromkeys(named + present))
    if layout.main in present:
        others = [k for k in order if k != layout.main][:MAX_STRIP]
        if not others:
            return {layout.main: Rect(0, 0, width, height)}
        strip_w = _even(width / 4)
        tile_h = _even(min(height / len(others), strip_w * 3 / 4))
        top = _even((height - tile_h * len(others)) / 2)
        rects = {layout.main: Rect(0, 0, width - strip_w, height)}
        rects |= {k: Rect(width - strip_w, top + i * tile_h, strip_w, tile_h) for i, k in enumerate(others)}
    else:
        order = order[:MAX_GRID]
        n = len(order)
        if n == 1:
            return {order[0]: Rect(0, 0, width, height)}
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        cell_w, cell_h = _even(width / cols), _even(height / rows)
        top = _even((height - rows * cell_h) / 2)
        rects = {}
        for i, k in enumerate(order):
            row, col = divmod(i, cols)
            in_row = min(cols, n - row * cols)
            left = _even((width - in_row * cell_w) / 2)
            rects[k] = Rect(left + col * cell_w, top + row * cell_h, cell_w, cell_h)
    return {k: Rect(r.x + GAP, r.y + GAP, r.w - 2 * GAP, r.h - 2 * GAP) for k, r in rects.items()}


def fit(source_w: int, source_h: int, tile: Rect) -> Rect:
    """The largest rectangle of the source's aspect ratio centred in `tile` (even coordinates)."""
    scale = min(tile.w / source_w, tile.h / source_h)
    w, h = max(2, _even(source_w * scale + 1e-6)), max(2, _even(source_h * scale + 1e-6))
    return Rect(tile.x + _even((tile.w - w) / 2), tile.y + _even((tile.h - h) / 2), w, h)


def planes_of(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Writable numpy views of a yuv420p frame's Y, U and V planes (line padding cut off)."""
    out = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        out.append(rows[:, :plane.width])
    return out[0], out[1], out[2]


class _Tile:
    """One source's frame scaled to its tile, kept until the frame or the size changes."""

    __slots__ = ("frame", "box", "planes", "dimmed", "scaler")

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self.box: Rect | None = None
        self.planes: tuple[np.ndarray, ...] = ()
        self.dimmed: tuple[np.ndarray, ...] | None = None
        self.scaler = VideoReformatter()  # keeps its swscale context while the sizes stay

    def show(self, frame: av.VideoFrame, box: Rect) -> None:
        if frame is self.frame and box == self.box:
            return
        # AREA: a 1920x1080 screen share shrunk to a tile keeps its text legible; one thread, since
        # the encoder wants the other cores
        scaled = self.scaler.reformat(frame, width=box.w, height=box.h, format="yuv420p",
                                      interpolation=Interpolation.AREA, threads=1)
        self.frame, self.box, self.planes, self.dimmed = frame, box, planes_of(scaled), None

    def dim(self) -> tuple[np.ndarray, ...]:
        if self.dimmed is None:
            self.dimmed = tuple((base + (p.astype(np.float32) - base) * DIM).astype(np.uint8)
                                for p, base in zip(self.planes, BLACK, strict=True))
        return self.dimmed


class Compositor:
    def __init__(self, width: int = 1280, height: int = 720, *, font_path: str | None = None, slate: str = "",
                 language: str = "zh") -> None:
        if width % 2 or height % 2 or width < 64 or height < 64:
            raise ValueError(f"picture size must be even and at least 64x64, not {width}x{height}")
        if language not in RECONNECTING:
            raise ValueError(f"language must be one of {sorted(RECONNECTING)}, not {language!r}")
        self.width, self.height = width, height
        self.font_path = font_path or captions.find_cjk_font()
        self.language = language
        self.layout = Layout(None)
        self.slate = slate
        self._latest: dict[str, tuple[av.VideoFrame, float]] = {}  # insertion order: who came first
        self._labels: dict[str, str] = {}
        self._tiles: dict[str, _Tile] = {}  # compose's own: only it reads and writes these

    def update(self, key: str, frame: av.VideoFrame, now: float | None = None) -> None:
        """`frame` is the source's newest picture (kept as it is: scaling waits for `compose`)."""
        self._latest[key] = (frame, time.monotonic() if now is None else now)

    def show_still(self, key: str, frame: av.VideoFrame) -> None:
        """A picture that stays as it is until replaced (a card of text): never dimmed as stalled."""
        self._latest[key] = (frame, math.inf)  # seen "forever": `now - seen` never passes STALL_SECONDS

    def set_label(self, key: str, label: str) -> None:
        """The name drawn in the lower-left of the source's tile ("" for none)."""
        self._labels[key] = label

    def remove(self, key: str) -> None:
        """The source has left the stage: its tile goes, and its label is forgotten."""
        self._latest.pop(key, None)
        self._labels.pop(key, None)

    def set_layout(self, layout: Layout) -> None:
        self.layout = layout

    def set_slate(self, text: str) -> None:
        """What the picture says while no source is there, e.g. "节目即将开始" ("" for plain dark)."""
        self.slate = text

    def compose(self, now: float) -> av.VideoFrame:
        """A new yuv420p frame, width x height, of every source as it is at `now`."""
        out = av.VideoFrame(self.width, self.height, "yuv420p")
        planes = planes_of(out)
        for plane, value in zip(planes, BLACK, strict=True):
            plane.fill(value)
        latest, labels, layout = dict(self._latest), dict(self._labels), self.layout  # one consistent view
        for key in [k for k in self._tiles if k not in latest]:
            del self._tiles[key]
        if not latest:
            if self.slate:
                self._center(planes, captions.render(self.slate, max(12, self.height // 14), self.font_path, 0),
                             Rect(0, 0, self.width, self.height))
            return out
        for key, tile_rect in arrange(layout, list(latest), self.width, self.height).items():
            frame, seen = latest[key]
            tile = self._tiles.get(key) or self._tiles.setdefault(key, _Tile())
            tile.show(frame, fit(frame.width, frame.height, tile_rect))
            box = tile.box
            stalled = now - seen > STALL_SECONDS
            for plane, src, div in zip(planes, tile.dim() if stalled else tile.planes, (1, 2, 2), strict=True):
                plane[box.y // div:(box.y + box.h) // div, box.x // div:(box.x + box.w) // div] = src
            if label := labels.get(key):
                px = max(10, min(box.h // 10, self.height // 26))
                patch = captions.render(label, px, self.font_path)
                margin = _even(max(2, px // 3))
                captions.blend(planes, patch, box.x + margin, box.y + box.h - patch.height - margin,
                               box.w - 2 * margin, patch.height)
            if stalled:
                px = max(10, min(box.h // 8, self.height // 20))
                self._center(planes, captions.render(RECONNECTING[self.language], px, self.font_path), box)
        return out

    @staticmethod
    def _center(planes: tuple[np.ndarray, ...], patch: captions.Patch, box: Rect) -> None:
        captions.blend(planes, patch, box.x + _even((box.w - patch.width) / 2),
                       box.y + _even((box.h - patch.height) / 2), box.w, box.h)
