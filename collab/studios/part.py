"""Famous-teacher studios as a node installs them: their routes, and the studio and document channels."""

from __future__ import annotations

from collab.parts import Part
from collab.realtime.dispatch import Registry
from collab.services import Services
from collab.studios import api, channel


def install(services: Services) -> Part:
    commands = Registry()
    channel.register(commands)
    return Part("studios", routes=api.routes, commands=commands)
