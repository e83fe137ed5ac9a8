"""Waiting for media on the stage without polling: a feed's first frame (collab/media/relay.py), and a
publication announced once its picture is there (sessions/stage). In-process tracks, a hub that only
notes what is published: no sockets, no peer connections, no database."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import av
import orjson
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from collab.media.player import PacketFeed
from collab.media.relay import Feed
from sessions.stage import publisher, rules
from sessions.stage.publisher import Publisher
from sessions.stage.stages import Stage


class Camera(MediaStreamTrack):
    """A video track whose frames come when the test says so (`show`), or that ends (`hang_up`)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.frames: asyncio.Queue = asyncio.Queue()

    def show(self, width: int = 320, height: int = 240) -> None:
        self.frames.put_nowait(av.VideoFrame(width, height, "yuv420p"))

    def hang_up(self) -> None:
        self.frames.put_nowait(None)

    async def recv(self) -> av.VideoFrame:
        frame = await self.frames.get()
        if frame is None:
            raise MediaStreamError
        return frame


async def soon(aw, seconds: float = 1.0):
    return await asyncio.wait_for(aw, seconds)


async def test_first_frame_resolves_when_the_picture_is_there_with_its_size():
    camera = Camera()
    feed = Feed(camera)
    waiting = asyncio.ensure_future(feed.first_frame())
    await asyncio.sleep(0.05)
    assert not waiting.done() and feed.size is None  # no picture yet: nobody may record its size
    camera.show(320, 240)
    assert await soon(waiting) is True
    assert feed.size == (320, 240)
    assert await soon(feed.first_frame()) is True  # and stays resolved for whoever asks later
    feed.stop()


async def test_a_track_that_ends_before_its_first_frame_stops_the_wait():
    camera = Camera()
    feed = Feed(camera)
    waiting = asyncio.ensure_future(feed.first_frame())
    camera.hang_up()
    assert await soon(waiting) is False
    assert feed.ended and feed.size is None


async def test_a_lesson_video_feed_is_ready_with_its_first_packet():
    feed = PacketFeed("video", "video/vp8")
    waiting = asyncio.ensure_future(feed.first_frame())
    await asyncio.sleep(0)
    assert not waiting.done()
    packet = av.Packet(b"\x10\x02\x00\x9d\x01\x2a")
    packet.is_keyframe = True
    feed.push(packet)
    assert await soon(waiting) is True


class Hub:
    """What the stage publishes to the room, noted; the room it follows."""

    def __init__(self) -> None:
        self.published: list[dict] = []
        self.watchers: dict[str, list] = {}

    async def publish(self, channel: str, event: dict) -> int:
        self.published.append(event)
        return len(self.published)

    async def watch(self, channel: str, watcher) -> None:
        self.watchers.setdefault(channel, []).append(watcher)


@pytest.fixture
def stage(tmp_path) -> Stage:
    services = SimpleNamespace(hub=Hub(), settings=SimpleNamespace(node_id="node-a", recordings_dir=str(tmp_path)))
    return Stage(7, services)


async def test_a_publisher_is_announced_once_their_first_frame_arrives(stage):
    camera = Camera()
    pub = Publisher(stage, 3, "Ann", ctx=None)
    pub.add_feed(Feed(camera))
    await stage.take(pub)
    stage.spawn(stage.announce_when_media_flows(pub, live=False))
    await asyncio.sleep(0.1)
    assert stage.services.hub.published == []  # no picture yet
    camera.show(640, 480)
    await soon(asyncio.gather(*stage._tasks))
    [announced] = stage.services.hub.published
    assert announced["type"] == "stage" and announced["node"] == "node-a"
    assert announced["on_stage"] == [{"user_id": 3, "name": "Ann", "source": "camera", "tracks": ["video"]}]
    await pub.close()


async def test_a_shared_screen_is_announced_beside_its_owners_camera(stage):
    camera = Publisher(stage, 3, "Ann", ctx=None, owner_id=3)
    screen = Publisher(stage, rules.screen_of(3), "Ann", ctx=None, owner_id=3,
                       feeds={"video": PacketFeed("video", "video/vp8")})
    await stage.take(camera)
    await stage.take(screen)
    assert (camera.source, screen.source, screen.person) == ("camera", "screen", False)
    await stage.announce()
    assert stage.services.hub.published[-1]["on_stage"] == [
        {"user_id": 3, "name": "Ann", "source": "camera", "tracks": []},
        {"user_id": "screen:3", "owner_id": 3, "name": "Ann", "source": "screen", "tracks": ["video"]}]
    await stage.take_off(rules.screen_of(3))  # stopping the share leaves the camera
    assert list(stage.publishers) == [3]
    await camera.close()


async def test_a_picture_that_never_comes_is_announced_after_the_limit(stage, monkeypatch):
    monkeypatch.setattr(publisher, "FIRST_FRAME_WAIT", 0.1)
    pub = Publisher(stage, 3, "Ann", ctx=None)
    pub.add_feed(Feed(Camera()))
    await stage.take(pub)
    assert await soon(pub.media_started()) is False
    await stage.announce_when_media_flows(pub, live=False)
    assert stage.services.hub.published[-1]["on_stage"] == [{"user_id": 3, "name": "Ann", "source": "camera",
                                                             "tracks": ["video"]}]
    await pub.close()


async def test_a_publisher_gone_before_their_media_flows_is_never_announced(stage):
    pub = Publisher(stage, 3, "Ann", ctx=None)
    pub.add_feed(Feed(Camera()))
    await stage.take(pub)
    stage.spawn(stage.announce_when_media_flows(pub, live=False))
    await asyncio.sleep(0.05)
    await pub.close()
    await soon(asyncio.gather(*stage._tasks), 0.5)  # stops waiting at once, not after the limit
    assert stage.services.hub.published == [] and stage.publishers == {}


async def test_ending_the_activity_takes_everything_off_its_stage(stage):
    feed = PacketFeed("video", "video/vp8")
    pub = Publisher(stage, rules.LESSON, "课例", ctx=None, feeds={"video": feed})
    await stage.take(pub)
    [heard] = stage.services.hub.watchers["activity:7"]
    heard(orjson.dumps({"type": "chat", "id": "chat:1", "message": {"body": "下课了"}}))
    await asyncio.sleep(0.05)
    assert stage.publishers == {rules.LESSON: pub}
    heard(orjson.dumps({"type": "ended", "id": "activity-event:9", "at": "2027-05-01T06:00:00+00:00"}))
    await soon(asyncio.gather(*stage._tasks))
    assert stage.publishers == {} and feed.ended
    assert stage.services.hub.published[-1]["on_stage"] == []
