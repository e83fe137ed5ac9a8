"""Another node's copy of a program, from the producer's notices: it starts at a segment's beginning
whatever a notice lists first, follows a new run when the epoch changes, and ends with its run."""

from __future__ import annotations

import orjson

from sessions.program.sharing import Copy


def notice(epoch: str, parts: list[tuple[int, int]], ended: bool = False) -> bytes:
    rows = [[msn, index, 0.5, index == 0, 1000.0 + msn * 2 + index * 0.5] for msn, index in parts]
    return orjson.dumps({"epoch": epoch, "node": "a", "ended": ended, "rungs": {"720p": rows, "360p": rows}})


def test_a_new_copy_starts_at_a_segment_and_follows_later_notices():
    copy = Copy(None, 1, 0.5, 2.0)
    copy._heard(notice("e1", [(7, 1), (7, 2), (7, 3), (8, 0), (8, 1)]))  # a notice starting mid-segment
    window = copy.windows["720p"]
    assert window.last == (8, 1) and "#EXT-X-MEDIA-SEQUENCE:8" in window.render()
    copy._heard(notice("e1", [(8, 0), (8, 1), (8, 2)]))  # repeats are skipped, the new part taken
    assert window.last == (8, 2) and not copy.ended
    copy._heard(b"not json")  # noise on the channel changes nothing
    assert window.last == (8, 2)


def test_a_new_run_starts_the_copy_afresh_and_an_ended_run_ends_it():
    copy = Copy(None, 1, 0.5, 2.0)
    copy._heard(notice("e1", [(3, 0), (3, 1)]))
    old = copy.windows["720p"]
    copy._heard(notice("e2", [(5, 0)]))  # another node took the program over
    assert old.ended and copy.epoch == "e2" and copy.windows["720p"].last == (5, 0)
    copy._heard(notice("e2", [(5, 0), (5, 1)], ended=True))
    assert copy.ended and "#EXT-X-ENDLIST" in copy.windows["360p"].render()


def test_a_copy_that_missed_notices_starts_again_at_the_next_segment():
    copy = Copy(None, 1, 0.5, 2.0)
    copy._heard(notice("e1", [(3, 0), (3, 1)]))
    copy._heard(notice("e1", [(9, 2), (9, 3), (10, 0), (10, 1)]))  # the bus lost what came between
    window = copy.windows["720p"]
    assert window.last == (10, 1) and "#EXT-X-MEDIA-SEQUENCE:10" in window.render()


class _Bus:
    def __init__(self, latest: bytes | None) -> None:
        self.latest = latest

    async def get_blob(self, key: str) -> bytes | None:
        return self.latest


class _Hub:
    def __init__(self, latest: bytes | None) -> None:
        self.bus = _Bus(latest)

    async def watch(self, channel, watcher) -> None:
        pass


async def test_a_copy_whose_producer_stopped_telling_is_silent_until_a_notice_comes(monkeypatch):
    import time

    from sessions.program import sharing

    now = time.time()
    stale = orjson.dumps({"epoch": "e1", "node": "a", "ended": False,
                          "rungs": {"720p": [[3, 0, 0.5, True, now - 30.0]]}})
    copy = Copy(_Hub(stale), 1, 0.5, 2.0)  # made after the producer's node died: its newest notice is old
    await copy.start()
    assert copy.windows and not copy.ended and copy.silent  # not on air, though nothing said it ended
    copy._heard(notice("e2", [(5, 0)]))  # another node took over
    assert not copy.silent
    clock = time.monotonic()
    monkeypatch.setattr(sharing.time, "monotonic", lambda: clock + sharing.SILENT + 0.1)
    assert copy.silent  # and then said nothing for longer than a lease
