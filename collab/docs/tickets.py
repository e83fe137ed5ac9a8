"""Tickets for `/ws/docs/{id}`: a short-lived, single-use pass in the socket's URL instead of the
sign-in token (which y-websocket would print in its warnings and proxies would log).

A ticket is signed numbers (collab.auth.signed): the user, the document, when it expires, a random
nonce, and the sign-in token's session, issue time (ms) and expiry: the socket lives as long as that
token would, and ends when it is revoked (collab/realtime/lifetimes.py). Checking it needs no table; using it claims the nonce on the bus (`claim_once`: Redis SET NX
across nodes, process memory on one), so a ticket opens one socket, once, on any node.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from collab.auth import signed
from collab.auth.tokens import Grant
from collab.errors import DomainError

PURPOSE = "doc-ticket"


class TicketRefused(DomainError):
    """A ticket that does not open the socket. Its `code` is the close reason the client sees, with
    close code 4011 (docs/documents.md)."""


@dataclass(frozen=True, slots=True)
class Ticket:
    user_id: int
    doc_id: int
    expires: int  # unix seconds
    nonce: int
    session_id: int = 0  # of the token it was issued for (0: none)
    token_issued_ms: int = 0
    token_expires: int = 0

    @property
    def grant(self) -> Grant:
        return Grant(self.session_id or None, self.token_issued_ms / 1000, float(self.token_expires))


def issue(secret: str, user_id: int, doc_id: int, ttl: int, now: float | None = None,
          grant: Grant | None = None) -> str:
    expires = int(now if now is not None else time.time()) + ttl
    g = grant or Grant(None, 0.0, float(expires))
    return signed.seal(secret, PURPOSE, user_id, doc_id, expires, secrets.randbits(63),
                       g.session_id or 0, int(g.issued_at * 1000), int(g.expires_at))


def check(secret: str, ticket: str, doc_id: int, now: float | None = None) -> Ticket:
    """The ticket's facts if it is ours, for this document and not expired; using it up is the caller's
    `claim_once(nonce_key)`, once everything else has passed."""
    numbers = signed.unseal(secret, PURPOSE, ticket, 7)
    if numbers is None:
        raise TicketRefused("ticket_invalid", "the ticket is not one of ours, or is damaged")
    t = Ticket(*numbers)
    if t.doc_id != doc_id:
        raise TicketRefused("ticket_wrong_document", "the ticket is for another document")
    if t.expires <= (now if now is not None else time.time()):
        raise TicketRefused("ticket_expired", "the ticket has expired")
    return t


def nonce_key(t: Ticket) -> str:
    return f"doc-ticket:{t.nonce}"
