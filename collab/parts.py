"""A part of the server (studios, documents, live activities, the stage) as a node installs it.

Each part has one `install(services) -> Part`: it provides its per-node state on `services`, and
returns its HTTP routes, its `/ws` commands and channel namespaces (a `Registry` of its own, merged
into the node's), and what to start and stop with the node. The composition root (`server/app.py`)
lists the parts, like Starlette's constructor lists and Centrifuge's handler registration: nothing is
found by import side effects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from starlette.routing import BaseRoute

from collab.realtime.dispatch import Registry

Hook = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Part:
    name: str
    routes: Sequence[BaseRoute] = ()
    commands: Registry = field(default_factory=Registry)
    start: Hook = _nothing  # after the hub is up, in the order the parts are listed
    stop: Hook = _nothing   # before the hub goes, in the reverse order
