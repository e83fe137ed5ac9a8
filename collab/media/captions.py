"""Text on the program's picture: tile names ("张老师（专家）"), "重新连接中…", the slate.

Pillow draws a caption once per (text, size) into a small grey patch with an alpha channel; the
compositor alpha-blends the patch into its YUV420p planes on every frame, which costs a few
microseconds for a name-sized patch. Captions are white text on a semi-transparent dark box: grey
only, so the chroma planes are simply pulled towards neutral under the box.

Chinese needs a CJK font: `find_cjk_font()` looks in the places Debian and others install one
(fonts-wqy-zenhei is the one the test script installs). Without one, Pillow's default font is used:
CJK characters then show as boxes, but nothing fails.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Where CJK fonts live on Debian/Ubuntu (fonts-wqy-zenhei, fonts-wqy-microhei, fonts-noto-cjk,
# fonts-droid-fallback), in order of preference.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)

BOX_ALPHA = 150  # the dark box behind a name: the picture shows through, the text stays readable


def find_cjk_font() -> str | None:
    """The first CJK font installed here, or None (then Pillow's default font is used)."""
    return next((p for p in CJK_FONTS if os.path.isfile(p)), None)


@dataclass(frozen=True, eq=False)
class Patch:
    """A caption ready to blend into YUV420p planes. Width and height are even, so the chroma
    (half size) lines up; `y_alpha` and `uv_alpha` are premultiplied helpers for `blend`."""

    width: int
    height: int
    y_premul: np.ndarray  # (h, w) uint16: luma * alpha
    y_keep: np.ndarray  # (h, w) uint16: 255 - alpha, the share of the picture that stays
    uv_premul: np.ndarray  # (h/2, w/2) uint16: 128 * alpha, neutral chroma
    uv_keep: np.ndarray  # (h/2, w/2) uint16

    @classmethod
    def from_la(cls, image: Image.Image) -> Patch:
        """From a Pillow "LA" image (grey + alpha); an odd edge is trimmed."""
        la = np.asarray(image, dtype=np.uint16)
        h, w = (la.shape[0] // 2) * 2, (la.shape[1] // 2) * 2
        grey, alpha = la[:h, :w, 0], la[:h, :w, 1]
        luma = 16 + (grey * 219 + 127) // 255  # studio range, as swscale writes yuv420p
        uv_alpha = alpha.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).round().astype(np.uint16)
        return cls(w, h, luma * alpha, 255 - alpha, 128 * uv_alpha, 255 - uv_alpha)


@functools.lru_cache(maxsize=64)
def font(path: str | None, px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """`path` at `px` pixels; Pillow's default font when there is no path or it cannot be read."""
    if path:
        try:
            return ImageFont.truetype(path, px)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, ImportError, OSError):  # a Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


@functools.lru_cache(maxsize=256)
def render(text: str, px: int, font_path: str | None, box_alpha: int = BOX_ALPHA) -> Patch:
    """White `text` (lines centred) at `px` pixels on a dark box of opacity `box_alpha` (0: no box)."""
    face = font(font_path, px)
    pad = max(2, px // 4)
    probe = ImageDraw.Draw(Image.new("LA", (1, 1)))
    left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=face, align="center", spacing=px // 4)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    w, h = w + (w & 1), h + (h & 1)
    box = Image.new("LA", (w, h), (0, box_alpha))
    ink = Image.new("LA", (w, h), (255, 0))
    ImageDraw.Draw(ink).multiline_text((pad - left, pad - top), text, font=face, fill=(255, 255),
                                       align="center", spacing=px // 4)
    # LA has no alpha_composite: go through RGBA, grey either way
    out = Image.alpha_composite(box.convert("RGBA"), ink.convert("RGBA")).convert("LA")
    return Patch.from_la(out)


def blend(planes: tuple[np.ndarray, np.ndarray, np.ndarray], patch: Patch, x: int, y: int,
          width: int | None = None, height: int | None = None) -> None:
    """Blend `patch` into `planes` (Y, U, V of a yuv420p picture) with its top-left at (x, y), both
    even, cropped to `width` x `height` (e.g. the tile it labels) and to the picture."""
    luma = planes[0]
    w = min(patch.width, luma.shape[1] - x, patch.width if width is None else width) & ~1
    h = min(patch.height, luma.shape[0] - y, patch.height if height is None else height) & ~1
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        return
    region = luma[y:y + h, x:x + w]
    region[:] = (region * patch.y_keep[:h, :w] + patch.y_premul[:h, :w] + 127) // 255
    for chroma in planes[1:]:
        region = chroma[y // 2:(y + h) // 2, x // 2:(x + w) // 2]
        region[:] = (region * patch.uv_keep[:h // 2, :w // 2] + patch.uv_premul[:h // 2, :w // 2] + 127) // 255
