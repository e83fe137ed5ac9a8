"""Every call made with a service key goes in the audit log (`api.call`: method, path, status).

A plain ASGI middleware around the API: `current_actor` marks the request's scope with the key it
authenticated (or the revoked or expired key it refused); the call is written, in its own
transaction, just before its answer starts, so a caller who has the answer finds the call logged. A
call whose route failed outright is logged with status 500 before the error goes on.
"""

from __future__ import annotations

import logging

from collab import audit
from collab.api.common import KEY_CALL
from collab.auth.actor import SERVICE, Actor

log = logging.getLogger("collab.audit")


class KeyCallAudit:
    def __init__(self, app, services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        recorded = False

        async def sending(message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and KEY_CALL in scope:
                recorded = True
                await self._record(scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if KEY_CALL in scope and not recorded:
                await self._record(scope, 500)

    async def _record(self, scope, status: int) -> None:
        key_id, name = scope[KEY_CALL]
        client = scope.get("client")
        agent = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"user-agent"), "")
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            async with self.services.sessionmaker() as db:
                audit.record(db, Actor(user_id=0, role=SERVICE, name=name, key_id=key_id), "api.call", "route",
                             scope["path"], {"method": scope["method"], "path": scope["path"], "query": query[:500],
                                             "status": status},
                             address=client[0] if client else "", user_agent=agent)
                await db.commit()
        except Exception:  # the answer has gone; a log that cannot be written must be seen by the operator
            log.exception("could not write a service key's call to the audit log", extra={"key_id": key_id})
