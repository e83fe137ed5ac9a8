"""What the program shows, decided without I/O: which stage publications are tiles, what each tile
is called, and which one is large, following the agenda's phase.

- lesson display: the lesson example is the centre: the lesson video, else a shared screen, else the
  presenter's camera; the others small beside it.
- expert guidance: what the expert shows (a shared screen), else an expert's camera.
- discussion and online interaction: everyone alike, in a grid.
- otherwise (custom, lobby, no phase): a shared screen, else the lesson video, else the first camera.

While a group reports back (`group_reporting`), its notes are a card (`NOTES`) beside its rapporteur:
the two side by side when the rapporteur is alone on stage, else the notes large and the rapporteur
first beside them, whatever the phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from collab.media.compositor import Layout
from sessions.stage.rules import LESSON

NOTES = "notes"  # the tile key of the reporting group's notes card
ROLE_WORDS = {"expert": ("专家", "expert"), "host": ("主持人", "host"), "presenter": ("授课教师", "presenter"),
              "organizer": ("组织者", "organizer")}


@dataclass(frozen=True, slots=True)
class Tile:
    key: str             # the publisher id as a string: "12", "screen:12", "lesson"; or NOTES
    source: str          # "camera", "screen" or "lesson"; "notes" for a reporting group's notes card
    name: str            # the person's display name ("" for the lesson video; the group's for a card)
    role: str = ""       # their part in the activity: expert, host, presenter, organizer, or ""


def tiles_of(on_stage: Iterable[dict], roles: dict[int, str]) -> list[Tile]:
    """The tiles for a `stage` event's `on_stage` items (from every node, in stage order)."""
    out: list[Tile] = []
    for item in on_stage:
        pid = item.get("user_id")
        source = item.get("source") or ("lesson" if pid == LESSON else "camera")
        owner = item.get("owner_id", pid)
        if source == "camera" and "video" not in item.get("tracks", ()) and "audio" not in item.get("tracks", ()):
            continue
        out.append(Tile(str(pid), source, item.get("name", ""), roles.get(owner, "") if isinstance(owner, int) else ""))
    return out


def notes_tile(group_name: str) -> Tile:
    return Tile(NOTES, "notes", group_name)


def label(tile: Tile) -> str:
    """The caption on a tile, Chinese first: 张老师（专家）; 张老师的屏幕; 课例视频 (a notes card carries
    its own title)."""
    if tile.source == "notes":
        return ""
    if tile.source == "lesson":
        return "课例视频"
    if tile.source == "screen":
        return f"{tile.name}的屏幕"
    role = ROLE_WORDS.get(tile.role)
    return f"{tile.name}（{role[0]}）" if role else tile.name


def layout_for(phase_kind: str | None, tiles: list[Tile], rapporteur: str | None = None) -> Layout:
    """`rapporteur`: the reporting group's rapporteur's tile key, while a notes card is among `tiles`."""
    order = tuple(t.key for t in tiles)
    if not tiles:
        return Layout(None, ())
    if any(t.source == "notes" for t in tiles):
        people = [k for k in order if k != NOTES]
        first = [rapporteur] if rapporteur in people else []
        people = first + [k for k in people if k not in first]
        if len(people) <= 1:
            return Layout(None, (*people, NOTES))  # side by side: the rapporteur, then their notes
        return Layout(NOTES, tuple(people))

    def first(*sources: str, roles: tuple[str, ...] = ()) -> str | None:
        for source in sources:
            for t in tiles:
                if t.source == source and (not roles or t.role in roles):
                    return t.key
        return None

    if phase_kind in ("discussion", "online_interaction"):
        main = None
    elif phase_kind == "lesson_display":
        main = first("lesson") or first("screen") or first("camera", roles=("presenter",)) or order[0]
    elif phase_kind == "expert_guidance":
        main = first("screen") or first("camera", roles=("expert",)) or order[0]
    else:
        main = first("screen") or first("lesson") or order[0]
    if len(tiles) == 1:
        main = order[0]
    return Layout(main, order)
