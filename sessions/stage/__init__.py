"""The stage of a live activity: who publishes (presenter, experts, hosts, a teacher called on from the
hand queue, the lesson video), and who watches. Signaling travels over `/ws`; media goes through this
node (`collab.media`): each published track is decoded once and encoded once for all its viewers.

    stage.publish {activity_id, offer, source?} -> {answer}    camera and microphone, or a screen
    stage.watch   {activity_id, publisher_id, offer} -> {answer, watch_id}
    stage.unwatch {activity_id, watch_id}
    stage.leave   {activity_id, source?}                        step down, or stop sharing a screen
    stage.accept  {activity_id}                                 a called-on teacher takes the stage
    stage.remove  {activity_id, user_id, source?}               moderators take someone off, or stop a share
    stage.video   {activity_id, action, ...}  -> {video}        the lesson video
    stage.state   {activity_id}               -> {on_stage, roster}

A shared screen is its own publication, `"screen:<user id>"`, beside the camera. Who is on stage, with
which tracks, goes to the room as `stage` events; joining and leaving are recorded (`stage_joined`,
`stage_left`) for the replay, and so are screen shares (`screen_started`, `screen_stopped`). While the
activity is live, each publication is recorded (`collab.media.recorder`, no second encode) and listed
in the replay. A publisher's socket closing ends its publications; a viewer's ends its peer
connections. Invitations are the hand queue's: `hand.call` puts a hand in state `called`, which lets
that teacher publish; taking the stage makes it `on_stage`.

    rules.py      what the stage decides without I/O: invitations, hands, the closing event, the roster
    stages.py     Stage: one activity's stage on this node; Stages: the node's, `stages_of`
    publisher.py  Publisher: one publication, its feeds, waiting for its media, its recording
    view.py       View: one viewer's peer connection (or another node's link)
    commands.py   the signaling commands; `seat` and `roster` for the room's snapshot
    lesson.py     `stage.video`: the lesson video on the stage
    bridge.py     viewers on other nodes: one link per node to the publisher's node
    group_stage.py  a breakout group's small stage: `group.stage.*`
    part.py       its install(): the commands, lesson-video uploads, the node's stages
"""

from __future__ import annotations

from collab.realtime.dispatch import Registry
from sessions.stage import commands, group_stage, lesson
from sessions.stage.commands import roster, seat
from sessions.stage.stages import Stage, Stages, stages_of

__all__ = ["Stage", "Stages", "register", "roster", "seat", "stages_of"]


def register(registry: Registry) -> None:
    commands.register(registry)
    lesson.register(registry)
    group_stage.register(registry)
