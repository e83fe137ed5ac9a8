"""nginx as the CDN tier in front of two nodes, configured exactly as docs/stage.md shows operators:
200 players through it cost the origin about one request per part, not one per player; a forged key is
refused at the edge as at the origin."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from aiortc import RTCPeerConnection

import harness
from collab.auth import signed
from test_program import last_part, world  # noqa: F401  (the module's own servers and activity)
from test_stage import accept, offer_to_send
from http_lite import Connection
from media_peers import MovingPicture, Tone

ROOT = Path(__file__).resolve().parents[2]
PLAYERS = 200


def documented_config(origins: list[str], port: int, cache: Path) -> str:
    """docs/stage.md's nginx configuration, with this test's ports and cache directory."""
    text = (ROOT / "docs" / "stage.md").read_text()
    conf = re.search(r"```nginx\n(.*?)```", text, re.S)[1]
    conf = re.sub(r"    server 127\.0\.0\.1:8001;\n    server 127\.0\.0\.1:8002;\n",
                  "".join(f"    server {o};\n" for o in origins), conf)
    conf = conf.replace("/var/cache/nginx/", f"{cache}/").replace("listen 8080;", f"listen 127.0.0.1:{port};")
    return conf


class Edge:
    def __init__(self, url: str, error_log: Path) -> None:
        self.url, self.error_log = url, error_log

    def errors(self) -> str:
        """nginx's error log, for a failing assertion to show."""
        return self.error_log.read_text()[-3000:] if self.error_log.exists() else ""


@pytest.fixture(scope="module")
def edge(world):  # noqa: F811
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is needed (scripts/test installs Debian's)")
    d = Path(tempfile.mkdtemp(prefix="collab-nginx-"))
    port = harness.free_port()
    origins = [f"127.0.0.1:{world[n].port}" for n in ("a", "b")]
    (d / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")  # workers write the cache in this test's own directory
        + f"daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
        f"events {{ worker_connections 4096; }}\n"
        f"http {{\n access_log {d}/access.log;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n"
        f"{documented_config(origins, port, d)}\n}}\n")
    proc = subprocess.Popen([nginx, "-p", str(d), "-c", str(d / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            break
        except httpx.HTTPError:
            if proc.poll() is not None:
                pytest.fail("nginx did not start: " + proc.stderr.read().decode())
            time.sleep(0.1)
    yield Edge(f"http://127.0.0.1:{port}", d / "error.log")
    proc.terminate()
    proc.wait(5)
    shutil.rmtree(d, ignore_errors=True)


async def origin_requests(world) -> dict[str, float]:  # noqa: F811
    out: dict[str, float] = {}
    for n in ("a", "b"):
        async with httpx.AsyncClient(base_url=world[n].ops_url) as http:  # the node's internal port
            for line in (await http.get("/metrics")).text.splitlines():
                m = re.match(r'collab_program_requests_total\{kind="(\w+)"\} ([\d.e+]+)', line)
                if m:
                    out[m[1]] = out.get(m[1], 0) + float(m[2])
    return out


async def player(edge_url: str, url: str, until: float, seen: set) -> int:
    """What hls.js does on a live LL-HLS rung: one playlist, then a blocking reload for the next part
    and that part, again and again, over one keep-alive connection."""
    http = Connection(edge_url)
    base = url.rsplit("/", 1)[0] + "/"
    try:
        r = await http.get(url)
        assert r.status == 200, r.text
        msn, index = last_part(r.text)
        got = 0
        while time.monotonic() < until:
            r = await http.get(url, {"_HLS_msn": msn, "_HLS_part": index + 1})
            assert r.status == 200, r.text
            newest = re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', r.text)[-1]
            part = await http.get(base + newest)
            assert part.status == 200 and part.body[4:8] == b"moof"
            seen.add(newest)
            got += 1
            msn, index = last_part(r.text)
        return got
    finally:
        await http.close()


async def test_two_hundred_players_through_nginx_cost_the_origin_about_one_request_per_part(world, edge):  # noqa: F811
    users, aid = world["users"], world["aid"]
    pws = await harness.WsClient(world["a"].ws_url).open(users["presenter"][1])
    ppc = RTCPeerConnection()
    r = await pws.ok("stage.publish", timeout=20, activity_id=aid, offer=await offer_to_send(ppc, [MovingPicture(), Tone()]))
    await accept(ppc, r["answer"])
    teacher = await harness.WsClient(world["b"].ws_url).open(users["t1"][1])
    await teacher.ok("subscribe", channel=f"activity:{aid}")
    deadline = time.monotonic() + 25
    while not (got := await teacher.ok("program.watch", activity_id=aid))["live"]:
        assert time.monotonic() < deadline, "no program"
        await asyncio.sleep(0.3)
    rung = got["url"].replace("index.m3u8", "360p/index.m3u8")
    async with httpx.AsyncClient(base_url=edge.url, timeout=15) as http:
        warm = await http.get(rung)  # the first request fills the caches (and checks the key)
        assert warm.status_code == 200, warm.text + edge.errors()
        before = await origin_requests(world)
        seen: set[str] = set()
        # every player has a key of its own: the edge caches one copy for them all
        keys = [signed.program_key(harness.SECRET, aid, 10_000 + i) for i in range(PLAYERS)]
        key = got["url"].split("/k/")[1].split("/")[0]
        until = time.monotonic() + 6
        counts = await asyncio.gather(*(player(edge.url, rung.replace(key, k), until, seen) for k in keys))
        after = await origin_requests(world)
        forged = await http.get(rung.replace(key, key[:-3] + "xyz"))
        assert forged.status_code == 403
    await teacher.close()
    await pws.close()
    await ppc.close()
    parts = len(seen)
    fetched = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in after}
    print(f"players {PLAYERS}, parts {parts}, per player {min(counts)}..{max(counts)}, origin {fetched}")
    assert parts >= 4 and min(counts) >= 2, (parts, sorted(counts), fetched)
    # per part: one blocking playlist and one part request reach the origin, not one per player
    assert fetched.get("part", 0) <= parts + 2, fetched
    assert fetched.get("playlist", 0) <= 2 * parts + 4, fetched
    # each player's key is checked at the origin once (then the edge remembers it for a minute)
    assert fetched.get("check", 0) <= PLAYERS + 2, fetched
