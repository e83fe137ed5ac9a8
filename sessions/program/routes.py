"""The live program over HTTP: Low-Latency HLS, from memory, for players and the CDN in front of them.

    /live/<activity>/k/<key>/index.m3u8                     the multivariant playlist (one entry per rung)
    /live/<activity>/k/<key>/<rung>/index.m3u8              a rung's media playlist (blocking: ?_HLS_msn=&_HLS_part=)
    /live/<activity>/k/<key>/<rung>/<epoch>/init.mp4        its initialization section
    /live/<activity>/k/<key>/<rung>/<epoch>/<msn>.<i>.m4s   a part;  .../<msn>.m4s  a whole segment
    /live/<activity>/k/<key>/check                          204 if the key is good (for a CDN's edge)

The viewer's signed key is a path segment above everything a playlist names (URIs in playlists are
relative), so the bytes below it are the same for every viewer and a CDN caches them once, with the
key left out of its cache key (docs/stage.md shows nginx doing so). The epoch names one producer's run:
a node taking the program over starts a new one, so a cached part never stands for another.

Caching: parts, segments and init sections never change (a year, immutable); a playlist without
blocking parameters changes every part (one second, the smallest max-age); a blocking request's answer
stays right for that request (it names that part or later); errors are not kept.
"""

from __future__ import annotations

import re

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab.auth import signed
from collab.errors import DomainError
from collab.media import fmp4
from collab.media.llhls import HlsError, MediaWindow, multivariant
from sessions.program.producer import FPS
from sessions.program.programs import Programs

PLAYLIST = "application/vnd.apple.mpegurl"
IMMUTABLE = "public, max-age=31536000, immutable"
BLOCKING_MAX_AGE = 30
PART_WAIT = 3.0  # seconds a request for the hinted part may wait for it (3 × the part target is 1.5)
CORS = {"Access-Control-Allow-Origin": "*"}  # the player may be on another origin than the CDN's host
REQUESTS = Counter("collab_program_requests", "HLS requests for programs this node answered (behind a CDN: "
                   "about one per object and edge)", ["kind"])
PART_NAME = re.compile(r"^(\d{1,9})(?:\.(\d{1,4}))?\.m4s$")


def _open(request: Request) -> tuple[Programs, int]:
    services = request.app.state.services
    try:
        activity_id = int(request.path_params["activity_id"])
    except ValueError:
        raise DomainError("not_found", "no such activity") from None
    signed.check_program_key(services.settings.secret, request.path_params["key"], activity_id)
    return services.get(Programs), activity_id


async def _source(request: Request):
    programs, activity_id = _open(request)
    source = await programs.source(activity_id)
    if source is None:
        raise DomainError("program_off", "nobody makes this activity's program now")
    return programs, source


def _window(source, rung: str, epoch: str | None = None) -> MediaWindow:
    """The rung's playlist; with `epoch`, only if it names the run being served."""
    window = source.windows.get(rung)
    if window is None:
        raise DomainError("not_found", "no such rendition")
    if epoch is not None and epoch != source.epoch:
        raise DomainError("not_found", "that run of the program is over")
    return window


def _hls(exc: HlsError) -> DomainError:
    code = {400: "hls_bad_request", 503: "hls_not_ready"}.get(exc.status, "not_found")
    return DomainError(code, exc.reason, status=exc.status)


def _number(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise DomainError("hls_bad_request", f"{name}: a non-negative integer", status=400)
    return int(value)


async def check(request: Request) -> Response:
    """For a CDN's edge: 204 if the key opens this activity's program, the key's 403 otherwise.
    nginx asks it once per key and minute (`auth_request`), so edges refuse what the origin would."""
    REQUESTS.labels("check").inc()
    _open(request)
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=60"})  # cached by key


async def master(request: Request) -> Response:
    REQUESTS.labels("multivariant").inc()
    programs, source = await _source(request)
    codecs = {}
    for rung in programs.rungs:
        init = await source.init(rung.name)
        if init is None:
            raise DomainError("hls_not_ready", "the program has not begun", status=503)
        codecs[rung.name] = fmp4.codecs(init)
    text = multivariant(programs.rungs, codecs, FPS)
    return Response(text, media_type=PLAYLIST, headers={"Cache-Control": "public, max-age=2", **CORS})


async def media(request: Request) -> Response:
    REQUESTS.labels("playlist").inc()
    _, source = await _source(request)
    window = _window(source, request.path_params["rung"])
    msn, part = _number(request, "_HLS_msn"), _number(request, "_HLS_part")
    blocking = msn is not None or part is not None
    try:
        await window.ready(msn, part)
    except HlsError as exc:
        raise _hls(exc) from None
    reports = [w.report() for w in source.windows.values() if w is not window and w.last is not None]
    text = window.render(reports, uri_prefix=f"{source.epoch}/")
    age = BLOCKING_MAX_AGE if blocking else 1
    return Response(text, media_type=PLAYLIST, headers={"Cache-Control": f"public, max-age={age}", **CORS})


async def init(request: Request) -> Response:
    REQUESTS.labels("init").inc()
    _, source = await _source(request)
    rung = request.path_params["rung"]
    _window(source, rung, request.path_params["epoch"])
    data = await source.init(rung)
    if data is None:
        raise DomainError("hls_not_ready", "the rendition has not begun", status=503)
    return Response(data, media_type="video/mp4", headers={"Cache-Control": IMMUTABLE, **CORS})


async def media_part(request: Request) -> Response:
    REQUESTS.labels("part").inc()
    _, source = await _source(request)
    rung = request.path_params["rung"]
    window = _window(source, rung, request.path_params["epoch"])
    match = PART_NAME.match(request.path_params["name"])
    if match is None:
        raise DomainError("not_found", "no such part")
    msn, index = int(match[1]), match[2]
    try:
        if index is None:
            parts = window.segment_parts(msn)
            if parts is None:
                raise DomainError("not_found", "no such segment (yet)")
        else:
            parts = [await window.part_data(msn, int(index), timeout=PART_WAIT)]
    except HlsError as exc:
        raise _hls(exc) from None
    chunks = [await source.data(rung, p) for p in parts]
    if any(c is None for c in chunks):
        raise DomainError("not_found", "that part is no longer kept")
    return Response(b"".join(chunks), media_type="video/mp4", headers={"Cache-Control": IMMUTABLE, **CORS})


routes = [
    Route("/live/{activity_id}/k/{key}/check", check, methods=["GET"]),
    Route("/live/{activity_id}/k/{key}/index.m3u8", master, methods=["GET"]),
    Route("/live/{activity_id}/k/{key}/{rung}/index.m3u8", media, methods=["GET"]),
    Route("/live/{activity_id}/k/{key}/{rung}/{epoch}/init.mp4", init, methods=["GET"]),
    Route("/live/{activity_id}/k/{key}/{rung}/{epoch}/{name}", media_part, methods=["GET"]),
]
