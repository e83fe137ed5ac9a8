"""Pages: Jinja2 templates from webclient/templates, autoescaped so user text is never markup."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.routing import Route
from starlette.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[2] / "webclient" / "templates"))


async def home(request: Request):
    return TEMPLATES.TemplateResponse(request, "home.html", {"node": request.app.state.services.settings.node_id})


async def lesson_doc(request: Request):
    """The document editor. Who may open it is decided by the API and /ws/docs it calls, not here."""
    try:
        doc_id = int(request.path_params["doc_id"])
    except ValueError:
        doc_id = 0
    return TEMPLATES.TemplateResponse(request, "doc.html", {"doc_id": doc_id})


async def activity_room(request: Request):
    """The activity room. Who may enter is decided by the snapshot command it calls, not here."""
    try:
        activity_id = int(request.path_params["activity_id"])
    except ValueError:
        activity_id = 0
    return TEMPLATES.TemplateResponse(request, "activity.html", {"activity_id": activity_id})


routes = [
    Route("/", home, include_in_schema=False),
    Route("/activities/{activity_id}", activity_room, include_in_schema=False),
    Route("/docs/{doc_id}", lesson_doc, include_in_schema=False),
]
