"""Demo data for the embedded server: accounts to sign in with and a first announcement."""

from __future__ import annotations

from sqlalchemy import select

from collab.auth.accounts import create_user
from collab.settings import Settings
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import Announcement, User

PASSWORD = "collab-demo"

ACCOUNTS = [
    ("admin", "平台管理员 Platform admin", "admin", "", ""),
    ("organizer", "王组织 Wang (organizer)", "organizer", "省教研室 Provincial research office", "浙江 Zhejiang"),
    ("expert", "李专家 Li (expert)", "expert", "北京师范大学 Beijing Normal University", "北京 Beijing"),
    ("teacher1", "张老师 Zhang (teacher)", "teacher", "杭州市第一中学 Hangzhou No.1 Middle School", "浙江 Zhejiang"),
    ("teacher2", "刘老师 Liu (teacher)", "teacher", "凉山州乡村小学 Liangshan village school", "四川 Sichuan"),
]


async def seed(settings: Settings) -> list[str]:
    """Idempotent: creates what is missing. Returns the usernames created."""
    engine = make_engine(settings.database_url)
    created: list[str] = []
    try:
        async with make_sessionmaker(engine)() as db:
            existing = set((await db.execute(select(User.username))).scalars())
            for username, name, role, school, region in ACCOUNTS:
                if username in existing:
                    continue
                await create_user(db, username=username, password=PASSWORD, display_name=name, role=role,
                                  school=school, region=region)
                created.append(username)
            if "organizer" in created:
                organizer = (await db.execute(select(User).where(User.username == "organizer"))).scalar_one()
                db.add(Announcement(channel="announce:all", author_id=organizer.id,
                                    body="欢迎来到 collab! Welcome: national activities and studios open here."))
            await db.commit()
    finally:
        await engine.dispose()
    return created
