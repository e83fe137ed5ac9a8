"""aiortc peer connections for the stage: one to receive a publisher's tracks, one per viewer to send
relay tracks. Offers must carry their ICE candidates (wait for gathering to complete, as aiortc does);
answers always do."""

from __future__ import annotations

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpsender import RTCRtpSender

from collab.media.relay import Feed, RelayTrack, watch_keyframe_requests

# The shared encoders speak VP8 and Opus; a viewer must take those (every browser does).
WANTED = {"video": ("video/vp8", "video/rtx"), "audio": ("audio/opus",)}
MAX_SDP = 32 * 1024  # real offers are a few KB


class OfferError(ValueError):
    pass


def _description(offer: object) -> RTCSessionDescription:
    if not isinstance(offer, dict) or offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
        raise OfferError("offer: {type: 'offer', sdp: '...'}")
    if len(offer["sdp"]) > MAX_SDP:
        raise OfferError("the offer is too large")
    return RTCSessionDescription(sdp=offer["sdp"], type="offer")


def _answer(pc: RTCPeerConnection) -> dict:
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


async def receive(offer: object, on_feed) -> tuple[RTCPeerConnection, dict]:
    """A publisher's offer: each incoming track becomes a Feed (`on_feed(feed)`). Returns the answer."""
    pc = RTCPeerConnection()

    @pc.on("track")
    def _track(track) -> None:
        if track.kind in WANTED:
            on_feed(Feed(track))

    try:
        await pc.setRemoteDescription(_description(offer))
        if not any(t.kind in WANTED for t in pc.getTransceivers()):
            raise OfferError("the offer sends no audio or video")
        for t in pc.getTransceivers():
            t.direction = "recvonly"
        await pc.setLocalDescription(await pc.createAnswer())
    except OfferError:
        await pc.close()
        raise
    except Exception as exc:  # aiortc rejects SDP it cannot use with assorted exceptions
        await pc.close()
        raise OfferError(f"the offer cannot be used: {exc}"[:200]) from None
    return pc, _answer(pc)


async def send(offer: object, feeds: dict[str, Feed]) -> tuple[RTCPeerConnection, dict, list[RelayTrack]]:
    """A viewer's offer (receive-only transceivers): answer with relay tracks of `feeds` by kind."""
    pc = RTCPeerConnection()
    tracks: list[RelayTrack] = []
    try:
        await pc.setRemoteDescription(_description(offer))
        if not any(t.kind in feeds for t in pc.getTransceivers()):
            raise OfferError("the offer receives none of the tracks this publisher sends")
        for t in pc.getTransceivers():
            feed = feeds.get(t.kind)
            if feed is None:
                t.direction = "inactive"
                continue
            track = feed.attach()
            tracks.append(track)
            t.sender.replaceTrack(track)
            t.direction = "sendonly"
            watch_keyframe_requests(t.sender, feed)
            caps = RTCRtpSender.getCapabilities(t.kind).codecs
            t.setCodecPreferences([c for c in caps if c.mimeType.lower() in WANTED[t.kind]])
        await pc.setLocalDescription(await pc.createAnswer())
    except OfferError:
        await pc.close()
        raise
    except Exception as exc:
        for track in tracks:
            track.stop()
        await pc.close()
        raise OfferError(f"the offer cannot be used: {exc}"[:200]) from None
    return pc, _answer(pc), tracks
