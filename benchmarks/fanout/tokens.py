"""Tokens for simulated users, minted exactly as the server's own login would (HS256, role, name)."""

from __future__ import annotations

from functools import lru_cache

from collab.auth.actor import Actor
from collab.auth.tokens import issue_token
from collab.settings import Settings


@lru_cache(maxsize=4)
def _settings(secret: str) -> Settings:
    return Settings(secret=secret)


def mint(secret: str, user_id: int, role: str, name: str = "") -> str:
    return issue_token(_settings(secret), Actor(user_id=user_id, role=role, name=name or f"attendee{user_id}"), 4 * 3600)
