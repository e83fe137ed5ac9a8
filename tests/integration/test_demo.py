"""The embedded demo: what the README's first command seeds, that seeding twice adds nothing, and that
the address it prints is where the server really listens."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

import harness
from server import demo
from collab.settings import Settings
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import User
from collab.docs.records import LessonDoc
from collab.studios.records import Studio, StudioMember
from sessions.records import Activity


async def test_demo_seeds_accounts_an_activity_and_a_studio_once():
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'demo.db'}"
    await asyncio.to_thread(schema.upgrade, url)
    settings = Settings(database_url=url, secret="x" * 40)
    created = await demo.seed(settings)
    assert created == ["admin", "organizer", "expert", "teacher1", "teacher2"]
    assert await demo.seed(settings) == []
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        assert (await db.execute(select(func.count()).select_from(User))).scalar_one() == 5
        [activity] = (await db.execute(select(Activity))).scalars().all()
        assert activity.state == "scheduled" and activity.level == "national"
        assert [p.kind for p in activity.phases] == ["lesson_display", "group_discussion", "discussion",
                                                     "expert_guidance", "online_interaction"]
        assert activity.phases[1].groups["assign"] == "mix_schools" and len(activity.phases[1].groups["questions"]) == 3
        assert [s.role for s in activity.staff] == ["expert"]
        [studio] = (await db.execute(select(Studio))).scalars().all()
        roles = dict((await db.execute(select(User.username, StudioMember.role).join(
            StudioMember, StudioMember.user_id == User.id))).all())
        assert roles == {"teacher1": "leader", "teacher2": "member", "expert": "observer"}
        [doc] = (await db.execute(select(LessonDoc))).scalars().all()
        assert doc.studio_id == studio.id and doc.snapshot  # the lesson-plan template
    await engine.dispose()


class DemoServer(harness.Server):
    """`collab serve --demo` as a person runs it, on the port they ask for (0: any free one)."""

    def __init__(self, database_url: str, port: int) -> None:
        super().__init__(database_url)
        self.port = port

    def command(self) -> list[str]:
        return super().command() + ["--demo"]

    def printed_url(self, timeout: float = 30.0) -> str:
        """The URL the command tells people to sign in at, once it has printed it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"sign in at (http://\S+) as", self.log())
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError(f"collab serve --demo exited:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"no sign-in URL printed:\n{self.log()[-3000:]}")


async def sign_in_at(url: str) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        assert (await http.get("/")).status_code == 200
        r = await http.post("/api/auth/login", json={"username": "teacher1", "password": demo.PASSWORD})
        assert r.status_code == 200
        return r.json()["user"]


@pytest.mark.parametrize("asked", ["a free port", "any port (0)"])
async def test_serve_demo_prints_the_url_it_really_listens_on(asked):
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'demo.db'}"
    port = harness.free_port() if asked == "a free port" else 0
    server = DemoServer(url, port).start(wait=False)
    try:
        printed = await asyncio.to_thread(server.printed_url)
        if port:
            assert printed == f"http://127.0.0.1:{port}/"
        else:
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", printed) and not printed.endswith(":0/")
        user = await sign_in_at(printed)  # the printed address is where the demo accounts sign in
        assert user["username"] == "teacher1"
        for name in ("admin", "organizer", "expert", "teacher1", "teacher2"):
            assert re.search(rf"^  {name} .* password {demo.PASSWORD}$", server.log(), re.M)
    finally:
        server.cleanup()


def test_collab_demo_alone_names_the_port_of_its_settings():
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'demo.db'}"
    env = dict(os.environ, COLLAB_PORT="8089")
    subprocess.run([sys.executable, "-m", "server.cli", "db", "upgrade", "--database-url", url], env=env,
                   check=True, capture_output=True, cwd=harness.ROOT)
    out = subprocess.run([sys.executable, "-m", "server.cli", "demo", "--database-url", url, "--secret", "x" * 40],
                         env=env, check=True, capture_output=True, text=True, cwd=harness.ROOT).stdout
    assert "sign in at http://127.0.0.1:8089/ as" in out and "collab serve" in out


def test_demo_text_reads_as_chinese_people_write_it():
    texts = [t for account in demo.ACCOUNTS for t in account[1:]]
    activity = demo.demo_activity(1)
    texts += [activity["title"], activity["description"]] + [p["title"] for p in activity["agenda"]]
    cjk = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
    for text in texts:
        assert not re.search(f"[{cjk}] ?[,:;!?()]|[,:;!?()] ?[{cjk}]", text), text  # full-width next to Chinese
    for _username, name, *_ in demo.ACCOUNTS:
        assert not re.search(r"[A-Za-z()]", name), name  # a name, not "张老师 Zhang (teacher)"
