"""Operations: liveness, readiness, Prometheus metrics, structured logs."""

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
    return json_response({"status": "ok", "node": request.app.state.services.settings.node_id})


async def readyz(request: Request) -> Response:
    """Ready to take traffic: the database answers and the bus is connected."""
    services = request.app.state.services
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
    ok = all(v == "ok" for v in checks.values())
    return json_response({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


routes = [  # operational endpoints, outside the API description
    Route("/healthz", healthz, include_in_schema=False),
    Route("/readyz", readyz, include_in_schema=False),
    Route("/metrics", metrics, include_in_schema=False),
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
