"""A small /ws client for the benchmark's people: commands with ids and their replies; pushes are
kept (the last few hundred) for whoever wants to look. Benchmarks do not import tests/, so this is
not tests/harness.py's WsClient."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any

import orjson
import websockets


class CommandFailed(RuntimeError):
    def __init__(self, cmd: str, error: dict) -> None:
        super().__init__(f"{cmd}: {error.get('code')}: {error.get('message')}")
        self.code = error.get("code")


class Ws:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ws = None
        self.ids = itertools.count(1)
        self.replies: dict[int, asyncio.Future] = {}
        self.pushes: deque[dict] = deque(maxlen=500)
        self._reader: asyncio.Task | None = None

    async def open(self, token: str) -> Ws:
        self.ws = await websockets.connect(self.url, max_size=None, compression=None, open_timeout=10)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self.ok("connect", token=token)
        return self

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                for line in frame.split("\n"):
                    if not line:
                        continue
                    msg = orjson.loads(line)
                    fut = self.replies.pop(msg.get("id"), None) if "id" in msg else None
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    elif "id" not in msg:
                        self.pushes.append(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self.replies.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the /ws connection closed"))

    async def call(self, cmd: str, timeout: float = 20.0, **args: Any) -> dict:
        cid = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.replies[cid] = fut
        await self.ws.send(orjson.dumps({"id": cid, "cmd": cmd, "args": args}).decode())
        return await asyncio.wait_for(fut, timeout)

    async def ok(self, cmd: str, timeout: float = 20.0, **args: Any) -> dict:
        r = await self.call(cmd, timeout, **args)
        if "error" in r:
            raise CommandFailed(cmd, r["error"])
        return r["ok"]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
