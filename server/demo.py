"""Demo data for the embedded server: accounts to sign in with, a first announcement, a scheduled
national activity, and a famous-teacher studio with members, a post and a lesson-plan document."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select

from collab.auth.accounts import actor_of, create_user
from collab.settings import Settings
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import Announcement, User
from collab.docs import service as docs
from collab.studios import membership
from collab.studios.records import Studio, StudioMember, StudioPost
from sessions import scheduling

BEIJING = timezone(timedelta(hours=8))

PASSWORD = "collab-demo"

# Display names are names, as people write their own (the pages show each person's part next to it,
# in the reader's language); no "(teacher)" suffix to show up in a Chinese chat.
ACCOUNTS = [
    ("admin", "平台管理员", "admin", "", ""),
    ("organizer", "王主任", "organizer", "省教研室 Provincial research office", "浙江 Zhejiang"),
    ("expert", "李教授", "expert", "北京师范大学 Beijing Normal University", "北京 Beijing"),
    ("teacher1", "张老师", "teacher", "杭州市第一中学 Hangzhou No.1 Middle School", "浙江 Zhejiang"),
    ("teacher2", "刘老师", "teacher", "凉山州乡村小学 Liangshan village school", "四川 Sichuan"),
]


def demo_activity(expert_id: int) -> dict:
    """A national activity a week from now, 14:00 Beijing time: the four classic phases, the discussion in
    groups that then report back."""
    day = (datetime.now(timezone.utc) + timedelta(days=7)).astimezone(BEIJING).date()
    start = datetime.combine(day, time(14, 0), BEIJING)
    return {
        "title": "初中数学“函数的概念”同课异构 Junior-high maths: two lessons on functions",
        "description": "两位教师同课异构，专家点评，全国教师在线研讨。Two teachers teach the same lesson; an expert "
                       "comments; teachers across the country discuss.",
        "subject": "math", "grade": "8", "level": "national", "region": "全国 national",
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=150)).isoformat(),
        "capacity": 50_000, "visibility": "registered", "registration": "open",
        "agenda": [
            {"kind": "lesson_display", "title": "课例展示 Lesson example", "minutes": 45},
            {"kind": "group_discussion", "title": "分组研讨 Group discussion", "minutes": 30,
             "groups": {"size": 6, "assign": "mix_schools", "questions": [
                 "两节课分别怎样引出函数的概念？哪种更适合你的学生？",
                 "“变量”与“对应”的理解难点在哪里？课上是如何突破的？",
                 "如果由你来上这节课，你会改进哪个环节？"]}},
            {"kind": "discussion", "title": "小组汇报 Groups report back", "minutes": 10},
            {"kind": "expert_guidance", "title": "专家引领 Expert guidance", "minutes": 30},
            {"kind": "online_interaction", "title": "互动答疑 Questions and polls", "minutes": 20},
        ],
        "experts": [expert_id],
    }


async def seed_studio(db) -> None:
    """Teacher Zhang leads a maths studio; Liu (a village teacher) is a member, the expert observes."""
    users = {u.username: u for u in (await db.execute(select(User))).scalars()}
    leader, member, observer = users["teacher1"], users["teacher2"], users["expert"]
    studio = await membership.create(db, actor_of(leader), {
        "name": "张老师初中数学名师工作室 Zhang's junior-high maths studio", "subject": "math", "grade": "8",
        "region": "浙江 Zhejiang",
        "description": "城乡教师共同备课、共享资源。Teachers from city and village schools prepare lessons together."})
    db.add_all([StudioMember(studio_id=studio.id, user_id=member.id, role="member", status="active", note=""),
                StudioMember(studio_id=studio.id, user_id=observer.id, role="observer", status="active", note="")])
    db.add(StudioPost(studio_id=studio.id, user_id=leader.id, kind="announcement",
                      body="本周五下午集体备课《一次函数》。Friday afternoon: we prepare 'Linear functions' together."))
    await db.commit()
    await docs.create(db, actor_of(leader), studio.id, {"title": "一次函数 Linear functions"})


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
                await db.flush()
                organizer = (await db.execute(select(User).where(User.username == "organizer"))).scalar_one()
                expert = (await db.execute(select(User).where(User.username == "expert"))).scalar_one()
                db.add(Announcement(channel="announce:all", author_id=organizer.id,
                                    body="欢迎来到 collab！Welcome: national activities and studios open here."))
                await db.commit()
                await scheduling.create(db, actor_of(organizer), demo_activity(expert.id))
            await db.commit()
            if not (await db.execute(select(Studio.id).limit(1))).first():
                await seed_studio(db)
    finally:
        await engine.dispose()
    return created
