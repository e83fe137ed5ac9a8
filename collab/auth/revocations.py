"""Which signed tokens no longer count, known in memory on every node (no I/O here).

A token is checked without the database (the `/ws` join storm), so what voids it early must be at hand:

- a **revoked session**: every token carrying that `sid` (sign-out, "end this session");
- a **cut-off** for a user: every token of theirs issued before a time is void (password changed, role
  lowered, account disabled, an admin ended all their sessions), except those of one `spared` session
  (the person who changed their own password stays signed in where they did it). A disabled account's
  cut-off lies in the future for as long as it stays disabled: nothing issued meanwhile counts either,
  an external provider's tokens included.

An entry matters only while a token it voids could still be alive: it is forgotten at `until` (the
revocation time plus the longest token lifetime). collab/auth/signins.py fills this from the database
at start and from the bus as revocations happen anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from collab.auth.tokens import Grant

FOREVER = math.inf


@dataclass(frozen=True, slots=True)
class Cutoff:
    before: float  # unix seconds: tokens issued before it are void (FOREVER while the account is disabled)
    spared: int | None  # a session whose tokens stay valid
    until: float  # when the entry can be forgotten
    at: float  # when it was decided: of two cut-offs heard in either order, the later decision wins


class Revocations:
    def __init__(self) -> None:
        self.sessions: dict[int, float] = {}  # session id -> until
        self.cutoffs: dict[int, Cutoff] = {}  # user id -> the user's latest cut-off

    def revoke_session(self, session_id: int, until: float) -> None:
        self.sessions[session_id] = max(until, self.sessions.get(session_id, 0.0))

    def cut_off(self, user_id: int, cutoff: Cutoff) -> None:
        """The user's latest decision replaces the one before (re-enabling an account moves a FOREVER
        cut-off back to now)."""
        known = self.cutoffs.get(user_id)
        if known is None or cutoff.at >= known.at:
            self.cutoffs[user_id] = cutoff

    def void(self, user_id: int, grant: Grant) -> str | None:
        """Why a token of `user_id` with `grant` no longer counts, or None while it does."""
        if grant.session_id is not None and grant.session_id in self.sessions:
            return "session_ended"
        cut = self.cutoffs.get(user_id)
        if cut is not None and grant.issued_at < cut.before and (cut.spared is None or cut.spared != grant.session_id):
            return "tokens_revoked"
        return None

    def forget_older(self, now: float) -> None:
        """Drop what no living token can be voided by any more."""
        for sid in [s for s, until in self.sessions.items() if until <= now]:
            del self.sessions[sid]
        for uid in [u for u, c in self.cutoffs.items() if c.until <= now]:
            del self.cutoffs[uid]

    def load(self, sessions: dict[int, float], cutoffs: dict[int, Cutoff]) -> None:
        """What the database holds (at start, and when the bus came back), merged with what was heard
        meanwhile: nothing heard is lost, and of two cut-offs the later decision wins."""
        for sid, until in sessions.items():
            self.revoke_session(sid, until)
        for uid, cutoff in cutoffs.items():
            self.cut_off(uid, cutoff)
