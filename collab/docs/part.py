"""Lesson-prep documents as a node installs them: the rooms of open documents, `/ws/docs`, the routes."""

from __future__ import annotations

from starlette.routing import WebSocketRoute

from collab.docs import api
from collab.docs.endpoint import doc_socket
from collab.docs.rooms import DocRooms
from collab.parts import Part
from collab.services import Services


def install(services: Services) -> Part:
    settings = services.settings
    rooms = services.provide(DocRooms(services.sessionmaker, services.hub, settings.node_id,
                                      settings.doc_idle_seconds))
    return Part("docs", routes=[*api.routes, WebSocketRoute("/ws/docs/{doc_id}", doc_socket)],
                start=rooms.start, stop=rooms.stop)
