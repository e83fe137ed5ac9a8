"""Pages: Jinja2 templates from webclient/templates, autoescaped so user text is never markup.

A page is a shell: who may see what is decided by the API and /ws commands its script calls (and so
by collab.policy), never here. Each page gets the ids from its path; the node's name stays out of pages
(people have no use for it) and in the logs and on the internal port (/healthz, /metrics), where
operators look."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from starlette.requests import Request
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from collab.web.assets import asset_url
from collab.web.headers import content_security_policy

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[2] / "webclient" / "templates"))
TEMPLATES.env.globals["asset"] = asset_url  # {{ asset('page.js') }}: a URL browsers may keep for good


class InlineScripts:
    """The one inline script a page may have, an import map (browsers take no import map from a file),
    admitted by the page's Content-Security-Policy through the hash of its exact text."""

    def __init__(self) -> None:
        self.hashes: list[str] = []

    def import_map(self, *names: str) -> Markup:
        text = str(htmlsafe_json_dumps(asset_url.import_map(*names)))
        self.hashes.append("sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode())
        return Markup(f'<script type="importmap">{text}</script>')


# The lesson editor's bundle (static/dist/editor.js) carries quill-cursors, which puts its stylesheet in
# a <style> element it makes (empty first, then filled): the policy admits exactly those two texts.
# tests/unit/test_page_policy.py recomputes the first from the bundle, so a rebuild that changes it fails.
QUILL_CURSORS_STYLE = "sha256-NCz8GTtvyHIP1M8acaVKFf+iiOTwOxOnzUJr6V1Sil4="
EMPTY_STYLE = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def page(template: str, style_hashes: tuple[str, ...] = ()):
    async def render(request: Request):
        scripts = InlineScripts()
        response = TEMPLATES.TemplateResponse(request, template, {**request.path_params, "scripts": scripts})
        if scripts.hashes or style_hashes:  # otherwise the node's own policy (collab/web/headers.py) goes out
            response.headers["Content-Security-Policy"] = content_security_policy(scripts.hashes, style_hashes)
        return response
    render.__name__ = template.removesuffix(".html").replace("-", "_")
    return render


routes = [
    Route("/", page("home.html"), include_in_schema=False),
    Route("/signin", page("signin.html"), include_in_schema=False),
    Route("/activities", page("activities.html"), include_in_schema=False),
    Route("/activities/new", page("schedule.html"), include_in_schema=False),
    Route("/activities/{activity_id:int}", page("activity.html", (QUILL_CURSORS_STYLE, EMPTY_STYLE)),  # group notes
          include_in_schema=False),
    Route("/activities/{activity_id:int}/edit", page("schedule.html"), include_in_schema=False),
    Route("/activities/{activity_id:int}/replay", page("replay.html"), include_in_schema=False),
    Route("/activities/{activity_id:int}/attendance", page("attendance.html"), include_in_schema=False),
    Route("/me/learning", page("learning.html"), include_in_schema=False),
    Route("/studios", page("studios.html"), include_in_schema=False),
    Route("/studios/{studio_id:int}", page("studio.html"), include_in_schema=False),
    Route("/docs/{doc_id:int}", page("doc.html", (QUILL_CURSORS_STYLE, EMPTY_STYLE)), include_in_schema=False),
    Route("/admin/audit", page("audit.html"), include_in_schema=False),
]
