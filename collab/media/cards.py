"""Cards: text drawn as a picture, for a tile of the program (a reporting group's notes beside their
rapporteur). A card is a still: drawn once per change of its text, off the event loop (a card of 640x720
takes Pillow some tens of milliseconds), and shown by the compositor as a source that never stalls.

The text is a title (in a bar at the top) and blocks: headings (the guiding questions) and paragraphs
(the answers), wrapped to the card's width character by character, as Chinese wraps; English words
wrap at spaces when they can. What does not fit ends in "…". Chinese needs a CJK font
(`captions.find_cjk_font()`); without one, Pillow's default font draws boxes, and nothing fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from collab.media import captions

PAPER = (246, 244, 238)  # the card's ground
BAR = (30, 62, 110)  # the title bar
INK = (28, 28, 30)  # paragraphs
HEADING = (30, 62, 110)  # headings, the bar's colour
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Block:
    text: str
    heading: bool = False


def wrap(text: str, face: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """`text` in lines no wider than `width` pixels: broken between any two CJK characters, and at a
    space in Latin text when the line has one (a word longer than the line is cut)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if face.getlength(line + ch) <= width or not line:
                line += ch
                continue
            cut = line.rfind(" ") if ch != " " and ch.isascii() else -1
            if cut > 0 and line[cut + 1:].isascii():
                lines.append(line[:cut])
                line = line[cut + 1:] + ch
            else:
                lines.append(line.rstrip())
                line = "" if ch == " " else ch
        lines.append(line)
    return lines


def draw(title: str, blocks: Sequence[Block], width: int = 640, height: int = 720,
         font_path: str | None = None) -> Image.Image:
    """The card as an RGB image."""
    path = font_path or captions.find_cjk_font()
    image = Image.new("RGB", (width, height), PAPER)
    pen = ImageDraw.Draw(image)
    margin = max(8, width // 24)
    title_px, heading_px, body_px = max(12, height // 22), max(11, height // 28), max(10, height // 32)
    bar_h = title_px * 2
    pen.rectangle((0, 0, width, bar_h), fill=BAR)
    title_face = captions.font(path, title_px)
    title_line = wrap(title, title_face, width - 2 * margin)[0]
    pen.text((margin, (bar_h - title_px) // 2), title_line, font=title_face, fill=(255, 255, 255))
    y = bar_h + margin // 2
    bottom = height - margin // 2
    for block in blocks:
        face = captions.font(path, heading_px if block.heading else body_px)
        px = heading_px if block.heading else body_px
        step = int(px * 1.4)
        y += px // 3 if block.heading else 0
        for line in wrap(block.text, face, width - 2 * margin):
            if y + step > bottom:  # no room for the rest: say so on the last line there was room for
                _ellipsis(pen, image, margin, y - step, step)
                return image
            pen.text((margin, y), line, font=face, fill=HEADING if block.heading else INK)
            y += step
    return image


def _ellipsis(pen: ImageDraw.ImageDraw, image: Image.Image, x: int, y: int, step: int) -> None:
    face = captions.font(captions.find_cjk_font(), max(10, step * 5 // 7))
    w = int(face.getlength(ELLIPSIS)) + 4
    pen.rectangle((image.width - x - w, y, image.width, y + step), fill=PAPER)
    pen.text((image.width - x - w, y), ELLIPSIS, font=face, fill=INK)


def frame(image: Image.Image) -> av.VideoFrame:
    """A card's picture for the compositor (yuv420p; even sizes)."""
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[0] & ~1, rgb.shape[1] & ~1
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24").reformat(format="yuv420p")
