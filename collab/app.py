"""The app factory: wires settings, storage, the bus, the hub and the routes into one Starlette app."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount, Route, WebSocketRoute

from collab import announcements, ops
from collab.api import routes as api
from collab.api.common import domain_error, error_response
from collab.auth.accounts import TokenResolver
from collab.docs import api as docs_api
from collab.docs.endpoint import doc_socket
from collab.docs.rooms import DocRooms
from collab.errors import DomainError
from collab.realtime import metrics as realtime_metrics
from collab.realtime.bus import Bus
from collab.realtime.client import register_builtins, websocket_endpoint
from collab.realtime.dispatch import Registry
from collab.realtime.hub import Hub
from collab.settings import Settings
from collab.store.db import make_engine, make_sessionmaker
from collab.store.schema import ensure_current
from collab.studios import api as studios_api
from collab.studios import channel as studio_channel
from collab.web import pages
from collab.web.assets import Assets
from sessions import api as sessions_api
from sessions import chat as sessions_chat
from sessions import hands as sessions_hands
from sessions import live as sessions_live
from sessions import polls as sessions_polls
from sessions import qa as sessions_qa
from sessions import reactions as sessions_reactions
from sessions import lesson_videos
from sessions import stage as sessions_stage
from sessions.attendance_recorder import AttendanceRecorder
from sessions.room_cache import RoomCache

log = logging.getLogger("collab.app")

WEBCLIENT = Path(__file__).resolve().parents[1] / "webclient"


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    hub: Hub
    registry: Registry
    tokens: TokenResolver
    shutting_down: bool = False
    extensions: dict[str, Any] = field(default_factory=dict)  # per-node state of the domain packages


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        from collab.realtime.redis_bus import RedisBus

        return RedisBus(settings.redis_url, settings.node_id, history_size=settings.history_size,
                        history_ttl=settings.history_ttl, presence_ttl=settings.presence_ttl)
    from collab.realtime.memory_bus import MemoryBus

    return MemoryBus(settings.node_id, history_size=settings.history_size)


def make_registry() -> Registry:
    registry = Registry()
    register_builtins(registry)
    announcements.register(registry)
    sessions_live.register(registry)
    sessions_chat.register(registry)
    sessions_qa.register(registry)
    sessions_polls.register(registry)
    sessions_hands.register(registry)
    sessions_reactions.register(registry)
    studio_channel.register(registry)
    sessions_stage.register(registry)
    return registry


async def _server_error(request: Request, exc: Exception):
    """A fault of ours still answers in the API's shape; the traceback goes to the log."""
    return error_response(500, "internal", "internal error; nothing was changed")


def create_app(settings: Settings) -> "RealtimeFirst":
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    hub = Hub(make_bus(settings), flush_interval=settings.flush_interval,
              flush_interval_large=settings.flush_interval_large, large_channel=settings.large_channel,
              history_limit=settings.history_size, presence_ttl=settings.presence_ttl,
              presence_interval=settings.presence_interval)
    services = Services(settings, engine, sessionmaker, hub, make_registry(), TokenResolver(settings, sessionmaker))
    realtime_metrics.NODE.info({"node": settings.node_id})
    attendance = AttendanceRecorder(sessionmaker, settings.node_id)
    hub.on_user_presence("activity", attendance.hook)
    hub.presence_feed.feed("activity")  # the room's 在线 count, pushed (sessions/live.py's snapshot has the first)
    rooms = services.extensions["rooms"] = RoomCache(hub)
    docs = services.extensions["docs"] = DocRooms(sessionmaker, hub, settings.node_id, settings.doc_idle_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await ensure_current(engine)  # refuse to serve an out-of-date schema
        await hub.start()
        await attendance.start()
        await rooms.start()
        await docs.start()
        await sessions_stage.start(services)
        log.info(
            "collab serving at http://%s:%s/", settings.host, settings.port,
            extra={"node": settings.node_id, "bus": "redis" if settings.redis_url else "memory",
                   "database": engine.dialect.name},
        )
        try:
            yield
        finally:
            services.shutting_down = True
            await docs.stop()
            stages = services.extensions.get("stages")
            if stages is not None:
                await stages.close_all()
            await attendance.stop()
            await hub.stop()
            await engine.dispose()

    routes = [
        *ops.routes,
        *api.routes,
        *sessions_api.routes,
        *studios_api.routes,
        *lesson_videos.routes,
        *docs_api.routes,
        WebSocketRoute("/ws/docs/{doc_id}", doc_socket),
        Route("/api/openapi.json", api.openapi, include_in_schema=False),
        *pages.routes,
        Mount("/static", Assets(directory=WEBCLIENT / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={DomainError: domain_error, 500: _server_error})
    app.state.services = services
    return RealtimeFirst(app)


class RealtimeFirst:
    """The outermost ASGI app: `/ws` goes straight to its endpoint, everything else to Starlette.

    Every open socket keeps its ASGI call stack alive for as long as it is connected; skipping
    Starlette's middleware and router frames saves memory per idle connection and CPU per join. The
    endpoint handles its own errors, so the skipped middleware had nothing to do for it.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            await websocket_endpoint(self.state.services, scope, receive, send)
            return
        await self.app(scope, receive, send)
