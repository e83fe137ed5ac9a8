"""Who is acting: the identity every policy decision is made about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    role: str  # platform role: admin, organizer, expert, teacher
    name: str = ""
    region: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
