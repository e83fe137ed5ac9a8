"""What one node holds while it serves: settings, storage, the hub, the command registry, the token
resolver, and the state each part keeps per node (a document's room, an activity's room cache, the
stages).

The platform's own services are typed fields. A part's state is keyed by its type, not by a string:
`services.provide(RoomCache(hub))` at start, `services.get(RoomCache)` in a handler, typed as a
`RoomCache` by the checker. So `collab` holds the state of parts it does not import (`sessions`),
and a handler cannot fetch another part's state by a misspelt name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from collab.auth.accounts import TokenResolver
    from collab.auth.signins import SignIns
    from collab.auth.throttle import SigninThrottle
    from collab.realtime.dispatch import Registry
    from collab.realtime.hub import Hub
    from collab.settings import Settings
    from collab.studios.hooks import MembershipHooks

T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    hub: Hub
    registry: Registry
    tokens: TokenResolver
    studio_members: MembershipHooks
    sign_ins: SignIns = None  # type: ignore[assignment]  # sessions, revocations, sockets' lifetimes
    signin_throttle: SigninThrottle = None  # type: ignore[assignment]  # failed sign-ins counted (collab/auth/throttle.py)
    shutting_down: bool = False
    _state: dict[type, Any] = field(default_factory=dict, repr=False)

    def provide(self, state: T) -> T:
        """Hold a part's per-node state, found again by its type."""
        kind = type(state)
        if kind in self._state:
            raise ValueError(f"{kind.__name__} provided twice")
        self._state[kind] = state
        return state

    def get(self, kind: type[T]) -> T:
        """The state a part provided; a KeyError names a part that was not installed."""
        try:
            return self._state[kind]
        except KeyError:
            raise KeyError(f"no {kind.__name__} on this node: is its part installed?") from None
