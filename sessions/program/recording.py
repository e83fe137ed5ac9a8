"""The activity's recording is its program: everyone on stage and the shared screen in one file.

While the program runs, the top rung's parts are appended as they come to `program.fmp4` (the init
section, then every fragment): nothing is encoded again, and a file cut short by a crash still plays.
When the program stops, the file is remuxed (packets copied, not encoded) into `program.mp4` with its
index at the front (`faststart`), so the replay's `<video>` seeks at once with byte ranges, and listed
in the replay as the recording of kind "program".
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timezone
from pathlib import Path

import av

from sessions.records import Recording

log = logging.getLogger("collab.program")


class ProgramRecorder:
    def __init__(self, recordings_dir: str, activity_id: int) -> None:
        stamp = datetime.now(timezone.utc)
        self.root = Path(recordings_dir)
        self.folder = Path(str(activity_id)) / f"program-{stamp.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        self.started_at = stamp
        self.activity_id = activity_id
        self._file = None  # opened with the first part: a program that made none leaves nothing behind
        self._finished = False
        self.fragments = 0

    def part(self, init: bytes | None, data: bytes) -> None:
        if self._finished or init is None:
            return
        if self._file is None:
            (self.root / self.folder).mkdir(parents=True, exist_ok=True)
            self._file = open(self.root / self.folder / "program.fmp4", "wb")
            self._file.write(init)
        self._file.write(data)
        self.fragments += 1

    async def finish(self, sessionmaker, owner_id: int) -> Recording | None:
        """Close, remux for seeking, and list it in the replay; None when nothing was recorded."""
        self._finished = True
        if self._file is None:
            return None
        self._file.close()
        live = self.root / self.folder / "program.fmp4"
        final = self.root / self.folder / "program.mp4"
        try:
            await asyncio.to_thread(_remux, live, final)
            live.unlink()
        except Exception:  # the fragmented file plays too, if more slowly when seeking
            log.exception("remuxing the program recording failed", extra={"activity": self.activity_id})
            final.unlink(missing_ok=True)
            final = live
        async with sessionmaker() as db:
            rec = Recording(activity_id=self.activity_id, user_id=owner_id, kind="program",
                            file=str(final.relative_to(self.root)), media_type="video/mp4",
                            bytes=final.stat().st_size, started_at=self.started_at,
                            ended_at=datetime.now(timezone.utc))
            db.add(rec)
            await db.commit()
            return rec


def _remux(source: Path, target: Path) -> None:
    with av.open(str(source)) as src, av.open(str(target), "w", format="mp4",
                                              options={"movflags": "faststart"}) as out:
        streams = {}
        for s in src.streams:
            if s.type in ("video", "audio"):
                streams[s.index] = out.add_stream_from_template(s)
        for packet in src.demux(*[src.streams[i] for i in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
