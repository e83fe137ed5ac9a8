"""A picture that says when it was made, readable after the program has shrunk it into a tile and
encoded it at 360p: glass-to-glass latency without a camera.

The card (640x480) is green, with a grid of 8 x 5 black or white cells in its upper part and a grey
square moving along the bottom band (so the encoders see motion). Its rows say:

    row 0        the check pattern 0xA5: a read that does not find it is a misread (and its known
                 white and black cells set the threshold for the others)
    rows 1-3     the publisher's wall clock in ms, mod 2^24 (4.6 h: ages are taken mod 2^24 too)
    row 4        a check byte of those 24 bits

A reader finds the card wherever the program put it: the bounding box of its green pixels (the
program's background is dark, tiles of other sources are not green), then the cells at their
fractions of that box. The bottom band carries no cells, since the program writes the speaker's name
into a tile's lower left. Cells are 72 x 64 px on the card: in the smallest tile of the program's
strip (a quarter of 720p, four tiles high) at 360p they are ~13 px, several H.264 blocks each.

The same geometry is read in the browser (`page.js` takes `GEOMETRY`), so both readers agree.
"""

from __future__ import annotations

import time

import av

WIDTH, HEIGHT = 640, 480
COLS, ROWS = 8, 5
LEFT, TOP, CELL_W, CELL_H = 32, 32, 72, 64  # the grid: x 32-608, y 32-352; below it the band
PATTERN = 0xA5
MASK = 0xFFFFFF
GREEN = (145, 54, 34)  # RGB (0, 255, 0) in studio-range BT.601 Y, U, V
WHITE, BLACK = 235, 16
BAND_Y = 384  # the moving square's top
SQUARE = 48
GEOMETRY = {"width": WIDTH, "height": HEIGHT, "cols": COLS, "rows": ROWS, "left": LEFT, "top": TOP,
            "cellW": CELL_W, "cellH": CELL_H, "pattern": PATTERN}


def now_ms() -> int:
    return int(time.time() * 1000) & MASK


def check(ms: int) -> int:
    return ((ms & 0xFF) * 3 + ((ms >> 8) & 0xFF) * 7 + ((ms >> 16) & 0xFF) * 13 + 0x5A) & 0xFF


def bits_of(ms: int) -> list[int]:
    """The 40 cells, row by row: 1 white, 0 black."""
    ms &= MASK
    word = PATTERN << 32 | ms << 8 | check(ms)
    return [(word >> (39 - i)) & 1 for i in range(COLS * ROWS)]


def decode_bits(bits: list[int]) -> int | None:
    """The stamp in 40 read cells, or None when the pattern or the check byte says it is a misread."""
    word = 0
    for b in bits:
        word = word << 1 | b
    if word >> 32 != PATTERN:
        return None
    ms, got = (word >> 8) & MASK, word & 0xFF
    return ms if check(ms) == got else None


def age_ms(stamp: int, now: int | None = None) -> int | None:
    """ms from the stamp to now; None when that is not a plausible age (< 0 or over a minute)."""
    age = ((now_ms() if now is None else now) - stamp) & MASK
    return age if age < 60_000 else None


class Card:
    """Builds card frames (yuv420p) for a stamp; the planes it does not change are made once."""

    def __init__(self) -> None:
        w, h = WIDTH, HEIGHT
        self.u = bytes([GREEN[1]]) * (w * h // 4)
        self.v = bytes([GREEN[2]]) * (w * h // 4)
        cell_uv = bytes([128]) * (CELL_W // 2)
        # chroma of the grid rows: green margins, neutral cells
        grid_uv = lambda g: bytes([g]) * (LEFT // 2) + cell_uv * COLS + bytes([g]) * ((w - LEFT - COLS * CELL_W) // 2)
        self.u = self._rows(self.u, grid_uv(GREEN[1]), w // 2)
        self.v = self._rows(self.v, grid_uv(GREEN[2]), w // 2)
        self.green_row = bytes([GREEN[0]]) * w

    @staticmethod
    def _rows(plane: bytes, row: bytes, stride: int) -> bytes:
        top, bottom = TOP // 2, (TOP + ROWS * CELL_H) // 2
        return plane[:top * stride] + row * (bottom - top) + plane[bottom * stride:]

    def frame(self, ms: int, n: int) -> av.VideoFrame:
        w = WIDTH
        bits = bits_of(ms)
        luma = bytearray(self.green_row * HEIGHT)
        for r in range(ROWS):
            row = bytearray(self.green_row)
            for c in range(COLS):
                x = LEFT + c * CELL_W
                row[x:x + CELL_W] = bytes([WHITE if bits[r * COLS + c] else BLACK]) * CELL_W
            y0 = TOP + r * CELL_H
            luma[y0 * w:(y0 + CELL_H) * w] = bytes(row) * CELL_H
        x = (n * 8) % (w - SQUARE)  # the moving square: across the band every ~2 s at 30 fps
        for y in range(BAND_Y, BAND_Y + SQUARE):
            luma[y * w + x:y * w + x + SQUARE] = b"\x80" * SQUARE
        frame = av.VideoFrame(w, HEIGHT, "yuv420p")
        frame.planes[0].update(bytes(luma))
        frame.planes[1].update(self.u)
        frame.planes[2].update(self.v)
        return frame


def read_rgb(rgb) -> int | None:
    """The stamp in a decoded picture (an H x W x 3 uint8 numpy array), wherever the card is in it; None
    when no card is found or the read fails its checks."""
    import numpy as np

    r, g, b = (rgb[:, :, i].astype(np.int16) for i in range(3))
    green = (g > 120) & (r < 100) & (b < 100) & (g - np.maximum(r, b) > 70)
    rows = np.flatnonzero(green.sum(axis=1) >= 4)
    cols = np.flatnonzero(green.sum(axis=0) >= 4)
    if len(rows) < 8 or len(cols) < 8:
        return None
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    sx, sy = (x1 - x0) / WIDTH, (y1 - y0) / HEIGHT
    luma = (r + g + b) / 3
    levels = []
    for row in range(ROWS):
        for col in range(COLS):
            cx, cy = x0 + (LEFT + (col + 0.5) * CELL_W) * sx, y0 + (TOP + (row + 0.5) * CELL_H) * sy
            hx, hy = max(1, int(CELL_W * sx / 5)), max(1, int(CELL_H * sy / 5))
            levels.append(float(luma[int(cy) - hy:int(cy) + hy + 1, int(cx) - hx:int(cx) + hx + 1].mean()))
    return decode_levels(levels)


def decode_levels(levels: list[float]) -> int | None:
    """Cells' brightness -> stamp: the pattern row's known whites and blacks set the threshold."""
    want = [(PATTERN >> (7 - i)) & 1 for i in range(COLS)]
    whites = [v for v, w in zip(levels, want) if w]
    blacks = [v for v, w in zip(levels, want) if not w]
    lo, hi = max(blacks), min(whites)
    if hi - lo < 40:  # no clear white and black: not a card, or a smeared one
        return None
    cut = (lo + hi) / 2
    return decode_bits([1 if v > cut else 0 for v in levels])


def read_frame(frame: av.VideoFrame) -> int | None:
    return read_rgb(frame.to_ndarray(format="rgb24"))
