"""Decoded frames of a stage feed, for whoever composes them (the program).

A published track (`Feed`) is decoded already by its receiver: a tap is a callback on those frames,
no second decode. A file's feed (the lesson video) is passed through as packets and never decoded for
WebRTC viewers; tapping it decodes it, once, for all taps.
"""

from __future__ import annotations

import logging
from typing import Callable

import av

from collab.media.relay import Fanout, Feed

log = logging.getLogger("collab.media")

DECODERS = {"video/vp8": "vp8", "video/h264": "h264", "audio/opus": "opus"}

OnFrame = Callable[[av.VideoFrame | av.AudioFrame], None]


class _PacketDecoder:
    """Decodes a packet feed for its taps; errors (a packet before the first keyframe) skip a packet."""

    def __init__(self, fanout: Fanout) -> None:
        self.codec = av.CodecContext.create(DECODERS[fanout.mime], "r")
        self.taps: list[OnFrame] = []

    def __call__(self, packet: av.Packet) -> None:
        try:
            frames = self.codec.decode(av.Packet(bytes(packet)))
        except av.error.FFmpegError:
            return
        for frame in frames:
            for tap in list(self.taps):
                tap(frame)


def tap(fanout: Fanout, on_frame: OnFrame) -> Callable[[], None]:
    """Call `on_frame` with each decoded frame of `fanout` from now on; returns the way to stop."""
    if isinstance(fanout, Feed):  # its receiver decodes every frame already
        fanout.frame_sinks.append(on_frame)
        return lambda: _discard(fanout.frame_sinks, on_frame)
    decoder = next((s for s in fanout.sinks if isinstance(s, _PacketDecoder)), None)
    if decoder is None:
        decoder = _PacketDecoder(fanout)
        fanout.sinks.append(decoder)
        fanout.request_keyframe()
    decoder.taps.append(on_frame)

    def untap() -> None:
        _discard(decoder.taps, on_frame)
        if not decoder.taps:
            _discard(fanout.sinks, decoder)
    return untap


def _discard(items: list, item) -> None:
    try:
        items.remove(item)
    except ValueError:
        pass
