"""What the program shows in each phase of the agenda, and what its tiles are called."""

from __future__ import annotations

from sessions.program.layout import Tile, label, layout_for, tiles_of

ROLES = {1: "presenter", 2: "expert", 3: "expert", 9: "organizer"}
STAGE = [
    {"user_id": 1, "name": "王老师", "tracks": ["audio", "video"]},
    {"user_id": 2, "name": "李教授", "tracks": ["audio", "video"]},
    {"user_id": "lesson", "name": "", "tracks": ["audio", "video"], "video": {"state": "playing"}},
    {"user_id": "screen:2", "owner_id": 2, "source": "screen", "name": "李教授", "tracks": ["video"]},
    {"user_id": 5, "name": "赵老师", "tracks": []},  # nothing published yet: no tile
]


def test_tiles_come_from_every_publication_with_media_in_stage_order():
    tiles = tiles_of(STAGE, ROLES)
    assert [(t.key, t.source, t.role) for t in tiles] == [
        ("1", "camera", "presenter"), ("2", "camera", "expert"), ("lesson", "lesson", ""),
        ("screen:2", "screen", "expert")]


def test_captions_say_who_in_chinese_with_full_width_brackets():
    tiles = {t.key: t for t in tiles_of(STAGE, ROLES)}
    assert label(tiles["1"]) == "王老师（授课教师）"
    assert label(tiles["2"]) == "李教授（专家）"
    assert label(tiles["screen:2"]) == "李教授的屏幕"
    assert label(tiles["lesson"]) == "课例视频"
    assert label(Tile("7", "camera", "孙老师")) == "孙老师"  # a teacher called up has no role word


def test_the_phase_decides_what_is_large():
    tiles = tiles_of(STAGE, ROLES)
    assert layout_for("lesson_display", tiles).main == "lesson"
    assert layout_for("expert_guidance", tiles).main == "screen:2"
    assert layout_for("discussion", tiles).main is None  # a grid: everyone alike
    assert layout_for("online_interaction", tiles).main is None
    assert layout_for(None, tiles).main == "screen:2"
    assert layout_for("lesson_display", tiles).order == ("1", "2", "lesson", "screen:2")


def test_without_the_preferred_source_the_next_best_is_large():
    cameras = tiles_of(STAGE[:2], ROLES)
    assert layout_for("lesson_display", cameras).main == "1"  # no lesson video or screen: the presenter
    assert layout_for("expert_guidance", cameras).main == "2"  # no screen: the expert
    assert layout_for("discussion", cameras[:1]).main == "1"  # one tile fills the picture in any phase
    assert layout_for("lesson_display", []).main is None and layout_for("lesson_display", []).order == ()
