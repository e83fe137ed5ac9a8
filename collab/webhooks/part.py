"""Webhooks as a node installs them: the admins' routes, and the deliverer that works the outbox
while this node holds its lease."""

from __future__ import annotations

from collab.parts import Part
from collab.services import Services
from collab.webhooks import api
from collab.webhooks.deliverer import Deliverer


def install(services: Services) -> Part:
    deliverer = services.provide(Deliverer(services.settings, services.sessionmaker, services.hub.bus))
    return Part("webhooks", routes=api.routes, start=deliverer.start, stop=deliverer.stop)
