"""One publication on a stage: a person's camera and microphone, or a screen they share (each received
over its own peer connection), or the lesson video (played by the node). Its feeds are what viewers
get; while the activity is live it is recorded from the same packets (`collab.media.recorder`, no
second encode)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collab.media.player import LessonPlayer
from collab.media.recorder import Recorder
from collab.media.relay import Fanout
from sessions.records import Recording
from sessions.stage import rules

if TYPE_CHECKING:
    from collab.realtime.dispatch import Context
    from sessions.stage.stages import Stage

log = logging.getLogger("collab.stage")

TRACKS_WAIT = 5.0  # seconds for a publisher's tracks to appear
FIRST_FRAME_WAIT = 2.0  # and then for the first frame of its picture (ICE and DTLS come first)


@dataclass(eq=False)
class Publisher:
    stage: Stage
    user_id: int | str  # the publisher id: a person's (their camera), rules.screen_of(theirs), or rules.LESSON
    name: str
    ctx: Context  # the command that put it on stage: leaving is recorded in its actor's name
    pc: Any = None  # aiortc's RTCPeerConnection from the publisher; None for the lesson video
    feeds: dict[str, Fanout] = field(default_factory=dict)
    player: LessonPlayer | None = None
    owner_id: int = 0  # the person behind it: themselves, the sharer, or whoever put the lesson video on stage
    recorder: Recorder | None = None
    recording_since: datetime | None = None
    closed: bool = False
    tracks_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.feeds:
            self.tracks_arrived.set()

    @property
    def current(self) -> bool:
        """Still the stage's publication under its id (not closed, not replaced by a newer one)."""
        return self.stage.publishers.get(self.user_id) is self

    @property
    def person(self) -> bool:
        """A person on stage (their camera), not a screen or the lesson video."""
        return rules.is_person(self.user_id)

    @property
    def source(self) -> str:
        """What it shows: "camera" (and microphone), "screen" or "lesson" (a program picks by it)."""
        if self.user_id == rules.LESSON:
            return "lesson"
        return "screen" if rules.is_screen(self.user_id) else "camera"

    def add_feed(self, feed: Fanout) -> None:
        """A track of the publisher's arrived (aiortc announces them all at once, when it takes the
        offer)."""
        self.feeds[feed.kind] = feed
        self.tracks_arrived.set()

    async def media_started(self) -> bool:
        """Wait for the tracks, then for the picture's first decoded frame (the recording needs its
        size), each within its limit, or until the publication closes. True if media flows."""
        try:
            await asyncio.wait_for(self.tracks_arrived.wait(), TRACKS_WAIT)
        except TimeoutError:
            return False
        video = self.feeds.get("video")
        if video is not None and not self.closed:
            try:
                await asyncio.wait_for(video.first_frame(), FIRST_FRAME_WAIT)
            except TimeoutError:
                pass
        return not self.closed and bool(self.feeds) and (video is None or video.began)

    # -- recording -----------------------------------------------------------------------------------

    def start_recording(self) -> None:
        """One WebM (Matroska for H.264) per publication, from the shared packets."""
        stage = self.stage
        video, audio = self.feeds.get("video"), self.feeds.get("audio")
        size = video.size if video is not None else None
        h264 = video is not None and video.mime == "video/h264"
        stamp = datetime.now(timezone.utc)
        who = str(self.user_id).replace(":", "-")  # screen:12 -> screen-12
        name = (f"{stage.activity_id}/{stamp.strftime('%Y%m%dT%H%M%S')}-{who}-{secrets.token_hex(3)}"
                + (".mkv" if h264 else ".webm"))
        try:
            self.recorder = Recorder(Path(stage.services.settings.recordings_dir) / name, *(size or (None, None)),
                                     audio is not None, h264)
        except Exception:
            log.exception("could not start a recording", extra={"activity": stage.activity_id})
            return
        self.recording_since = stamp
        for kind, feed in self.feeds.items():
            if kind == "video":
                feed.request_keyframe()
            feed.sinks.append(lambda packet, kind=kind: self.recorder.packet(kind, packet))

    async def _keep_recording(self) -> None:
        """Close the file and list it in the replay (an empty file is dropped)."""
        services = self.stage.services
        recorder, self.recorder = self.recorder, None
        size = recorder.close()
        if not size:
            return
        file = str(recorder.path.relative_to(Path(services.settings.recordings_dir)))
        async with services.sessionmaker() as db:
            db.add(Recording(activity_id=self.stage.activity_id, user_id=self.owner_id, file=file,
                             media_type=recorder.media_type, bytes=size, started_at=self.recording_since,
                             ended_at=datetime.now(timezone.utc)))
            await db.commit()

    # -- the end -------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Off the stage: its feeds end, its recording is kept, its viewers' connections close."""
        if self.current:
            del self.stage.publishers[self.user_id]
        self.closed = True
        self.tracks_arrived.set()  # nothing more will arrive: whoever waits for tracks stops waiting
        for feed in self.feeds.values():
            feed.stop()
        if self.player is not None:
            self.player.stop()
        if self.recorder is not None:
            await self._keep_recording()
        for view in self.stage.views_of(self.user_id):
            await self.stage.drop_view(view)
        if self.pc is not None:
            await self.pc.close()
