"""Open sockets end when their token does: a timer per socket at its token's expiry, and an index by
user so that a revocation heard from any node ends that user's sockets here at once.

Nothing is checked per delivered event: the hub's fan-out never looks at a token. A `/ws` socket
moves its timer with `refresh` (a new token for the same user); a document socket cannot refresh
(y-websocket has no such message), so it ends at its token's expiry and reconnects with a new ticket.

A holder is anything with `user_id`, `grant`, `timer` and `end(code, reason)`: the `/ws` Client, a
document socket's `DocHolder`. Close codes (docs/protocol.md): 4005 token expired, 4006 token revoked.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from collab.auth.revocations import Revocations
from collab.auth.tokens import Grant
from collab.realtime.protocol import Close


class Holder(Protocol):
    user_id: int
    grant: Grant | None
    timer: asyncio.TimerHandle | None

    def end(self, code: int, reason: str) -> None: ...


class Lifetimes:
    def __init__(self, revocations: Revocations) -> None:
        self.revocations = revocations
        # user id -> their holder, or a list of them when they have several (one socket is the rule:
        # a set per user would cost more than the socket's own bookkeeping)
        self._by_user: dict[int, Any] = {}

    def hold(self, holder: Holder, grant: Grant) -> None:
        holder.grant = grant
        self._arm(holder)
        held = self._by_user.get(holder.user_id)
        if held is None:
            self._by_user[holder.user_id] = holder
        elif type(held) is list:
            held.append(holder)
        else:
            self._by_user[holder.user_id] = [held, holder]

    def renew(self, holder: Holder, grant: Grant) -> None:
        """A new token for the same user (`refresh`): the socket lives until it expires."""
        holder.grant = grant
        self._arm(holder)

    def release(self, holder: Holder) -> None:
        if holder.timer is not None:
            holder.timer.cancel()
            holder.timer = None
        held = self._by_user.get(holder.user_id)
        if held is holder:
            del self._by_user[holder.user_id]
        elif type(held) is list and holder in held:
            held.remove(holder)
            if len(held) == 1:
                self._by_user[holder.user_id] = held[0]

    def of(self, user_id: int) -> list[Holder]:
        held = self._by_user.get(user_id)
        return [] if held is None else list(held) if type(held) is list else [held]

    def all(self) -> list[Holder]:
        return [h for held in self._by_user.values() for h in (held if type(held) is list else (held,))]

    def revoked(self, user_id: int) -> int:
        """After a revocation concerning `user_id`: end their sockets whose token no longer counts."""
        ended = 0
        for holder in self.of(user_id):
            if holder.grant is not None and self.revocations.void(user_id, holder.grant):
                self._end(holder, Close.TOKEN_REVOKED)
                ended += 1
        return ended

    def recheck(self) -> int:
        """After the revocations were reloaded (the bus came back): end every socket now void."""
        return sum(self.revoked(uid) for uid in list(self._by_user))

    # -- timers ------------------------------------------------------------------------------------

    def _arm(self, holder: Holder) -> None:
        if holder.timer is not None:
            holder.timer.cancel()
        delay = max(holder.grant.expires_at - time.time(), 0.0)
        holder.timer = asyncio.get_running_loop().call_later(delay, self._expired, holder)

    def _expired(self, holder: Holder) -> None:
        holder.timer = None
        if holder.grant is not None and holder.grant.expires_at <= time.time():
            self._end(holder, Close.TOKEN_EXPIRED)
        elif holder.grant is not None:  # a wall clock that moved back: wait the rest
            self._arm(holder)

    def _end(self, holder: Holder, code: int) -> None:
        self.release(holder)
        holder.end(code, Close.REASONS[code])
