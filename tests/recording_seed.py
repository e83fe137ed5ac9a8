"""A stage recording without WebRTC: a small playable WebM on disk and its row, as the stage leaves
them when a publication ends. For the replay's tests."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import harness
from collab.store.db import make_engine, make_sessionmaker
from sessions.records import Recording


def write_webm(path: Path, seconds: int = 2) -> int:
    """A small, playable VP8 WebM (a changing colour), as a recording on disk; returns its size."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        for i in range(seconds * 10):
            frame = av.VideoFrame(160, 90, "yuv420p")
            for j, plane in enumerate(frame.planes):
                plane.update(bytes([(i * 12 + j * 60) % 256]) * plane.buffer_size)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.stat().st_size


async def add_recording(server: harness.Server, database_url: str, activity_id: int, user_id: int,
                        started_at: datetime, seconds: int = 2, name: str = "stage") -> int:
    """A recording row and its file, as the stage leaves them when a publication ends; returns its id."""
    file = f"{activity_id}/{name}-{user_id}-{time.time_ns()}.webm"
    size = write_webm(server.datadir / "recordings" / file, seconds)
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            rec = Recording(activity_id=activity_id, user_id=user_id, file=file, media_type="video/webm",
                            bytes=size, started_at=started_at, ended_at=started_at + timedelta(seconds=seconds))
            db.add(rec)
            await db.commit()
            return rec.id
    finally:
        await engine.dispose()
