"""The lesson video on the stage: `stage.video` starts an uploaded lesson video (sessions.lesson_videos)
as the stage's publication `"lesson"`, and plays, pauses, seeks and stops it for everyone at once
(`collab.media.player`: one player per stage)."""

from __future__ import annotations

from typing import Any

import av

from collab import policy
from collab.media.player import LessonPlayer
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.studios import library
from sessions import lesson_videos
from sessions.records import LessonVideo
from sessions.room import in_room
from sessions.stage import rules
from sessions.stage.commands import seat
from sessions.stage.publisher import Publisher
from sessions.stage.stages import stages_of


async def video(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """start {video_id}, play, pause, seek {position}, stop."""
    action = rules.video_action(args.get("action"))
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        policy.authorize(ctx.actor, "stage.publish", await seat(ctx, db, activity, acc))
        lesson_video = None
        if action == "start":
            lesson_video = await db.get(LessonVideo, require(args, "video_id", int))
            if lesson_video is None or lesson_video.activity_id != activity.id:
                raise CommandError("not_found", "no such lesson video in this activity")
    stage = stages_of(ctx).of(activity.id)
    pub = stage.publishers.get(rules.LESSON)
    if action == "start":
        await stage.take_off(rules.LESSON)  # one lesson video at a time: the new one replaces it
        player = _player(ctx, lesson_video)
        pub = Publisher(stage, rules.LESSON, lesson_video.title, ctx, feeds=dict(player.feeds), player=player,
                        owner_id=ctx.actor.user_id)
        await stage.take(pub)
        player.play()
        if activity.state == "live":
            pub.start_recording()
    elif pub is None or pub.player is None:
        raise CommandError("not_on_stage", "no lesson video is on the stage")
    elif action == "play":
        pub.player.play()
    elif action == "pause":
        pub.player.pause()
    elif action == "seek":
        pub.player.seek(rules.seek_position(args.get("position")))
    else:
        await pub.close()
    await stage.announce()
    return {"video": pub.player.state() if action != "stop" else None}


def _player(ctx: Context, lesson_video: LessonVideo) -> LessonPlayer:
    path = library.path_of(lesson_videos.root(ctx.services.settings), lesson_video.sha256)
    try:
        return LessonPlayer(path)
    except (ValueError, OSError, av.FFmpegError) as exc:
        raise CommandError("invalid", f"that video cannot be played: {exc}"[:200]) from None


def register(registry: Registry) -> None:
    registry.add("stage.video", video)
