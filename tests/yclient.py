"""A y-websocket client in Python for tests: a pycrdt Doc kept in sync with `/ws/docs/{id}` the way the
JavaScript provider does it (answer the server's step 1, send our own, apply what comes).

It connects as docs/documents.md says: with a sign-in token it first asks `POST /api/docs/{id}/ticket`
for a single-use ticket (a fresh one for every `open`), and puts only the ticket in the URL."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

import httpx
import websockets
from pycrdt import Doc, Text

from collab.docs import sync

CONTENT = "content"


async def fetch_ticket(url: str, token: str) -> str:
    """A ticket for the document socket at `url` (ws://host:port/ws/docs/<id>), asked with `token`."""
    base, _, doc_id = url.replace("ws", "http", 1).partition("/ws/docs/")
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post(f"/api/docs/{doc_id}/ticket", headers={"Authorization": f"Bearer {token}"})
    if r.status_code != 200:
        raise TicketDenied(r.status_code, r.json()["error"]["code"])
    return r.json()["ticket"]


class TicketDenied(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code = status, code


class YClient:
    """`token`: a sign-in token, traded for a ticket at each open (None: no credential at all).
    `ticket`: this ticket as it is. `url_token`: the deprecated form, the token itself in the URL."""

    def __init__(self, url: str, token: str | None, ticket: str | None = None, url_token: bool = False) -> None:
        self.base_url, self.token, self.ticket, self.url_token = url, token, ticket, url_token
        self.url = url
        self.doc = Doc()
        self.text = self.doc.get(CONTENT, type=Text)
        self.synced = asyncio.Event()
        self.denials: list[str] = []
        self.awareness: dict[int, dict | None] = {}
        self.awareness_log: list[sync.AwarenessEntry] = []  # every entry received, in order
        self.frames_in = 0
        self.changed = asyncio.Event()
        self.ws = None
        self._reader: asyncio.Task | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    async def open(self, wait_synced: bool = True) -> "YClient":
        if self.ticket is not None:
            self.url = f"{self.base_url}?ticket={self.ticket}"
        elif self.token is not None and self.url_token:
            self.url = f"{self.base_url}?token={self.token}"
        elif self.token is not None:
            self.url = f"{self.base_url}?ticket={await fetch_ticket(self.base_url, self.token)}"
        self.ws = await websockets.connect(self.url, max_size=None)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        try:
            await self.ws.send(sync.step1(self.doc.get_state()))
        except websockets.ConnectionClosed:
            pass  # refused at once: `closed()` tells the code
        if wait_synced:
            await asyncio.wait_for(self.synced.wait(), 10)
        return self

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self.frames_in += 1
                self._handle(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason or ""
            self.changed.set()

    def _handle(self, frame: bytes) -> None:
        r = sync.Reader(frame)
        kind = r.uint()
        if kind == sync.SYNC:
            step, payload = r.uint(), r.bytes_()
            if step == sync.STEP1:
                asyncio.get_running_loop().create_task(self.ws.send(sync.step2(self.doc.get_update(payload))))
            else:
                self.doc.apply_update(payload)
                if step == sync.STEP2:
                    self.synced.set()
        elif kind == sync.AWARENESS:
            for e in sync.decode_awareness(r.bytes_()):
                self.awareness[e.client_id] = json.loads(e.state)
                self.awareness_log.append(e)
        elif kind == sync.AUTH:
            r.uint()  # permission denied
            self.denials.append(r.bytes_().decode())
        self.changed.set()

    async def edit(self, change: Callable[[Text], None]) -> bytes:
        """Make a local change and send it as the provider would (one update per transaction)."""
        before = self.doc.get_state()
        with self.doc.transaction():
            change(self.text)
        update = self.doc.get_update(before)
        await self.ws.send(sync.update(update))
        return update

    async def insert(self, index: int, value: str, attrs: dict | None = None) -> bytes:
        return await self.edit(lambda t: t.insert(index, value, attrs))

    async def append(self, value: str) -> bytes:
        return await self.edit(lambda t: t.insert(len(t), value))

    async def say(self, state: dict | None, client_id: int | None = None, clock: int = 1) -> None:
        cid = self.doc.client_id if client_id is None else client_id
        entry = sync.AwarenessEntry(cid, clock, json.dumps(state))
        await self.ws.send(sync.awareness(sync.encode_awareness([entry])))

    async def send_raw(self, frame: bytes | str) -> None:
        await self.ws.send(frame)

    async def until(self, predicate: Callable[["YClient"], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate(self)` holds. It is looked at again on each frame this client gets, and
        at least every 50 ms: a predicate may read another client (`c.content == other.content`), whose
        last frame wakes only that other client."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"condition not met; text is {str(self.text)!r}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.05))
            except asyncio.TimeoutError:
                pass

    async def closed(self, timeout: float = 10.0) -> int | None:
        await asyncio.wait_for(self._reader, timeout)
        return self.close_code

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, Exception):
                pass

    @property
    def content(self) -> str:
        return str(self.text)
