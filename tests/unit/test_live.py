"""What a late joiner's snapshot says they may do (`me`), decided from their place in the activity.
Plain calls: no database, no sockets."""

from __future__ import annotations

from collab.auth.actor import Actor
from collab.policy import ActivityAccess, StageSeat
from sessions.live import me_of

ORGANIZER, EXPERT, TEACHER = Actor(1, "organizer"), Actor(2, "expert"), Actor(3, "teacher")


def test_a_teacher_watches_and_may_not_run_moderate_or_publish():
    acc = ActivityAccess(ORGANIZER.user_id, "public", "live", registration="approved")
    me = me_of(TEACHER, acc, StageSeat(acc))
    assert me == {"roles": [], "registration": "approved", "may_run": False, "may_moderate": False,
                  "may_publish": False, "invited_on_stage": False, "may_manage_stage": False,
                  "may_upload_media": False}


def test_a_teacher_whose_hand_was_called_may_publish():
    acc = ActivityAccess(ORGANIZER.user_id, "public", "live", registration="approved")
    me = me_of(TEACHER, acc, StageSeat(acc, invited=True))
    assert me["may_publish"] and me["invited_on_stage"] and not me["may_moderate"]


def test_the_organizer_runs_and_an_expert_moderates():
    org = me_of(ORGANIZER, acc := ActivityAccess(ORGANIZER.user_id, "public", "live"), StageSeat(acc))
    assert org["may_run"] and org["may_moderate"] and org["may_upload_media"]
    acc = ActivityAccess(ORGANIZER.user_id, "public", "live", staff=frozenset({"expert"}))
    expert = me_of(EXPERT, acc, StageSeat(acc))
    assert expert["roles"] == ["expert"] and expert["may_moderate"] and expert["may_manage_stage"]
    assert not expert["may_run"]
