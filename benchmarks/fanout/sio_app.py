"""The python-socketio baseline: the same workload, served the way socketio is usually scaled out.

AsyncServer + AsyncRedisManager under uvicorn (uvloop, httptools, uvicorn's default WebSocket
implementation), one process per node. Attendees authenticate with the same JWT collab accepts and
join the room "bench"; a sender's `publish` event is emitted to that room through Redis, so every node
fans it out to its own sockets. Configured by environment: BENCH_REDIS_URL, BENCH_SECRET,
BENCH_SIO_CHANNEL (the Redis pub/sub channel, unique per run).

    uvicorn benchmarks.fanout.sio_app:app
"""

from __future__ import annotations

import os

import socketio

from collab.auth.tokens import TokenError, verify_own
from collab.settings import Settings

settings = Settings(secret=os.environ.get("BENCH_SECRET", ""))
manager = socketio.AsyncRedisManager(
    os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), channel=os.environ.get("BENCH_SIO_CHANNEL", "socketio")
)
sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, transports=["websocket"])


@sio.event
async def connect(sid, environ, auth):
    try:
        verify_own(settings, (auth or {}).get("token", ""))
    except TokenError:
        return False
    if not (auth or {}).get("sender"):  # senders publish; they are not part of the audience
        await sio.enter_room(sid, "bench")
    return True


@sio.event
async def publish(sid, data):
    await sio.emit("ev", data, room="bench")
    return True


async def _ready(scope, receive, send):
    """Plain HTTP for everything that is not /socket.io/: /readyz answers 200 once serving."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


app = socketio.ASGIApp(sio, other_asgi_app=_ready)
