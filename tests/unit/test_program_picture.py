"""The program's picture (collab/media/compositor.py): real decoded-frame objects in, a yuv420p frame out,
read back as RGB the way a viewer's player would show it."""

from __future__ import annotations

import av
import numpy as np
import pytest

from collab.media import captions
from collab.media.compositor import MAX_GRID, MAX_STRIP, STALL_SECONDS, Compositor, Layout

RED, GREEN, BLUE, GREY = (220, 20, 20), (20, 200, 20), (20, 20, 220), (128, 128, 128)


def solid(width: int, height: int, rgb: tuple[int, int, int], fmt: str = "yuv420p") -> av.VideoFrame:
    """A one-colour picture as a decoder would hand it over (yuv420p unless said otherwise)."""
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:] = rgb
    return av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format=fmt)


def rgb(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24").astype(int)


def near(pixel, colour, tolerance: int = 25) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def dark(pixel) -> bool:
    return max(pixel) < 30


def extent(picture: np.ndarray, colour) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the pixels close to `colour`."""
    ys, xs = np.nonzero(np.all(np.abs(picture - colour) <= 25, axis=2))
    assert len(xs), f"no {colour} pixels in the picture"
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def bright(region: np.ndarray) -> int:
    """How many near-white pixels (caption text) a region holds."""
    return int(np.count_nonzero(region.min(axis=2) > 200))


@pytest.mark.parametrize("size", [(1280, 720), (640, 360)])
def test_compose_makes_a_new_yuv420p_frame_of_the_program_size(size):
    comp = Compositor(*size)
    comp.update("cam", solid(640, 480, RED), now=0)
    first, second = comp.compose(0.03), comp.compose(0.06)
    assert (first.width, first.height, first.format.name) == (*size, "yuv420p")
    assert second is not first  # the encoder may still hold the last one
    assert np.array_equal(rgb(first), rgb(second))


def test_a_lone_source_fills_the_picture_in_its_colour():
    comp = Compositor()
    comp.update("lesson", solid(1280, 720, RED), now=0)
    pic = rgb(comp.compose(0))
    assert near(pic[360, 640], RED) and near(pic[10, 10], RED) and near(pic[710, 1270], RED)


def test_main_and_strip_put_each_source_where_the_layout_says():
    comp = Compositor()
    comp.update("lesson", solid(1280, 720, RED), now=0)
    comp.update("expert", solid(640, 480, BLUE), now=0)
    comp.update("host", solid(640, 480, GREEN), now=0)
    comp.set_layout(Layout(main="lesson", order=("host", "expert")))
    pic = rgb(comp.compose(0))
    assert near(pic[360, 480], RED)  # the main tile: the left three quarters
    host, expert = extent(pic, GREEN), extent(pic, BLUE)
    assert host[0] >= 960 and expert[0] >= 960  # the strip: the right quarter
    assert host[3] <= expert[1]  # in the layout's order, top to bottom
    # the main tile is larger than each strip tile
    lesson = extent(pic, RED)
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    assert area(lesson) > 4 * area(host) and area(host) == area(expert)


def test_swapping_main_moves_the_large_tile():
    comp = Compositor()
    comp.update("lesson", solid(1280, 720, RED), now=0)
    comp.update("screen", solid(1920, 1080, BLUE), now=0)
    comp.set_layout(Layout(main="lesson", order=("lesson", "screen")))
    assert near(rgb(comp.compose(0))[360, 480], RED)
    comp.set_layout(Layout(main="screen", order=("lesson", "screen")))
    pic = rgb(comp.compose(0))
    assert near(pic[360, 480], BLUE) and extent(pic, RED)[0] >= 960


def test_an_even_grid_when_there_is_no_main():
    comp = Compositor()
    for key, colour in (("a", RED), ("b", GREEN), ("c", BLUE), ("d", GREY)):
        comp.update(key, solid(640, 360, colour), now=0)
    comp.set_layout(Layout(main=None, order=("a", "b", "c", "d")))
    pic = rgb(comp.compose(0))
    assert near(pic[180, 320], RED) and near(pic[180, 960], GREEN)
    assert near(pic[540, 320], BLUE) and near(pic[540, 960], GREY)
    sizes = {(b[2] - b[0], b[3] - b[1]) for b in (extent(pic, c) for c in (RED, GREEN, BLUE))}
    assert len(sizes) == 1  # all the same size


def test_sources_the_layout_does_not_name_are_still_shown():
    comp = Compositor()
    comp.update("lesson", solid(1280, 720, RED), now=0)
    comp.update("teacher", solid(640, 480, GREEN), now=0)  # called on stage, not yet in the layout
    comp.set_layout(Layout(main="lesson", order=()))
    assert extent(rgb(comp.compose(0)), GREEN)[0] >= 960


def test_a_main_without_a_picture_yet_gives_the_grid():
    comp = Compositor()
    comp.update("a", solid(640, 360, RED), now=0)
    comp.update("b", solid(640, 360, GREEN), now=0)
    comp.set_layout(Layout(main="lesson", order=("lesson", "a", "b")))
    pic = rgb(comp.compose(0))
    assert near(pic[360, 320], RED) and near(pic[360, 960], GREEN)


@pytest.mark.parametrize("main", ["s0", None])
def test_a_crowded_stage_shows_as_many_as_fit_in_its_order(main):
    comp = Compositor()
    keys = [f"s{i}" for i in range(30)]
    for i, key in enumerate(keys):
        comp.update(key, solid(640, 480, BLUE if i == 0 else GREEN), now=0)
    comp.update(keys[-1], solid(640, 480, RED), now=0)  # the last to come on stage
    comp.set_layout(Layout(main=main, order=tuple(keys)))
    pic = rgb(comp.compose(0))
    assert near(pic[360, 480] if main else pic[90, 160], BLUE)  # the first still where it belongs
    assert not np.any(np.all(np.abs(pic - RED) <= 25, axis=2))  # past the limit: left out, nothing broken
    comp.set_layout(Layout(main=main, order=(keys[-1],)))  # named first: shown
    assert extent(rgb(comp.compose(0)), RED)
    assert MAX_STRIP < 30 and MAX_GRID < 30


def test_aspect_ratio_is_kept_with_dark_bars():
    comp = Compositor()
    comp.update("cam", solid(640, 480, RED), now=0)  # 4:3 in the 16:9 picture: bars left and right
    pic = rgb(comp.compose(0))
    x0, y0, x1, y1 = extent(pic, RED)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(4 / 3, abs=0.01)
    assert dark(pic[360, 80]) and dark(pic[360, 1200]) and near(pic[360, 640], RED)
    # 16:9 as main in its taller area: bars above and below
    comp.update("screen", solid(1920, 1080, BLUE), now=0)
    comp.set_layout(Layout(main="screen", order=("cam",)))
    pic = rgb(comp.compose(0))
    x0, y0, x1, y1 = extent(pic, BLUE)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(16 / 9, abs=0.01)
    assert dark(pic[20, 480]) and dark(pic[700, 480])


def test_a_new_frame_replaces_the_old_one_and_a_resize_rescales():
    comp = Compositor()
    comp.update("cam", solid(640, 480, RED), now=0)
    assert near(rgb(comp.compose(0))[360, 640], RED)
    comp.update("cam", solid(640, 480, GREEN), now=0.03)
    assert near(rgb(comp.compose(0.03))[360, 640], GREEN)
    comp.update("cam", solid(1280, 720, BLUE), now=0.06)  # the presenter switched to a 16:9 camera
    pic = rgb(comp.compose(0.06))
    assert near(pic[10, 10], BLUE)  # now fills the picture: no more bars


def test_any_input_pixel_format_is_taken():
    comp = Compositor()
    comp.update("rgb", solid(640, 480, RED, fmt="rgb24"), now=0)
    comp.update("nv12", solid(640, 480, BLUE, fmt="nv12"), now=0)
    pic = rgb(comp.compose(0))
    assert extent(pic, RED) and extent(pic, BLUE)


def test_a_label_is_drawn_in_the_lower_left_of_its_tile():
    comp = Compositor()
    comp.update("cam", solid(1280, 720, GREY), now=0)
    plain = rgb(comp.compose(0))
    comp.set_label("cam", "Zhang Wei")
    labelled = rgb(comp.compose(0))
    lower_left, upper_right = labelled[620:720, 0:400], labelled[0:360, 640:1280]
    assert bright(lower_left) > 100  # white letters
    assert np.count_nonzero(lower_left.max(axis=2) < 90) > 1000  # on the dark box
    assert np.array_equal(upper_right, plain[0:360, 640:1280])  # nothing else touched
    assert bright(plain[620:720, 0:400]) == 0
    comp.set_label("cam", "")
    assert np.array_equal(rgb(comp.compose(0)), plain)


def test_a_strip_tile_has_its_label_in_its_own_lower_left():
    comp = Compositor()
    comp.update("lesson", solid(1280, 720, GREY), now=0)
    comp.update("expert", solid(640, 480, BLUE), now=0)
    comp.set_layout(Layout(main="lesson", order=("expert",)))
    comp.set_label("expert", "Expert")
    pic = rgb(comp.compose(0))
    x0, y0, x1, y1 = extent(pic, BLUE)
    tile = pic[y0:y1, x0:x1]
    h, w = tile.shape[:2]
    assert bright(tile[h * 2 // 3:, : w // 2]) > 20 and bright(tile[: h // 2]) == 0


def test_chinese_names_render_as_their_own_glyphs():
    assert captions.find_cjk_font(), "no CJK font: apt-get install fonts-wqy-zenhei (scripts/test does)"
    comp = Compositor()
    comp.update("cam", solid(1280, 720, GREY), now=0)
    regions = []
    for name in ("张老师（专家）", "李老师（专家）"):
        comp.set_label("cam", name)
        regions.append(rgb(comp.compose(0))[620:720, 0:400])
    assert all(bright(r) > 100 for r in regions)
    # the names differ in their first character: with a font lacking CJK both would be the same boxes
    assert not np.array_equal(regions[0], regions[1])


def test_without_a_usable_font_labels_still_draw():
    comp = Compositor(font_path="/nonexistent/font.ttf")
    comp.update("cam", solid(1280, 720, GREY), now=0)
    comp.set_label("cam", "张老师 Zhang")
    assert bright(rgb(comp.compose(0))[620:720, 0:400]) > 20


def test_a_stalled_source_is_dimmed_and_says_it_is_reconnecting():
    comp = Compositor()
    comp.update("expert", solid(1280, 720, RED), now=10.0)
    live = rgb(comp.compose(10.0 + STALL_SECONDS / 2))
    assert near(live[100, 100], RED) and bright(live[300:420, 440:840]) == 0
    stalled = rgb(comp.compose(10.0 + STALL_SECONDS + 0.5))
    r, g, b = stalled[100, 100]
    assert r < RED[0] * 0.6 and r > g and r > b  # the same picture, darker
    assert bright(stalled[300:420, 440:840]) > 100  # "重新连接中…" in the middle
    comp.update("expert", solid(1280, 720, RED), now=12.0)  # back
    again = rgb(comp.compose(12.1))
    assert near(again[100, 100], RED) and bright(again[300:420, 440:840]) == 0


def test_the_reconnecting_caption_follows_the_language():
    pictures = {}
    for language in ("zh", "en"):
        comp = Compositor(language=language)
        comp.update("expert", solid(1280, 720, RED), now=0)
        pictures[language] = rgb(comp.compose(5))[300:420, 440:840]
        assert bright(pictures[language]) > 100
    assert not np.array_equal(pictures["zh"], pictures["en"])
    with pytest.raises(ValueError):
        Compositor(language="fr")


def test_only_the_stalled_source_is_dimmed():
    comp = Compositor()
    comp.update("a", solid(640, 360, RED), now=0)
    comp.update("b", solid(640, 360, GREEN), now=0)
    comp.update("b", solid(640, 360, GREEN), now=2.9)
    pic = rgb(comp.compose(3.0))
    assert near(pic[360, 960], GREEN) and pic[360, 120][0] < RED[0] * 0.6


def test_removing_a_source_removes_its_tile():
    comp = Compositor()
    comp.update("a", solid(1280, 720, RED), now=0)
    comp.update("b", solid(1280, 720, GREEN), now=0)
    comp.set_label("b", "Teacher B")
    before = rgb(comp.compose(0))
    assert extent(before, RED) and extent(before, GREEN)
    comp.remove("b")
    after = rgb(comp.compose(0))
    assert not np.any(np.all(np.abs(after - GREEN) <= 25, axis=2))
    assert near(after[10, 10], RED) and near(after[700, 1270], RED)  # a takes the whole picture
    comp.update("b", solid(1280, 720, GREEN), now=0.5)  # back on stage: its old label is gone with it
    assert bright(rgb(comp.compose(0.5))) == 0


def test_the_slate_shows_when_nobody_is_on_stage():
    comp = Compositor(slate="节目即将开始")
    pic = rgb(comp.compose(0))
    assert bright(pic[300:420, 320:960]) > 100 and dark(pic[10, 10])
    comp.update("cam", solid(640, 480, RED), now=0)
    assert bright(rgb(comp.compose(0))) == 0
    comp.remove("cam")
    comp.set_slate("")
    assert rgb(comp.compose(0)).max() < 30
