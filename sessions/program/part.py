"""The live program as a node installs it: the node's programs (made here or copied from the node
that makes them), the HLS routes and `program.watch`."""

from __future__ import annotations

from collab.parts import Part
from collab.realtime.dispatch import Registry
from collab.services import Services
from sessions.program import commands, routes
from sessions.program.programs import Programs
from sessions.stage.stages import Stages


def install(services: Services) -> Part:
    registry = Registry()
    commands.register(registry)
    programs = services.provide(Programs(services, preset=services.settings.program_preset))
    services.get(Stages).admit = commands.admit
    return Part("program", routes=routes.routes, commands=registry, start=programs.start, stop=programs.stop)
