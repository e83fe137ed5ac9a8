"""Generated stage video with a timestamp in the picture, and the SDP helpers of the peers.

`StampedPicture` is tests/media_peers.py's MovingPicture (640x480 at 30 fps, a diagonal gradient moving a
row per frame and a V plane changing every frame, made without numpy), plus a strip of 32 black or
white 16x16 blocks along the top: the publisher's wall clock in ms (24 bits) and a check byte. A viewer
that decodes reads the strip back (`read_stamp`) and subtracts it from its own clock (same machine):
publisher -> viewer latency, glass to glass minus the camera. The strip survives VP8 at these rates
(high-contrast, macroblock-aligned blocks); a read whose check byte is wrong is discarded and counted.
"""

from __future__ import annotations

import time

import av
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

BLOCK = 16
BITS = 32
HIGH, LOW = 235, 16
MASK = 0xFFFFFF


def now_ms() -> int:
    return int(time.time() * 1000) & MASK


def _check(ms: int) -> int:
    return ((ms & 0xFF) + ((ms >> 8) & 0xFF) * 7 + ((ms >> 16) & 0xFF) * 13 + 0x5A) & 0xFF


class StampedPicture(VideoStreamTrack):
    """640x480 at 30 fps whose content changes every frame, stamped with the time it was made."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        super().__init__()
        assert width >= BITS * BLOCK
        self.width, self.height = width, height
        self.n = 0
        self.luma = bytes((x + y) // 3 % 256 for y in range(height + 64) for x in range(width))
        self.chroma = bytes([128]) * (width * height // 4)
        self._levels = (bytes([LOW]) * BLOCK, bytes([HIGH]) * BLOCK)
        self._pad = bytes([128]) * (width - BITS * BLOCK)

    def strip(self, ms: int) -> bytes:
        word = (ms & MASK) << 8 | _check(ms & MASK)
        row = b"".join(self._levels[(word >> (BITS - 1 - i)) & 1] for i in range(BITS)) + self._pad
        return row * BLOCK

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.n += 1
        w, h = self.width, self.height
        offset = (self.n % 64) * w
        frame = av.VideoFrame(w, h, "yuv420p")
        frame.planes[0].update(self.strip(now_ms()) + self.luma[offset + BLOCK * w:offset + w * h])
        frame.planes[1].update(self.chroma)
        frame.planes[2].update(bytes([(self.n * 3) % 256]) * (w * h // 4))
        frame.pts, frame.time_base = pts, time_base
        return frame


def read_stamp(frame: av.VideoFrame) -> int | None:
    """The ms stamp in a decoded frame, or None when the strip does not read back."""
    plane = frame.planes[0]
    if frame.width < BITS * BLOCK or frame.height < BLOCK:
        return None
    mv = memoryview(plane)
    base = (BLOCK // 2) * plane.line_size + BLOCK // 2
    word = 0
    for i in range(BITS):
        word = word << 1 | (mv[base + i * BLOCK] > 128)
    ms, check = word >> 8, word & 0xFF
    return ms if _check(ms) == check else None


def age_ms(stamp: int) -> int | None:
    """ms since the stamp; None for a stamp from the future (a misread that passed the check byte)."""
    age = (now_ms() - stamp) & MASK
    return age if age < MASK // 2 else None


async def offer_to_receive(pc: RTCPeerConnection, kinds=("video",)) -> dict:
    for kind in kinds:
        pc.addTransceiver(kind, direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}


async def offer_to_send(pc: RTCPeerConnection, tracks) -> dict:
    for t in tracks:
        pc.addTrack(t)
    await pc.setLocalDescription(await pc.createOffer())
    return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}


async def accept(pc: RTCPeerConnection, answer: dict) -> None:
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
