"""The reporting group's notes on the program: while a group reports back (`group.report` recorded
`group_reporting`), its notes document is drawn as a card (collab.media.cards) beside the rapporteur,
read again every `REFRESH` seconds and drawn again when its text changed, until another group reports
or the phase changes.

The notes are read as the document is now (`collab.docs.service.current_state`: this node's open copy,
else the stored snapshot and updates, which editors on any node write within a moment), as Markdown,
so the guiding questions (headings) and the group's answers (paragraphs) read apart on the card.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from collab.docs.rooms import DocRooms
from collab.docs.service import current_state, render
from collab.media import cards
from sessions.program.layout import NOTES

log = logging.getLogger("collab.program")

REFRESH = 3.0  # seconds between readings of the notes while the group reports
WIDTH, HEIGHT = 640, 720  # the card: half the program's width, its full height


def blocks_of(markdown: str) -> list[cards.Block]:
    """The card's blocks from the notes' Markdown: headings (the questions, the conclusions) and
    paragraphs (the answers); the document's own title (its first level-1 heading) is left out, since
    the card's bar names the group."""
    out: list[cards.Block] = []
    titled = False
    for line in markdown.splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            level = len(text) - len(text.lstrip("#"))
            text = text[level:].strip()
            if level == 1 and not titled:
                titled = True
                continue
            out.append(cards.Block(text, heading=True))
        else:
            out.append(cards.Block(text.lstrip("-*").strip() if text[:2] in ("- ", "* ") else text))
    return out


def card_title(group: dict[str, Any]) -> str:
    return f"{group.get('name') or '第%s组' % group.get('number', '')}的研讨记录"


def draw(group: dict[str, Any], markdown: str):
    """The card's picture (a thread's work: Pillow takes some tens of milliseconds)."""
    return cards.frame(cards.draw(card_title(group), blocks_of(markdown), WIDTH, HEIGHT))


class NotesCard:
    """One group's report on this node's program: `event` is its `group_reporting` (group, rapporteur,
    doc_id); `show(frame)` hands each new picture of the notes to the producer."""

    def __init__(self, services, event: dict[str, Any], show) -> None:
        self.services = services
        self.group: dict[str, Any] = event.get("group") or {}
        self.rapporteur_id: int | None = (event.get("rapporteur") or {}).get("id")
        self.doc_id: int = event["doc_id"]
        self.show = show
        self.markdown: str | None = None
        self.drawn = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopped = False

    @property
    def rapporteur_key(self) -> str | None:
        return str(self.rapporteur_id) if self.rapporteur_id is not None else None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while not self._stopped:
            try:
                markdown = await self._read()
                if markdown != self.markdown:
                    picture = await asyncio.to_thread(draw, self.group, markdown)
                    if self._stopped:
                        return
                    self.markdown = markdown
                    self.show(NOTES, picture)
                    self.drawn.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not draw the reporting group's notes", extra={"doc": self.doc_id})
            await asyncio.sleep(REFRESH)

    async def _read(self) -> str:
        async with self.services.sessionmaker() as db:
            state = await current_state(self.services.get(DocRooms), db, self.doc_id)
        return render(state, "")["markdown"] if state else ""
