"""Pages: Jinja2 templates from webclient/templates, autoescaped so user text is never markup.

A page is a shell: who may see what is decided by the API and /ws commands its script calls (and so
by collab.policy), never here. Each page gets the ids from its path; the node's name stays out of pages
(people have no use for it) and in the logs, /healthz and the metrics, where operators look."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from collab.web.assets import asset_url

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[2] / "webclient" / "templates"))
TEMPLATES.env.globals["asset"] = asset_url  # {{ asset('page.js') }}: a URL browsers may keep for good


def page(template: str):
    async def render(request: Request):
        return TEMPLATES.TemplateResponse(request, template, dict(request.path_params))
    render.__name__ = template.removesuffix(".html").replace("-", "_")
    return render


routes = [
    Route("/", page("home.html"), include_in_schema=False),
    Route("/signin", page("signin.html"), include_in_schema=False),
    Route("/activities", page("activities.html"), include_in_schema=False),
    Route("/activities/new", page("schedule.html"), include_in_schema=False),
    Route("/activities/{activity_id:int}", page("activity.html"), include_in_schema=False),
    Route("/activities/{activity_id:int}/edit", page("schedule.html"), include_in_schema=False),
    Route("/activities/{activity_id:int}/replay", page("replay.html"), include_in_schema=False),
    Route("/activities/{activity_id:int}/attendance", page("attendance.html"), include_in_schema=False),
    Route("/me/learning", page("learning.html"), include_in_schema=False),
    Route("/studios", page("studios.html"), include_in_schema=False),
    Route("/studios/{studio_id:int}", page("studio.html"), include_in_schema=False),
    Route("/docs/{doc_id:int}", page("doc.html"), include_in_schema=False),
    Route("/admin/audit", page("audit.html"), include_in_schema=False),
]
