"""Open sockets end when their token does: a timer per socket at its token's expiry, and an index by
user so that a revocation heard from any node ends that user's sockets here at once.

Nothing is checked per delivered event: the hub's fan-out never looks at a token. A `/ws` socket
moves its timer with `refresh` (a new token for the same user); a document socket cannot refresh
(y-websocket has no such message), so it ends at its token's expiry and reconnects with a new ticket.

The timers are buckets of whole seconds, looked at by one loop timer a second, rather than an asyncio
timer each: a socket's timer is then a slot in a list (a few bytes, not 400 per socket as a
`call_later` is), and arming it in a join storm is an append. A socket ends within a second after its
token's expiry. A bucket keeps sockets that were renewed or released since (no removal from a list);
each one's `timer` says which second it is due now, and the others are skipped.

A holder is anything with `user_id`, `grant`, `timer` and `end(code, reason)`: the `/ws` Client, a
document socket's `DocHolder`. Close codes (docs/protocol.md): 4005 token expired, 4006 token revoked.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Protocol

from collab.auth.revocations import Revocations
from collab.auth.tokens import Grant
from collab.realtime.protocol import Close


class Holder(Protocol):
    user_id: int
    grant: Grant | None
    timer: int | None  # the second it is due in (None: not held)

    def end(self, code: int, reason: str) -> None: ...


class Lifetimes:
    def __init__(self, revocations: Revocations) -> None:
        self.revocations = revocations
        # user id -> their holder, or a list of them when they have several (one socket is the rule:
        # a set per user would cost more than the socket's own bookkeeping)
        self._by_user: dict[int, Any] = {}
        self._due: dict[int, list[Holder]] = {}  # whole unix second -> holders whose token expires in it
        self._checked = math.floor(time.time())  # every second up to this one has been looked at
        self._ticking: asyncio.Handle | None = None

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
        holder.timer = None  # its bucket entry is skipped when the second comes
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
        if self._ticking is None:  # nothing was due: no second is waiting to be looked at
            self._checked = max(self._checked, math.floor(time.time()) - 1)
            self._ticking = asyncio.get_running_loop().call_soon(self._tick)
        due = max(math.ceil(holder.grant.expires_at), self._checked + 1)
        holder.timer = due
        bucket = self._due.get(due)
        if bucket is None:
            self._due[due] = [holder]
        else:
            bucket.append(holder)

    def _tick(self) -> None:
        """Once a second while any token is being watched: end the sockets whose second has come."""
        now = time.time()
        second = math.floor(now)
        if self._due and second > self._checked:
            for s in (range(self._checked + 1, second + 1) if second - self._checked < 4096
                      else sorted(k for k in self._due if k <= second)):  # the clock jumped far ahead
                for holder in self._due.pop(s, ()):
                    if holder.timer == s:  # still held, and not renewed to a later second
                        holder.timer = None
                        self._end(holder, Close.TOKEN_EXPIRED)
        self._checked = max(second, self._checked)
        self._ticking = (asyncio.get_running_loop().call_later(second + 1 - now, self._tick)
                         if self._due else None)

    def _end(self, holder: Holder, code: int) -> None:
        self.release(holder)
        holder.end(code, Close.REASONS[code])
