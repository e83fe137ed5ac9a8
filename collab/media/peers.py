"""aiortc peer connections for the stage: one to receive a publisher's tracks, one per viewer to send
relay tracks. Offers must carry their ICE candidates (wait for gathering to complete, as aiortc does);
answers always do."""

from __future__ import annotations

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcpeerconnection import filter_preferred_codecs
from aiortc.rtcrtpsender import RTCRtpSender

from collab.errors import DomainError
from collab.media.relay import SCREEN_VIDEO_BITRATE, Fanout, Feed, RelayTrack, watch_keyframe_requests

# What a publisher may send us. Viewers are offered each feed's own codec: VP8 and Opus from the
# shared encoders, or a lesson video's H.264 passed through (every browser takes all three).
WANTED = {"video": ("video/vp8", "video/rtx"), "audio": ("audio/opus",)}
MAX_SDP = 32 * 1024  # real offers are a few KB


def new_peer() -> RTCPeerConnection:
    """No STUN server: a node answers with its own addresses. aiortc's default would ask Google's
    public STUN server on every answer (a DNS lookup in the encoder's thread pool, then a wait)."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


class OfferError(DomainError):
    """An SDP offer the relay cannot use: a command's `invalid` argument."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid", message)


def _description(offer: object) -> RTCSessionDescription:
    if not isinstance(offer, dict) or offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
        raise OfferError("offer: {type: 'offer', sdp: '...'}")
    if len(offer["sdp"]) > MAX_SDP:
        raise OfferError("the offer is too large")
    return RTCSessionDescription(sdp=_without_mdns(offer["sdp"]), type="offer")


def _without_mdns(sdp: str) -> str:
    """Browsers that hide their addresses offer `<uuid>.local` candidates. aioice waits up to a second
    to resolve each before answering, and cannot here; the browser's own checks reveal its address
    anyway (a peer-reflexive candidate). Dropping them answers a watching teacher a second sooner."""
    lines = sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n")
    kept = [line for line in lines if not (line.startswith("a=candidate:") and ".local " in line)]
    return ("\r\n" if "\r\n" in sdp else "\n").join(kept)


def _answer(pc: RTCPeerConnection) -> dict:
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


async def receive(offer: object, on_feed, *, screen: bool = False) -> tuple[RTCPeerConnection, dict]:
    """A publisher's offer: each incoming track becomes a Feed (`on_feed(feed)`). Returns the answer.
    A shared `screen` must send video (its sound is optional), encoded at the screen's bitrate."""
    pc = new_peer()
    sent: set[str] = set()  # the kinds the offer really sends (aiortc announces them as it takes it)

    @pc.on("track")
    def _track(track) -> None:
        if track.kind in WANTED:
            sent.add(track.kind)
            on_feed(Feed(track, SCREEN_VIDEO_BITRATE if screen and track.kind == "video" else None))

    try:
        await pc.setRemoteDescription(_description(offer))
        if not any(t.kind in WANTED for t in pc.getTransceivers()):
            raise OfferError("the offer sends no audio or video")
        if screen and "video" not in sent:
            raise OfferError("a shared screen's offer sends no video")
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


async def send(offer: object, feeds: dict[str, Fanout]) -> tuple[RTCPeerConnection, dict, list[RelayTrack]]:
    """A viewer's offer (receive-only transceivers): answer with relay tracks of `feeds` by kind."""
    pc = new_peer()
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
            t.setCodecPreferences([c for c in caps if c.mimeType.lower() in (feed.mime, "video/rtx")])
            # aiortc matched codecs when the offer was set, before these preferences existed: apply them
            t._codecs = filter_preferred_codecs(t._codecs, t._preferred_codecs)
            if not t._codecs:
                raise OfferError(f"the viewer cannot receive {feed.mime}")
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
