"""Operations: liveness, readiness, Prometheus metrics, structured logs.

Two sets of routes. The public port keeps `/healthz` and `/readyz` for load balancers, saying only
ok or not. The internal port (`--internal-port`, loopback by default; server/cli.py opens it) serves the
detail an operator needs and nobody else should read: the node's name, which check failed and how,
and `/metrics` (connection counts, channel and command figures)."""

from __future__ import annotations

import json
import logging
import sys
import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab.api.common import json_response


async def healthz(request: Request) -> Response:
    """The process is up and its event loop answers."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to take traffic (the database answers and the bus is connected): 200 or 503, no detail."""
    ok, _checks = await _readiness(request.app.state.services)
    return json_response({"status": "ok" if ok else "unavailable"}, 200 if ok else 503)


async def health_detail(request: Request) -> Response:
    return json_response({"status": "ok", "node": request.app.state.services.settings.node_id})


async def ready_detail(request: Request) -> Response:
    """Readiness with each check and how it failed, for the operator."""
    services = request.app.state.services
    ok, checks = await _readiness(services)
    return json_response({"status": "ok" if ok else "unavailable", "node": services.settings.node_id,
                          "checks": checks}, 200 if ok else 503)


async def _readiness(services) -> tuple[bool, dict[str, str]]:
    checks: dict[str, str] = {}
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"error: {type(exc).__name__}"
    checks["bus"] = "ok" if services.hub.bus.healthy and await services.hub.bus.ping() else "unreachable"
    if services.shutting_down:
        checks["node"] = "shutting down"
    return all(v == "ok" for v in checks.values()), checks


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


routes = [  # the public port's: for load balancers, outside the API description
    Route("/healthz", healthz, include_in_schema=False),
    Route("/readyz", readyz, include_in_schema=False),
]
internal_routes = [  # the internal port's
    Route("/healthz", health_detail),
    Route("/readyz", ready_detail),
    Route("/metrics", metrics),
]


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any `extra=` fields the call passed."""

    _skip = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._skip:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str = "info", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn logs every request and every socket at INFO; at 10,000 sockets that drowns the useful lines.
    logging.getLogger("uvicorn.access").setLevel("WARNING")
    for noisy in ("aioice", "aiortc"):  # a line per ICE check and per packet at INFO
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.error").setLevel("WARNING" if root.level <= logging.INFO else root.level)
