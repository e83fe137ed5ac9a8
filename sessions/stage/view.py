"""One view: the peer connection that sends a publisher's feeds to one viewer, or to another node's
link (`sessions.stage.bridge`), with a relay track per feed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collab.media.relay import RelayTrack


@dataclass(eq=False)
class View:
    id: str
    publisher_id: int | str
    pc: Any  # aiortc's RTCPeerConnection
    tracks: list[RelayTrack]
    client: Any = None  # the viewer's socket; None for another node's link

    async def close(self) -> None:
        """Stop its relay tracks (the feeds forget them) and close the connection. Closing twice is
        harmless: the viewer's socket and the publisher's leaving may both close it."""
        for track in self.tracks:
            track.stop()
        await self.pc.close()
