"""The attendance report as an organizer and an integrator meet it, on SQLite and PostgreSQL with a real
server: the organizer, a host and an expert who sat in the room are reported under their role and not
among the teachers who may earn credit; the CSV speaks the reader's language with times on the
activity's clock (Asia/Shanghai by default) to the second; `format=machine` keeps the English
snake_case form with ISO 8601 times and their offset; and an activity's time zone is checked."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

import harness

CREDIT_RATIO = 0.001  # of the scheduled hour: 3.6 s present while live earns credit
SHANGHAI = ZoneInfo("Asia/Shanghai")
MACHINE_HEADER = "user_id,name,school,region,first_join,last_leave,minutes,rejoins,credited,role"
state: dict = {}


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url, credit_ratio=CREDIT_RATIO).start()
    yield s
    s.cleanup()


def as_(users, who, **headers):
    return {"Authorization": f"Bearer {users[who][1]}", **headers}


def schedule(**extra) -> dict:
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    return {"title": "函数的概念 课例研讨", "visibility": "registered", "registration": "open",
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 30},
                       {"kind": "discussion", "title": "研讨", "minutes": 30}], **extra}


async def join(server, users, who, aid) -> harness.WsClient:
    ws = await harness.WsClient(server.ws_url).open(users[who][1])
    snap = await ws.ok("activity.snapshot", activity_id=aid)
    await ws.ok("subscribe", channel=snap["channel"], since=snap["since"])
    return ws


def parse(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # spreadsheets read it as UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture(scope="module")
async def ran(server, users):
    """An activity run with its organizer, a host (admin1) and an expert in the room beside two
    teachers: teacher1 stays long enough for credit, teacher2 does not."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/activities", headers=as_(users, "org1"), json=schedule(
            hosts=[users["admin1"][0]], experts=[users["expert1"][0]]))
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        for who in ("teacher1", "teacher2"):
            assert (await http.post(f"/api/activities/{aid}/register", headers=as_(users, who))).json()["status"] == "approved"
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await host.ok("activity.open_lobby", activity_id=aid)
    await host.ok("activity.start", activity_id=aid)
    staff = [await join(server, users, who, aid) for who in ("org1", "admin1", "expert1")]
    t1 = await join(server, users, "teacher1", aid)
    t2 = await join(server, users, "teacher2", aid)
    await asyncio.sleep(1)
    await t2.close()  # leaves well before the 3.6 s that earn credit
    await asyncio.sleep(5.5)
    await host.ok("activity.end", activity_id=aid)
    for ws in (t1, *staff, host):
        await ws.close()

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        async def leaves() -> tuple[dict, list]:
            report = (await http.get(f"/api/activities/{aid}/attendance", headers=as_(users, "org1"))).json()
            return report, [r["last_leave"] for r in report["attendees"] + report["staff"]]

        # The node writes its intervals within a second; until then an open interval's last leave is
        # "now" and moves. Wait for all five to be there and to stay put across a second.
        deadline = time.monotonic() + 15
        report, before = await leaves()
        while time.monotonic() < deadline:
            await asyncio.sleep(1.1)
            report, after = await leaves()
            if len(after) == 5 and all(after) and after == before:
                break
            before = after
    return aid, report


async def test_staff_are_reported_under_their_role_and_not_as_teachers(ran, users):
    aid, report = ran
    teachers = {r["user_id"]: r for r in report["attendees"]}
    staff = {r["user_id"]: r for r in report["staff"]}
    assert set(teachers) == {users["teacher1"][0], users["teacher2"][0]}  # only teachers seek credit
    assert {uid: r["role"] for uid, r in staff.items()} == {
        users["org1"][0]: "organizer", users["admin1"][0]: "host", users["expert1"][0]: "expert"}
    assert all(r["credited"] is None and r["seconds"] > 0 for r in staff.values())  # there, never "no credit"
    assert teachers[users["teacher1"][0]]["credited"] is True
    assert teachers[users["teacher2"][0]]["credited"] is False
    assert all(r["role"] == "teacher" for r in teachers.values())
    assert report["needed_minutes"] == 0.1 and report["time_zone"] == "Asia/Shanghai"
    assert max(p["present"] for p in report["timeline"]) == 5  # the curve counts everyone in the room


async def test_the_csv_is_chinese_with_shanghai_times_to_the_second(server, ran, users):
    aid, report = ran
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.get(f"/api/activities/{aid}/attendance.csv", headers=as_(users, "org1"))
    assert r.status_code == 200 and r.headers["content-language"] == "zh-CN"
    assert r.headers["content-disposition"] == f'attachment; filename="attendance-{aid}.csv"'
    header, *rows = parse(r.text)
    assert header == ["用户编号", "姓名", "角色", "学校", "地区", "首次进入（Asia/Shanghai）", "最后离开（Asia/Shanghai）",
                      "在线分钟", "重连次数", "获得学时"]
    by_id = {int(row[0]): dict(zip(header, row)) for row in rows}
    assert [int(row[0]) for row in rows[:2]] == [r["user_id"] for r in report["attendees"]]  # teachers first
    assert {uid: (row["角色"], row["获得学时"]) for uid, row in by_id.items()} == {
        users["teacher1"][0]: ("教师", "是"), users["teacher2"][0]: ("教师", "否"),
        users["org1"][0]: ("组织者", "不计学时"), users["admin1"][0]: ("主持人", "不计学时"),
        users["expert1"][0]: ("专家", "不计学时")}
    for row in report["attendees"] + report["staff"]:
        cell = by_id[row["user_id"]]["首次进入（Asia/Shanghai）"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cell), cell  # to the second, no microseconds
        on_clock = datetime.strptime(cell, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
        assert on_clock == datetime.fromisoformat(row["first_join"]).replace(microsecond=0)  # Beijing time, not UTC
        assert by_id[row["user_id"]]["姓名"] == row["name"]


async def test_english_for_a_reader_who_asks_for_it(server, ran, users):
    aid, _ = ran
    path = f"/api/activities/{aid}/attendance.csv"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        by_query = await http.get(path + "?lang=en", headers=as_(users, "org1", **{"Accept-Language": "zh-CN"}))
        by_header = await http.get(path, headers=as_(users, "org1", **{"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}))
        zh_preferred = await http.get(path, headers=as_(users, "org1", **{"Accept-Language": "en;q=0.4, zh-CN"}))
        bad = await http.get(path + "?lang=fr", headers=as_(users, "org1"))
    assert by_query.text == by_header.text
    header, *rows = parse(by_query.text)
    assert header == ["User ID", "Name", "Role", "School", "Region", "First join (Asia/Shanghai)",
                      "Last leave (Asia/Shanghai)", "Minutes present", "Rejoins", "Credited"]
    roles = {int(row[0]): (row[2], row[9]) for row in rows}
    assert roles[users["teacher1"][0]] == ("teacher", "yes") and roles[users["expert1"][0]] == ("expert", "not counted")
    assert parse(zh_preferred.text)[0][1] == "姓名"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


async def test_the_machine_form_is_stable_whatever_the_reader(server, ran, users):
    aid, report = ran
    path = f"/api/activities/{aid}/attendance.csv?format=machine"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        machine = await http.get(path, headers=as_(users, "org1"))
        in_english = await http.get(path + "&lang=en", headers=as_(users, "org1", **{"Accept-Language": "en"}))
        bad = await http.get(f"/api/activities/{aid}/attendance.csv?format=xml", headers=as_(users, "org1"))
        denied = await http.get(path, headers=as_(users, "teacher1"))
    assert machine.text == in_english.text
    assert machine.text.lstrip("\ufeff").splitlines()[0] == MACHINE_HEADER
    header, *rows = parse(machine.text)
    cells = {int(row[0]): dict(zip(header, row)) for row in rows}
    for row in report["attendees"] + report["staff"]:
        got = cells[row["user_id"]]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", got["first_join"]), got
        assert datetime.fromisoformat(got["first_join"]) == datetime.fromisoformat(row["first_join"]).replace(microsecond=0)
        assert datetime.fromisoformat(got["last_leave"]) == datetime.fromisoformat(row["last_leave"]).replace(microsecond=0)
        assert got["role"] == row["role"] and float(got["minutes"]) == row["minutes"]
        assert got["credited"] == {True: "yes", False: "no", None: ""}[row["credited"]]
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    assert denied.status_code == 403


async def test_an_activity_keeps_a_time_zone_that_is_checked(server, users):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        default = await http.post("/api/activities", headers=as_(users, "org1"), json=schedule())
        assert default.status_code == 201 and default.json()["time_zone"] == "Asia/Shanghai"
        aid = default.json()["id"]
        for zone in ("Mars/Olympus", "localtime", "../../etc/passwd", 8, ""):
            bad = await http.post("/api/activities", headers=as_(users, "org1"), json=schedule(time_zone=zone))
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_time_zone", (zone, bad.text)
            assert "time_zone" in bad.json()["error"]["message"]
        urumqi = await http.post("/api/activities", headers=as_(users, "org1"), json=schedule(time_zone="Asia/Urumqi"))
        assert urumqi.json()["time_zone"] == "Asia/Urumqi"
        edited = await http.patch(f"/api/activities/{aid}", headers=as_(users, "org1"), json={"time_zone": "Europe/Berlin"})
        assert edited.status_code == 200 and edited.json()["time_zone"] == "Europe/Berlin"
        refused = await http.patch(f"/api/activities/{aid}", headers=as_(users, "org1"), json={"time_zone": "Berlin"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_time_zone"
        untouched = await http.patch(f"/api/activities/{aid}", headers=as_(users, "org1"), json={"title": "改名"})
        assert untouched.json()["time_zone"] == "Europe/Berlin"  # an edit that names no zone keeps it
        listed = (await http.get("/api/activities", headers=as_(users, "org1"))).json()["activities"]
        assert {a["id"]: a["time_zone"] for a in listed}[aid] == "Europe/Berlin"
