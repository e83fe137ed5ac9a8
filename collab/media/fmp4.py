"""Reading the few ISO BMFF (MP4) boxes the program's packager needs, and nothing else.

PyAV's mp4 muxer writes the program as fragmented MP4, but hands the bytes over in pieces of its I/O
buffer's size (32 KB), not box by box. `BoxReader` reassembles whole top-level boxes from such pieces.
From the init segment (`ftyp` + `moov`) we learn each track's kind and timescale, and the codecs string
a multivariant playlist announces; from each `moof` the timing of its fragment: where each track
starts (`tfdt`), how long it lasts (`trun`, `tfhd`, `trex` sample durations) and whether its first
sample is a sync sample (an IDR frame), which decides INDEPENDENT=YES in the playlist.

Field layouts follow ISO/IEC 14496-12 (boxes) and 14496-15 (avcC); only what is read is parsed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf"}


class BoxError(ValueError):
    """The bytes are not the MP4 structure we expect (a truncated or foreign file)."""


@dataclass(frozen=True)
class Box:
    type: bytes
    start: int  # offset of the header
    body: int  # offset of the payload
    end: int


def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes laid end to end in data[start:end]; a box running past `end` is an error."""
    end = len(data) if end is None else end
    at = start
    while at < end:
        if end - at < 8:
            raise BoxError("truncated box header")
        size, kind = struct.unpack_from(">I4s", data, at)
        body = at + 8
        if size == 1:
            if end - at < 16:
                raise BoxError("truncated box header")
            (size,) = struct.unpack_from(">Q", data, body)
            body += 8
        elif size == 0:  # "to the end of the file"
            size = end - at
        if size < body - at or at + size > end:
            raise BoxError(f"box {kind!r} of {size} bytes does not fit")
        yield Box(kind, at, body, at + size)
        at += size


def child(data: bytes, parent: Box, kind: bytes) -> Box | None:
    return next((b for b in boxes(data, parent.body, parent.end) if b.type == kind), None)


def children(data: bytes, parent: Box, kind: bytes) -> list[Box]:
    return [b for b in boxes(data, parent.body, parent.end) if b.type == kind]


def find(data: bytes, path: bytes, within: Box | None = None) -> Box | None:
    """The first box at a slash-separated path such as b"moov/trak/mdia/mdhd"."""
    box = within
    for kind in path.split(b"/"):
        start, end = (box.body, box.end) if box else (0, len(data))
        box = next((b for b in boxes(data, start, end) if b.type == kind), None)
        if box is None:
            return None
    return box


class BoxReader:
    """Whole top-level boxes out of a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """Add bytes; return the (type, whole box) pairs completed so far, in order."""
        self._buffer += data
        out = []
        at = 0
        while len(self._buffer) - at >= 8:
            size, kind = struct.unpack_from(">I4s", self._buffer, at)
            if size == 1:
                if len(self._buffer) - at < 16:
                    break
                (size,) = struct.unpack_from(">Q", self._buffer, at + 8)
            if size < 8:  # size 0 ("to the end") never comes from a fragmenting muxer
                raise BoxError(f"unusable box size {size} for {kind!r}")
            if len(self._buffer) - at < size:
                break
            out.append((kind, bytes(self._buffer[at:at + size])))
            at += size
        del self._buffer[:at]
        return out

    @property
    def pending(self) -> int:
        """Bytes of a box not yet complete."""
        return len(self._buffer)


@dataclass(frozen=True)
class Track:
    id: int
    kind: str  # "video", "audio" or the handler type as found
    timescale: int
    default_duration: int  # from trex: used when neither tfhd nor trun gives one
    default_flags: int


_KINDS = {b"vide": "video", b"soun": "audio"}


def tracks(init: bytes) -> dict[int, Track]:
    """The tracks of an init segment (ftyp + moov), by track id."""
    moov = find(init, b"moov")
    if moov is None:
        raise BoxError("no moov in the init segment")
    defaults = {}
    mvex = child(init, moov, b"mvex")
    for trex in children(init, mvex, b"trex") if mvex else ():
        track_id, _index, duration, _size, flags = struct.unpack_from(">5I", init, trex.body + 4)
        defaults[track_id] = (duration, flags)
    found = {}
    for trak in children(init, moov, b"trak"):
        tkhd = child(init, trak, b"tkhd")
        mdhd = find(init, b"mdia/mdhd", trak)
        hdlr = find(init, b"mdia/hdlr", trak)
        if not (tkhd and mdhd and hdlr):
            raise BoxError("a trak without tkhd, mdhd or hdlr")
        tkhd_v1 = init[tkhd.body] == 1
        (track_id,) = struct.unpack_from(">I", init, tkhd.body + (20 if tkhd_v1 else 12))
        mdhd_v1 = init[mdhd.body] == 1
        (timescale,) = struct.unpack_from(">I", init, mdhd.body + (20 if mdhd_v1 else 12))
        handler = init[hdlr.body + 8:hdlr.body + 12]
        duration, flags = defaults.get(track_id, (0, 0))
        found[track_id] = Track(track_id, _KINDS.get(handler, handler.decode("latin-1")), timescale,
                                duration, flags)
    return found


@dataclass(frozen=True)
class Run:
    """One track's samples in one fragment."""

    track_id: int
    decode_time: int  # tfdt, in the track's timescale
    duration: int  # sum of its sample durations, same units
    samples: int
    sync_first: bool  # its first sample is a sync sample


def _is_sync(flags: int) -> bool:
    return not (flags >> 16) & 1  # sample_is_non_sync_sample


def fragment(moof: bytes, known: dict[int, Track]) -> list[Run]:
    """The timing of each track in a `moof` box (given on its own)."""
    top = next(boxes(moof), None)
    if top is None or top.type != b"moof":
        raise BoxError("not a moof")
    runs = []
    for traf in children(moof, top, b"traf"):
        tfhd = child(moof, traf, b"tfhd")
        if tfhd is None:
            raise BoxError("a traf without tfhd")
        (tf_flags,) = struct.unpack_from(">I", moof, tfhd.body)
        tf_flags &= 0xFFFFFF
        (track_id,) = struct.unpack_from(">I", moof, tfhd.body + 4)
        track = known.get(track_id)
        if track is None:
            raise BoxError(f"fragment of unknown track {track_id}")
        at = tfhd.body + 8
        if tf_flags & 0x01:  # base-data-offset
            at += 8
        if tf_flags & 0x02:  # sample-description-index
            at += 4
        default_duration, default_flags = track.default_duration, track.default_flags
        if tf_flags & 0x08:
            (default_duration,) = struct.unpack_from(">I", moof, at)
            at += 4
        if tf_flags & 0x10:
            at += 4
        if tf_flags & 0x20:
            (default_flags,) = struct.unpack_from(">I", moof, at)
        tfdt = child(moof, traf, b"tfdt")
        decode_time = 0
        if tfdt is not None:
            fmt = ">Q" if moof[tfdt.body] == 1 else ">I"
            (decode_time,) = struct.unpack_from(fmt, moof, tfdt.body + 4)
        duration = samples = 0
        sync_first = None
        for trun in children(moof, traf, b"trun"):
            (tr_flags, count) = struct.unpack_from(">II", moof, trun.body)
            tr_flags &= 0xFFFFFF
            at = trun.body + 8 + (4 if tr_flags & 0x01 else 0)
            first_flags = None
            if tr_flags & 0x04:
                (first_flags,) = struct.unpack_from(">I", moof, at)
                at += 4
            fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if tr_flags & bit]
            for _ in range(count):
                values = dict(zip(fields, struct.unpack_from(f">{len(fields)}I", moof, at)))
                at += 4 * len(fields)
                duration += values.get(0x100, default_duration)
                if sync_first is None:
                    flags = first_flags if first_flags is not None else values.get(0x400, default_flags)
                    sync_first = _is_sync(flags)
            samples += count
        runs.append(Run(track_id, decode_time, duration, samples, bool(sync_first)))
    return runs


def _sample_entry(init: bytes, kind: str) -> tuple[bytes, int, int] | None:
    """(entry type, start of its child boxes, end) of the first sample entry of a track of `kind`."""
    moov = find(init, b"moov")
    for trak in children(init, moov, b"trak") if moov else ():
        hdlr = find(init, b"mdia/hdlr", trak)
        if hdlr is None or _KINDS.get(init[hdlr.body + 8:hdlr.body + 12]) != kind:
            continue
        stsd = find(init, b"mdia/minf/stbl/stsd", trak)
        if stsd is None:
            return None
        entry = next(boxes(init, stsd.body + 8, stsd.end), None)  # after version/flags and entry_count
        if entry is None:
            return None
        # VisualSampleEntry has 78 bytes of fields before its child boxes, AudioSampleEntry 28
        fixed = 78 if kind == "video" else 28
        return entry.type, entry.body + fixed, entry.end
    return None


def _descriptor(data: bytes, at: int) -> tuple[int, int, int]:
    """An MPEG-4 descriptor header (14496-1): (tag, start of its payload, its length)."""
    tag = data[at]
    at += 1
    length = 0
    for _ in range(4):
        byte = data[at]
        at += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return tag, at, length


def _audio_object_type(init: bytes, start: int, end: int) -> str | None:
    esds = next((b for b in boxes(init, start, end) if b.type == b"esds"), None)
    if esds is None:
        return None
    tag, at, _ = _descriptor(init, esds.body + 4)
    if tag != 0x03:  # ES_Descriptor
        return None
    flags = init[at + 2]
    at += 3
    if flags & 0x80:  # streamDependenceFlag
        at += 2
    if flags & 0x40:  # URL_Flag
        at += 1 + init[at]
    if flags & 0x20:  # OCRstreamFlag
        at += 2
    tag, at, _ = _descriptor(init, at)
    if tag != 0x04:  # DecoderConfigDescriptor
        return None
    object_type = init[at]
    tag, specific, _ = _descriptor(init, at + 13)
    if object_type != 0x40 or tag != 0x05:  # MPEG-4 audio with its AudioSpecificConfig
        return f"mp4a.{object_type:02x}"
    audio_object = init[specific] >> 3
    if audio_object == 31:  # escape: 6 more bits
        audio_object = 32 + (((init[specific] & 0x07) << 3) | (init[specific + 1] >> 5))
    return f"mp4a.40.{audio_object}"


def _avc(init: bytes, entry: bytes, start: int, end: int) -> str | None:
    avcc = next((b for b in boxes(init, start, end) if b.type == b"avcC"), None)
    if avcc is None or avcc.end - avcc.body < 8 or not init[avcc.body + 5] & 0x1F:
        return None
    (sps_length,) = struct.unpack_from(">H", init, avcc.body + 6)
    sps = init[avcc.body + 8:avcc.body + 8 + sps_length]
    if len(sps) < 4 or sps[0] & 0x1F != 7:
        raise BoxError("avcC's first parameter set is not an SPS")
    # RFC 6381: profile_idc, the constraint flags byte and level_idc of the SPS, in hex
    return f"{entry.decode('latin-1')}.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}"


def codecs(init: bytes) -> str:
    """The RFC 6381 CODECS value of an init segment, video first: e.g. "avc1.64001f,mp4a.40.2"."""
    found = []
    video = _sample_entry(init, "video")
    if video is not None:
        entry, start, end = video
        name = _avc(init, entry, start, end) if entry in (b"avc1", b"avc3") else None
        if name is None:
            raise BoxError(f"no codec parameters for video sample entry {entry!r}")
        found.append(name)
    audio = _sample_entry(init, "audio")
    if audio is not None:
        entry, start, end = audio
        name = _audio_object_type(init, start, end) if entry == b"mp4a" else None
        if name is None:
            raise BoxError(f"no codec parameters for audio sample entry {entry!r}")
        found.append(name)
    if not found:
        raise BoxError("no audio or video track in the init segment")
    return ",".join(found)
