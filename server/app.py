"""The composition root: one node's Starlette app, made of the platform and the parts it lists.

It is the one module that knows both `collab` (the platform) and `sessions` (live activities): it
builds the node's services, lets each part install itself (`collab/parts.py`), and frames the parts'
routes with the platform's own (operations and accounts first; pages and static files last).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Mount, Route, Router

from collab import announcements, ops
from collab.api import audit_log, service_keys
from collab.api import routes as api
from collab.api import signins as signins_api
from collab.api.key_calls import KeyCallAudit
from collab.api.common import domain_error, error_response
from collab.auth.accounts import TokenResolver
from collab.auth.revocations import Revocations
from collab.auth.signins import SignIns
from collab.auth.throttle import SigninThrottle
from collab.docs import part as docs
from collab.errors import DomainError
from collab.keys import KeyResolver
from collab.parts import Part
from collab.realtime import metrics as realtime_metrics
from collab.realtime.bus import Bus
from collab.realtime.client import register_builtins, websocket_endpoint
from collab.realtime.dispatch import Registry
from collab.realtime.hub import Hub
from collab.services import Services
from collab.settings import Settings
from collab.store.db import make_engine, make_sessionmaker
from collab.store.schema import ensure_current
from collab.studios import part as studios
from collab.studios.hooks import MembershipHooks
from collab.web import pages
from collab.web.assets import Assets
from collab.web.headers import SecurityHeaders
from collab.web.proxies import TrustedProxies
from collab.webhooks import part as webhooks
from sessions import part as activities
from sessions.groups import part as groups
from sessions.program import part as program
from sessions.stage import part as stage

log = logging.getLogger("collab.app")

WEBCLIENT = Path(__file__).resolve().parents[1] / "webclient"

# The parts of a node, in the order they start (and the reverse of the order they stop).
LIVE = "/live/"  # the program's HLS (sessions/program/routes.py)
PARTS = (studios.install, docs.install, activities.install, groups.install, stage.install, program.install,
         webhooks.install)


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        from collab.realtime.redis_bus import RedisBus

        return RedisBus(settings.redis_url, settings.node_id, history_size=settings.history_size,
                        history_ttl=settings.history_ttl, presence_ttl=settings.presence_ttl)
    from collab.realtime.memory_bus import MemoryBus

    return MemoryBus(settings.node_id, history_size=settings.history_size)


def platform_commands() -> Registry:
    """The commands of the real-time core itself (connect, subscribe, ...) and of announcements."""
    registry = Registry()
    register_builtins(registry)
    announcements.register(registry)
    return registry


async def _server_error(request: Request, exc: Exception):
    """A fault of ours still answers in the API's shape; the traceback goes to the log."""
    return error_response(500, "internal", "internal error; nothing was changed")


def create_app(settings: Settings) -> RealtimeFirst:
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    hub = Hub(make_bus(settings), flush_interval=settings.flush_interval,
              flush_interval_large=settings.flush_interval_large, large_channel=settings.large_channel,
              history_limit=settings.history_size, presence_ttl=settings.presence_ttl,
              presence_interval=settings.presence_interval)
    tokens = TokenResolver(settings, sessionmaker, Revocations())
    sign_ins = SignIns(settings, sessionmaker, hub, tokens)
    services = Services(settings, engine, sessionmaker, hub, platform_commands(), tokens, MembershipHooks(),
                        sign_ins=sign_ins, signin_throttle=SigninThrottle(settings))
    services.provide(KeyResolver(sessionmaker))
    realtime_metrics.NODE.info({"node": settings.node_id})
    parts: list[Part] = [install(services) for install in PARTS]
    for part in parts:
        services.registry.include(part.commands)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await ensure_current(engine)  # refuse to serve an out-of-date schema
        await hub.start()
        await sign_ins.start()  # revocations known before the first token is checked
        for part in parts:
            await part.start()
        log.info(
            "collab serving at http://%s:%s/", settings.host, settings.port,
            extra={"node": settings.node_id, "bus": "redis" if settings.redis_url else "memory",
                   "database": engine.dialect.name},
        )
        try:
            yield
        finally:
            services.shutting_down = True
            for part in reversed(parts):
                await part.stop()
            await sign_ins.stop()
            await hub.stop()
            await services.signin_throttle.close()
            await engine.dispose()

    routes = [
        *ops.routes,
        *api.routes,
        *signins_api.routes,
        *service_keys.routes,
        *audit_log.routes,
        *(route for part in parts for route in part.routes),
        Route("/api/openapi.json", api.openapi, include_in_schema=False),
        *pages.routes,
        Mount("/static", Assets(directory=WEBCLIENT / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={DomainError: domain_error, 500: _server_error},
                    middleware=[Middleware(KeyCallAudit, services=services)])  # every service key's call audited
    app.state.services = services
    internal = Starlette(routes=ops.internal_routes)  # no lifespan: the public app's runs the node
    internal.state.services = services
    return RealtimeFirst(app, internal, TrustedProxies(settings.trusted_proxies))


class RealtimeFirst:
    """The outermost ASGI app: a request that came in on the internal port goes to the operations app;
    on the public port, `/ws` goes straight to its endpoint, the audience's HLS (`/live/`) to a router
    of its own, everything else to Starlette, with the security headers (collab/web/headers.py).

    Which port a request came in on is the local address of its socket (`scope["server"]`), which no
    header can change. `internal_port` is set once the node has bound it (server/cli.py).

    Every open socket keeps its ASGI call stack alive for as long as it is connected; skipping
    Starlette's middleware and router frames saves memory per idle connection and CPU per join. The
    endpoint handles its own errors, so the skipped middleware had nothing to do for it. HLS players
    ask twice a second each; matching their paths against the app's eighty routes cost a third of a
    request, so `/live/` routes are matched among themselves, with the app's error handlers.
    """

    def __init__(self, app: Starlette, internal: Starlette, proxies: TrustedProxies) -> None:
        self.app = app
        self.state = app.state
        self.internal = internal
        self.internal_port: int | None = None
        self.public = SecurityHeaders(app, proxies)
        live = Router(routes=[r for r in app.routes if getattr(r, "path", "").startswith(LIVE)])
        self.live = SecurityHeaders(
            ServerErrorMiddleware(ExceptionMiddleware(live, handlers=app.exception_handlers),
                                  handler=app.exception_handlers.get(500)), proxies, full=False)

    async def __call__(self, scope, receive, send) -> None:
        server = scope.get("server")
        if server and server[1] == self.internal_port and scope["type"] != "lifespan":
            await self.internal(scope, receive, send)
            return
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            await websocket_endpoint(self.state.services, scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"].startswith(LIVE):
            scope["app"] = self.app  # what the routes read their services from
            await self.live(scope, receive, send)
            return
        await self.public(scope, receive, send)
