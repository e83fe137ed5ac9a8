"""Who is acting: the identity every policy decision is made about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    role: str  # platform role: admin, organizer, expert, teacher; or service (an API key, never a person)
    name: str = ""
    region: str = ""
    # A service key's id and scopes (collab/keys.py); a person has neither. A service actor's user_id is 0,
    # which no user has, so no rule that compares user ids ever matches it.
    key_id: int | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_service(self) -> bool:
        return self.role == SERVICE


SERVICE = "service"
