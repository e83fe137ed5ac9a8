"""A viewer on a lossy link: real aiortc peers around the relay, with one in twenty packets dropped on
the viewer's side. VP8 with keyframes thousands of frames apart would freeze at the first loss; NACK
retransmissions from the viewer's sender history and PLI-forced keyframes on the shared encoder keep
the picture moving."""

from __future__ import annotations

import asyncio
import random

from aiortc import RTCPeerConnection, RTCSessionDescription

from collab.media import peers
from collab.media.relay import Feed
from media_peers import Counter, MovingPicture, accept, offer_to_receive, offer_to_send


async def test_a_viewer_losing_packets_keeps_a_moving_picture():
    publisher, relay_in = RTCPeerConnection(), peers.new_peer()
    feeds = {}
    relay_in.on("track", lambda track: feeds.setdefault(track.kind, Feed(track)))
    offer = await offer_to_send(publisher, [MovingPicture()])
    await relay_in.setRemoteDescription(RTCSessionDescription(**offer))
    await relay_in.setLocalDescription(await relay_in.createAnswer())
    await accept(publisher, {"sdp": relay_in.localDescription.sdp, "type": "answer"})
    for _ in range(100):
        if "video" in feeds:
            break
        await asyncio.sleep(0.05)

    viewer = RTCPeerConnection()
    counters: list[Counter] = []
    viewer.on("track", lambda track: counters.append(Counter(track)))
    relay_out, answer, _ = await peers.send(await offer_to_receive(viewer, ("video",)), feeds)
    await accept(viewer, answer)

    # the lossy link: the viewer's receiver never sees one packet in twenty
    receiver = viewer.getTransceivers()[0].receiver
    original, rng, dropped = receiver._handle_rtp_packet, random.Random(7), [0]

    async def lossy(packet, arrival_time_ms):
        if rng.random() < 0.05:
            dropped[0] += 1
            return
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = lossy
    await asyncio.sleep(5)
    video = counters[0]
    feed = feeds["video"]
    try:
        assert dropped[0] >= 15  # the link really was lossy (about 5% of some 110 packets a second)
        # 5 s at 30 fps is 150 frames: most are decoded, the picture never freezes for good
        assert video.frames >= 100, (video.frames, dropped[0], feed.keyframes_forced)
    finally:
        for pc in (publisher, relay_in, viewer, relay_out):
            await pc.close()
        feed.stop()
