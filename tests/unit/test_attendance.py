"""Attendance arithmetic: reconnects, two tabs, two nodes, the live window, the credit rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sessions.attendance import Interval, credit_threshold, curve, curve_step, merge, record

T0 = datetime(2027, 3, 1, 6, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iv(a: float, b: float) -> Interval:
    return Interval(at(a), at(b))


LIVE = iv(0, 100)


def test_a_drop_and_rejoin_counts_only_the_time_present():
    r = record(1, [iv(0, 30), iv(35, 100)], LIVE, credit_threshold(100 * 60, 0.8))
    assert r.minutes == 95 and r.sessions == 2 and r.rejoins == 1 and r.credited


def test_two_tabs_or_two_nodes_at_once_count_once():
    r = record(1, [iv(0, 60), iv(10, 50), iv(55, 100)], LIVE, 0)
    assert r.minutes == 100 and r.sessions == 1


def test_time_outside_the_live_window_does_not_count():
    r = record(1, [iv(-20, 10), iv(90, 130)], LIVE, 0)
    assert r.minutes == 20
    assert r.first_join == at(-20) and r.last_leave == at(130)  # but the record shows when they came


def test_credit_rule():
    need = credit_threshold(100 * 60, 0.8)
    assert record(1, [iv(0, 80)], LIVE, need).credited
    assert not record(1, [iv(0, 79.9)], LIVE, need).credited


def test_an_activity_that_never_went_live_credits_nobody():
    r = record(1, [iv(0, 100)], None, 0)
    assert r.seconds == 0 and not r.credited and r.sessions == 1


def test_merge_ignores_empty_and_backwards_intervals():
    assert merge([iv(5, 5), iv(10, 3), iv(1, 2)]) == [iv(1, 2)]


def test_csv_never_lets_a_name_become_a_formula():
    import csv
    import io

    from sessions.reports import to_csv

    rows = [{"user_id": 1, "name": "=HYPERLINK(\"http://x\")", "school": "+1", "region": "四川", "role": "teacher",
             "first_join": None, "last_leave": None, "minutes": 12.5, "rejoins": 0, "credited": True}]
    for machine, name, school, region, credited in ((True, "name", "school", "region", "credited"),
                                                    (False, "姓名", "学校", "地区", "获得学时")):
        parsed = list(csv.DictReader(io.StringIO(to_csv(rows, "Asia/Shanghai", machine=machine).lstrip("\ufeff"))))
        assert parsed[0][name] == "'=HYPERLINK(\"http://x\")" and parsed[0][school] == "'+1"
        assert parsed[0][region] == "四川" and parsed[0][credited] == ("yes" if machine else "是")


def test_csv_times_are_on_the_activitys_clock_to_the_second():
    from sessions.reports import to_csv

    at = "2026-12-04T06:00:05.123456+00:00"
    row = {"user_id": 7, "name": "李老师", "school": "", "region": "", "role": "expert", "first_join": at,
           "last_leave": None, "minutes": 3.0, "rejoins": 0, "credited": None}
    readable = to_csv([row], "Asia/Shanghai").lstrip("\ufeff").splitlines()
    assert readable[1] == "7,李老师,专家,,,2026-12-04 14:00:05,,3.0,0,不计学时"
    machine = to_csv([row], "Asia/Urumqi", machine=True).lstrip("\ufeff").splitlines()
    assert machine[1] == "7,李老师,,,2026-12-04T12:00:05+06:00,,3.0,0,,expert"


def test_staff_are_named_by_their_first_role_and_the_organizer_above_all():
    from types import SimpleNamespace as NS

    from sessions.reports import roles_in

    activity = NS(organizer_id=1, staff=[NS(user_id=2, role="presenter"), NS(user_id=2, role="expert"),
                                         NS(user_id=3, role="host"), NS(user_id=1, role="host")])
    assert roles_in(activity) == {1: "organizer", 2: "expert", 3: "host"}


def test_the_curve_counts_two_tabs_once_and_only_inside_the_live_window():
    def sec(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    live = Interval(sec(0), sec(300))
    step = curve_step(300)
    assert step == 5 and curve_step(3600) == 60 and curve_step(8) == 1
    by_user = {1: [Interval(sec(-60), sec(100)), Interval(sec(50), sec(120))],  # came early, a second tab
               2: [Interval(sec(100), sec(400))]}  # stayed after the end
    points = dict(curve(by_user, live, step))
    assert len(points) == 60 and max(points) == sec(295)
    assert points[sec(0)] == 1 and points[sec(60)] == 1 and points[sec(100)] == 2 and points[sec(120)] == 1
    assert points[sec(295)] == 1
    assert curve(by_user, None, 60) == []
