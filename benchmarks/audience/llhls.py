"""What a Low-Latency HLS player reads and how it asks: a media playlist parsed into its parts, and a
small HTTP/1.1 keep-alive client (asyncio streams: one request at a time per connection, as a
browser's loader uses a connection; Content-Length or chunked bodies).

Only what the benchmark needs of RFC 8216bis: EXT-X-MEDIA-SEQUENCE, EXT-X-PART-INF, EXT-X-MAP,
EXT-X-PROGRAM-DATE-TIME, EXT-X-PART, EXTINF, EXT-X-PRELOAD-HINT, EXT-X-ENDLIST, and
EXT-X-STREAM-INF in a multivariant playlist.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime

_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def attributes(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTR.findall(text)}


@dataclass(slots=True)
class PartInfo:
    msn: int
    index: int  # within its segment
    duration: float
    uri: str
    independent: bool
    date: float | None  # wall-clock start (from the segment's EXT-X-PROGRAM-DATE-TIME), if given


@dataclass
class MediaPlaylist:
    media_sequence: int = 0
    part_target: float | None = None
    map_uri: str | None = None
    parts: list[PartInfo] = field(default_factory=list)
    segments: list[tuple[int, float, str]] = field(default_factory=list)  # msn, EXTINF duration, uri
    hint: str | None = None  # the preload hint's URI
    ended: bool = False

    @property
    def last(self) -> PartInfo | None:
        return self.parts[-1] if self.parts else None

    def next_part(self) -> tuple[int, int] | None:
        """(msn, part) to ask for in the next blocking reload: the preload hint's, else the one after
        the last part (the next segment's first when the last segment is complete)."""
        if self.hint:
            got = part_of_uri(self.hint)
            if got:
                return got
        last = self.last
        if last is None:
            return None
        if self.segments and self.segments[-1][0] == last.msn:
            return last.msn + 1, 0
        return last.msn, last.index + 1


_PART_URI = re.compile(r"(\d+)\.(\d+)\.m4s$")


def part_of_uri(uri: str) -> tuple[int, int] | None:
    m = _PART_URI.search(uri.split("?", 1)[0])
    return (int(m[1]), int(m[2])) if m else None


def _date(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_media(text: str) -> MediaPlaylist:
    pl = MediaPlaylist()
    msn = None
    index = 0
    date: float | None = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            pl.media_sequence = int(line.split(":", 1)[1])
            msn = pl.media_sequence
        elif line.startswith("#EXT-X-PART-INF:"):
            pl.part_target = float(attributes(line.split(":", 1)[1]).get("PART-TARGET", "nan"))
        elif line.startswith("#EXT-X-MAP:"):
            pl.map_uri = attributes(line.split(":", 1)[1]).get("URI")
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            date = _date(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART:"):
            a = attributes(line.split(":", 1)[1])
            if msn is None:
                msn = pl.media_sequence
            duration = float(a.get("DURATION", "0"))
            uri = a.get("URI", "")
            named = part_of_uri(uri)
            pl.parts.append(PartInfo(named[0] if named else msn, named[1] if named else index, duration, uri,
                                     a.get("INDEPENDENT") == "YES", date))
            index += 1
            if date is not None:
                date += duration
        elif line.startswith("#EXTINF:"):
            pl.segments.append((msn if msn is not None else pl.media_sequence,
                                float(line.split(":", 1)[1].split(",", 1)[0]), ""))
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            a = attributes(line.split(":", 1)[1])
            if a.get("TYPE") == "PART":
                pl.hint = a.get("URI")
        elif line.startswith("#EXT-X-ENDLIST"):
            pl.ended = True
        elif line and not line.startswith("#"):  # a segment's URI: the next segment begins
            if pl.segments and not pl.segments[-1][2]:
                m, d, _ = pl.segments[-1]
                pl.segments[-1] = (m, d, line)
            msn = (msn if msn is not None else pl.media_sequence) + 1
            index = 0
            date = None
    return pl


def parse_variants(text: str) -> list[dict]:
    """A multivariant playlist's renditions: {uri, bandwidth, resolution, codecs}."""
    out, pending = [], None
    for line in text.splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = attributes(line.split(":", 1)[1])
        elif pending is not None and line and not line.startswith("#"):
            out.append({"uri": line, "bandwidth": int(pending.get("BANDWIDTH", 0)),
                        "resolution": pending.get("RESOLUTION", ""), "codecs": pending.get("CODECS", "")})
            pending = None
    return out


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.requests = 0
        self.bytes = 0
        self.reconnects = 0

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        self.reconnects += 1

    async def get(self, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        for attempt in (0, 1):
            if self.writer is None or self.writer.is_closing():
                await self._open()
            try:
                return await asyncio.wait_for(self._get(path), timeout)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.close()
                if attempt:
                    raise HttpError(f"{type(exc).__name__} on {path}") from None
            except asyncio.TimeoutError:
                self.close()
                raise HttpError(f"timeout on {path}") from None
        raise AssertionError("unreachable")

    async def _get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for h in lines[1:]:
            if ":" in h:
                k, v = h.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunks.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(c[:-2] for c in chunks)
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        self.requests += 1
        self.bytes += len(head) + len(body)
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None
