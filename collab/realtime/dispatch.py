"""Commands: the registry other packages extend, and the context a handler gets.

A handler is `async def handler(ctx, args) -> result` registered under a command name. It validates
its arguments (raising `CommandError("invalid", ...)`), asks `collab.policy` before it acts, and
returns a JSON-able result that becomes the reply's `ok`. Each part fills a `Registry` of its own in its
`install()` (collab/parts.py); the composition root merges them into the node's with `include`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from collab.errors import DomainError
from collab.realtime.protocol import Error

if TYPE_CHECKING:
    from collab.services import Services
    from collab.auth.actor import Actor
    from collab.realtime.client import Client


class CommandError(DomainError):
    """A command refused for its arguments or the connection's state (see collab.errors)."""


@dataclass(slots=True)
class Context:
    client: Client
    actor: Actor | None
    services: Services
    command_id: int | None = None


Handler = Callable[[Context, dict[str, Any]], Awaitable[Any]]


ChannelResolver = Callable[[Context, str], Awaitable[Any]]


class Registry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._resolvers: dict[str, ChannelResolver] = {}

    def channel_namespace(self, namespace: str, resolver: ChannelResolver) -> None:
        """For a namespace whose subscribe rule needs a record: `resolver(ctx, channel)` loads what
        `collab.policy`'s "channel.subscribe" rule is then asked about."""
        self._resolvers[namespace] = resolver

    async def channel_resource(self, ctx: Context, channel: str) -> Any:
        resolver = self._resolvers.get(channel.partition(":")[0])
        return channel if resolver is None else await resolver(ctx, channel)

    def command(self, name: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.add(name, fn)
            return fn

        return register

    def add(self, name: str, fn: Handler) -> None:
        if name in self._handlers:
            raise ValueError(f"command {name!r} registered twice")
        self._handlers[name] = fn

    def get(self, name: str) -> Handler:
        fn = self._handlers.get(name)
        if fn is None:
            raise CommandError(Error.UNKNOWN_COMMAND, f"unknown command {name[:64]!r}")
        return fn

    def include(self, other: Registry) -> None:
        """Take a part's commands and channel namespaces; a name registered twice is a wiring error."""
        for name, fn in other._handlers.items():
            self.add(name, fn)
        for namespace, resolver in other._resolvers.items():
            if namespace in self._resolvers:
                raise ValueError(f"channel namespace {namespace!r} registered twice")
            self._resolvers[namespace] = resolver

    def names(self) -> list[str]:
        return sorted(self._handlers)


BIGINT = 2**63


def require(args: dict[str, Any], key: str, kind: type, *, max_len: int | None = None) -> Any:
    """Argument checking shared by handlers: present, of the right type, not too long."""
    value = args.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise CommandError(Error.INVALID, f"{key} must be a {kind.__name__}")
    if max_len is not None and len(value) > max_len:
        raise CommandError(Error.INVALID, f"{key} is longer than {max_len}")
    if kind is int and not -BIGINT <= value < BIGINT:  # no column holds it: a database driver would raise
        raise CommandError(Error.INVALID, f"{key} is out of range")
    return value
