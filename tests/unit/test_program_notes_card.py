"""A reporting group's notes on the program (sessions/program/notes_card.py, collab/media/cards.py): the
notes document read as Markdown, drawn as a card in the CJK font, placed beside the rapporteur, and kept
on the picture as a still while the camera beside it is a live source."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from collab.docs.service import render
from collab.docs.template import group_notes
from collab.media import captions, cards
from collab.media.compositor import STALL_SECONDS, Compositor, arrange
from sessions.program import layout
from sessions.program.notes_card import HEIGHT, WIDTH, blocks_of, card_title, draw

from test_program_picture import GREEN, rgb, solid

pytestmark = pytest.mark.skipif(captions.find_cjk_font() is None, reason="needs a CJK font (fonts-wqy-zenhei)")

QUESTIONS = ["本节课的教学目标达成了吗？", "哪个环节最值得借鉴？"]
ANSWER = "达成了，学生能用自己的话说出分数的意义"


def notes_markdown(answer: str) -> str:
    """The group's notes as the document has them: the template, with `answer` typed under the first
    question."""
    from pycrdt import Doc, Text

    doc = Doc()
    doc.apply_update(group_notes("第1组：分组研讨测试", QUESTIONS))
    text = doc.get("content", type=Text)
    at = str(text).index(QUESTIONS[0]) + len(QUESTIONS[0]) + 1
    text.insert(len(str(text)[:at].encode()), answer)
    return render(doc.get_update(), "")["markdown"]


def test_the_notes_read_as_questions_and_answers_without_the_documents_own_title():
    blocks = blocks_of(notes_markdown(ANSWER))
    assert blocks[:3] == [cards.Block(QUESTIONS[0], heading=True), cards.Block(ANSWER),
                          cards.Block(QUESTIONS[1], heading=True)]
    assert blocks[-1] == cards.Block("小组结论 (Conclusions)", heading=True)
    assert card_title({"name": "第1组", "number": 1}) == "第1组的研讨记录"


def test_the_card_shows_the_answer_as_the_cjk_font_draws_it():
    """Where the answer goes, the card's pixels are exactly a reference rendering of the answer text in
    the CJK font; the card without the answer has none of that ink."""
    with_answer = cards.draw("第1组的研讨记录", blocks_of(notes_markdown(ANSWER)), WIDTH, HEIGHT)
    without = cards.draw("第1组的研讨记录", blocks_of(notes_markdown("")), WIDTH, HEIGHT)
    a, b = np.asarray(with_answer).astype(int), np.asarray(without).astype(int)
    rows = np.nonzero(np.abs(a - b).sum(axis=(1, 2)))[0]
    assert len(rows), "the answer changed nothing on the card"
    # the reference: the answer alone, drawn on the card's paper in the card's font and margin, at the
    # line where the card's ink begins to differ
    margin, body_px = max(8, WIDTH // 24), max(10, HEIGHT // 32)
    face = captions.font(captions.find_cjk_font(), body_px)
    y = int(rows.min()) - face.getbbox(ANSWER)[1]
    line = int(body_px * 1.4)
    reference = Image.new("RGB", (WIDTH, HEIGHT), cards.PAPER)
    ImageDraw.Draw(reference).text((margin, y), ANSWER, font=face, fill=cards.INK)
    ref = np.asarray(reference).astype(int)
    assert np.count_nonzero(ref[y:y + line].max(axis=2) < 100) > 300  # real glyphs, not an empty line
    assert np.array_equal(a[y:y + line], ref[y:y + line])
    assert not np.array_equal(b[y:y + line], ref[y:y + line])


def test_text_that_does_not_fit_ends_in_an_ellipsis_and_stays_on_the_card():
    long = "很长的讨论记录。" * 400
    image = cards.draw("第2组的研讨记录", [cards.Block("问题", heading=True), cards.Block(long)], WIDTH, HEIGHT)
    assert image.size == (WIDTH, HEIGHT)
    pixels = np.asarray(image).astype(int)
    assert np.count_nonzero(np.abs(pixels[-40:] - cards.INK).sum(axis=2) < 60) > 0  # written to the bottom


def test_while_a_group_reports_its_notes_are_beside_the_rapporteur():
    rapporteur = layout.Tile("12", "camera", "教师t3")
    expert = layout.Tile("7", "camera", "李教授", "expert")
    card = layout.notes_tile("第1组")
    assert layout.label(card) == ""  # the card carries its own title
    assert layout.layout_for("discussion", [rapporteur, card], "12") == layout.Layout(None, ("12", layout.NOTES))
    # with others on stage, the notes are large and the rapporteur first beside them
    assert layout.layout_for("discussion", [expert, rapporteur, card], "12") == layout.Layout(layout.NOTES, ("12", "7"))
    assert layout.layout_for("discussion", [expert, rapporteur], "12").main is None  # no report: as before


def test_the_program_picture_holds_the_card_beside_the_rapporteur_and_never_dims_it():
    comp = Compositor(1280, 720)
    comp.set_layout(layout.layout_for("discussion", [layout.Tile("12", "camera", "x"), layout.notes_tile("g")], "12"))
    comp.update("12", solid(640, 480, GREEN), now=0)
    card = draw({"name": "第1组"}, notes_markdown(ANSWER))
    comp.show_still(layout.NOTES, card)
    later = 10 * STALL_SECONDS  # the camera stalled long ago; the card is a still
    picture = rgb(comp.compose(later))
    rects = arrange(comp.layout, ["12", layout.NOTES], 1280, 720)
    r = rects[layout.NOTES]
    assert r.x >= 640 - 4  # on the right half, beside the rapporteur
    region = picture[r.y:r.y + r.h, r.x:r.x + r.w]
    paper = np.count_nonzero(np.abs(region - cards.PAPER).sum(axis=2) < 30)
    ink = np.count_nonzero(region.max(axis=2) < 90)
    assert paper > region.shape[0] * region.shape[1] // 3  # the card's paper, bright: not dimmed
    assert ink > 500  # and its writing
    cam = rects["12"]
    assert picture[cam.y + cam.h // 2, cam.x + cam.w // 2].max() < 120  # the stalled camera is dimmed
