"""The live stage as a node installs it: signaling commands, lesson-video uploads, the stages of this
node and the links to other nodes' publishers."""

from __future__ import annotations

from collab.parts import Part
from collab.realtime.dispatch import Registry
from collab.services import Services
from sessions import lesson_videos
from sessions.stage import register
from sessions.stage.stages import Stages


def install(services: Services) -> Part:
    commands = Registry()
    register(commands)
    stages = services.provide(Stages(services))
    return Part("stage", routes=lesson_videos.routes, commands=commands, start=stages.start, stop=stages.close_all)
