"""The policy module: every action, every role, the answer a user would expect."""

from __future__ import annotations

import pytest

from collab import policy
from collab.auth.actor import Actor

ADMIN = Actor(1, "admin")
ORG = Actor(2, "organizer")
EXPERT = Actor(3, "expert")
TEACHER = Actor(4, "teacher")
ANON = None
ORG2 = Actor(5, "organizer")
REGISTERED = Actor(6, "teacher")
ACTORS = (ADMIN, ORG, ORG2, EXPERT, TEACHER, REGISTERED, ANON)


def activity_for(actor, resource):
    """Resources named by a word stand for an activity ORG organizes, seen from `actor`."""
    from collab.policy import ActivityAccess

    state = resource if resource in ("scheduled", "lobby", "live", "ended") else "scheduled"
    visibility = resource if resource in ("public", "registered", "invited") else "registered"
    staff = frozenset({"expert"}) if actor is EXPERT else frozenset()
    registration = "approved" if actor is REGISTERED else None
    return ActivityAccess(organizer_id=ORG.user_id, visibility=visibility, state=state, staff=staff,
                          registration=registration)

# (action, resource) -> the set of actors allowed
MATRIX = [
    ("channel.subscribe", "announce:all", {ADMIN, ORG, EXPERT, TEACHER}),
    ("channel.subscribe", "user:4", {ADMIN, TEACHER}),
    ("channel.subscribe", "user:2", {ADMIN, ORG}),
    ("channel.subscribe", "secret:stuff", set()),
    ("announce.post", "announce:all", {ADMIN, ORG}),
    ("announce.post", "user:4", set()),
    ("announce.list", "announce:all", {ADMIN, ORG, EXPERT, TEACHER}),
    ("user.create", None, {ADMIN}),
    ("user.list", None, {ADMIN, ORG}),
    ("user.update", 4, {ADMIN}),  # role, disable: each ends the user's sessions
    ("user.sessions.end", 4, {ADMIN}),
    ("account.sessions", None, {ADMIN, ORG, ORG2, EXPERT, TEACHER, REGISTERED}),  # one's own: everyone signed in
    ("user.read", 4, {ADMIN, ORG, TEACHER}),
    ("user.read", 3, {ADMIN, ORG, EXPERT}),
    ("webhook.manage", None, {ADMIN}),  # where the platform's records go: admins only
    ("node.presence", "announce:all", {ADMIN, ORG, EXPERT, TEACHER}),
    ("activity.create", None, {ADMIN, ORG}),
    # ORG organizes these activities; ORG2 is another organizer; EXPERT is on the staff of STAFFED.
    ("activity.edit", "scheduled", {ADMIN, ORG}),
    ("activity.edit", "live", set()),
    ("activity.group_roster", "live", {ADMIN, ORG}),  # the list read back, even once the activity runs
    ("activity.cancel", "lobby", {ADMIN, ORG}),
    ("activity.cancel", "ended", set()),
    ("activity.registrations", "scheduled", {ADMIN, ORG}),
    ("activity.registrations.read", "scheduled", {ADMIN, ORG}),
    ("activity.list", None, {ADMIN, ORG, ORG2, EXPERT, TEACHER, REGISTERED, ANON}),
    ("activity.list_all", None, {ADMIN}),
    ("keys.manage", None, {ADMIN}),
    ("audit.read", None, {ADMIN}),
    ("self", None, {ADMIN, ORG, EXPERT, TEACHER}),
    ("user.learning", 4, {ADMIN, TEACHER}),
    ("activity.view", "public", {ADMIN, ORG, ORG2, EXPERT, TEACHER, REGISTERED, ANON}),
    ("activity.view", "registered", {ADMIN, ORG, ORG2, EXPERT, TEACHER, REGISTERED}),
    ("activity.view", "invited", {ADMIN, ORG, EXPERT, REGISTERED}),
    ("activity.register", "registered", {ADMIN, ORG2, TEACHER, REGISTERED}),
    ("activity.register", "invited", set()),
    ("activity.register", "ended", set()),
    ("activity.attend", "registered", {ADMIN, ORG, EXPERT, REGISTERED}),
    ("activity.attend", "public", {ADMIN, ORG, ORG2, EXPERT, TEACHER, REGISTERED}),
    ("activity.run", "live", {ADMIN, ORG}),  # EXPERT is staff but not a host
    ("activity.attendance", "ended", {ADMIN, ORG}),
    ("activity.moderate", "live", {ADMIN, ORG, EXPERT}),
    ("activity.invite", "scheduled", {ADMIN, ORG}),
    ("activity.invite", "ended", set()),
    ("activity.accept_invitation", "invited", {ADMIN, ORG2, TEACHER, REGISTERED}),
    ("activity.accept_invitation", "ended", set()),
    ("activity.timeline", "registered", {ADMIN, ORG, ORG2, EXPERT, TEACHER, REGISTERED}),
    ("activity.groups", "live", {ADMIN, ORG, EXPERT}),  # while it runs: the moderators
    ("activity.groups", "ended", {ADMIN, ORG, ORG2, EXPERT, TEACHER, REGISTERED}),  # after: the record's readers
    ("stage.manage", "live", {ADMIN, ORG, EXPERT}),
    ("activity.media", "live", {ADMIN, ORG}),  # EXPERT is staff but neither host nor presenter
    ("no.such.action", None, set()),
]

# Studio roles × actions. Resources are the studio seen from each studio role (None: not a member);
# ADMIN is a platform admin who holds no studio role.
LEADER, CO, MEMBER, OBSERVER, APPLICANT, OUTSIDER = (Actor(20 + i, "teacher") for i in range(6))
STUDIO_ROLE_OF = {LEADER: "leader", CO: "co_leader", MEMBER: "member", OBSERVER: "observer"}
STUDIO_ACTORS = (ADMIN, LEADER, CO, MEMBER, OBSERVER, APPLICANT, OUTSIDER, ANON)
EVERYONE_SIGNED_IN = {ADMIN, LEADER, CO, MEMBER, OBSERVER, APPLICANT, OUTSIDER}
READERS = {ADMIN, LEADER, CO, MEMBER, OBSERVER}
EDITORS = {ADMIN, LEADER, CO, MEMBER}
MANAGERS = {ADMIN, LEADER, CO}
STUDIO_MATRIX = [
    ("studio.create", EVERYONE_SIGNED_IN),
    ("studio.view", EVERYONE_SIGNED_IN | {ANON}),
    ("studio.apply", {ADMIN, OUTSIDER}),  # not members, not already waiting (APPLICANT)
    ("studio.join_by_link", {ADMIN, APPLICANT, OUTSIDER}),
    ("studio.leave", {CO, MEMBER, OBSERVER}),  # the leader hands over first
    ("studio.manage", MANAGERS),
    ("studio.appoint", {ADMIN, LEADER}),
    ("studio.read", READERS),
    ("studio.post", EDITORS),
    ("studio.announce", MANAGERS),
    ("studio.schedule", MANAGERS),
    ("resource.upload", EDITORS),
    ("resource.delete", MANAGERS | {MEMBER}),  # MEMBER uploaded it; OBSERVER could not have
    ("doc.create", EDITORS),
    ("doc.read", READERS),
    ("doc.edit", EDITORS),
    ("doc.delete", MANAGERS | {MEMBER}),  # MEMBER created it
]


def studio_for(actor):
    from collab.policy import StudioAccess

    return StudioAccess(leader_id=LEADER.user_id, role=STUDIO_ROLE_OF.get(actor), pending=actor is APPLICANT)


@pytest.mark.parametrize("action,allowed", STUDIO_MATRIX, ids=[a for a, _ in STUDIO_MATRIX])
def test_studio_matrix(action, allowed):
    from collab.policy import Owned

    for actor in STUDIO_ACTORS:
        res = studio_for(actor)
        if action in ("resource.delete", "doc.delete"):
            res = Owned(res, owner_id=MEMBER.user_id)
        assert policy.allowed(actor, action, res) == (actor in allowed), (actor, action)


def test_a_member_cannot_delete_what_another_member_made():
    from collab.policy import Owned, StudioAccess

    theirs = Owned(StudioAccess(leader_id=LEADER.user_id, role="member"), owner_id=OUTSIDER.user_id)
    assert not policy.allowed(MEMBER, "doc.delete", theirs)
    assert not policy.allowed(MEMBER, "resource.delete", theirs)
    gone = Owned(StudioAccess(leader_id=LEADER.user_id, role=None), owner_id=MEMBER.user_id)
    assert not policy.allowed(MEMBER, "doc.delete", gone)  # who left keeps no rights over their work


def test_guarded_channels_ask_their_own_rule():
    from collab.policy import GuardedChannel

    for actor in STUDIO_ACTORS:
        ch = GuardedChannel("studio:1", "studio.read", studio_for(actor))
        assert policy.allowed(actor, "channel.subscribe", ch) == (actor in READERS), actor
    assert not policy.allowed(ADMIN, "channel.subscribe", GuardedChannel("studio:9", "studio.read", None))


@pytest.mark.parametrize("action,resource,allowed", MATRIX, ids=[f"{a}:{r}" for a, r, _ in MATRIX])
def test_matrix(action, resource, allowed):
    for actor in ACTORS:
        if action.startswith(("activity.", "stage.")) and action != "activity.create":
            res = activity_for(actor, resource)
        else:
            res = resource
            if actor in (ORG2, REGISTERED):  # the older rows do not involve them
                continue
        assert policy.allowed(actor, action, res) == (actor in allowed), (actor, action, resource)


def test_denials_say_whether_signing_in_could_help():
    with pytest.raises(policy.Denied) as e:
        policy.authorize(ANON, "announce.post", "announce:all")
    assert e.value.code == "unauthenticated"
    with pytest.raises(policy.Denied) as e:
        policy.authorize(TEACHER, "announce.post", "announce:all")
    assert e.value.code == "forbidden"


def test_every_rule_is_in_the_matrix():
    """A new rule without a row here fails: the matrix is the reviewable permission model."""
    rows = {a for a, _, _ in MATRIX if a != "no.such.action"} | {a for a, _ in STUDIO_MATRIX}
    rows |= {"stage.publish", "program.watch"}  # tested below with their own resources
    rows |= {"group.attend", "group.post", "group.notes", "group.notes.read", "group.notes.manage",
             "group.stage"}  # and these
    assert rows == set(policy.actions())


def test_stage_publishing():
    from collab.policy import ActivityAccess, StageSeat

    def seat(actor, state="live", invited=False, removed=False):
        staff = frozenset({"presenter"}) if actor is EXPERT else frozenset()
        return StageSeat(ActivityAccess(ORG.user_id, "public", state, staff, "approved", removed), invited)

    assert {a for a in ACTORS if policy.allowed(a, "stage.publish", seat(a))} == {ADMIN, ORG, EXPERT}
    assert policy.allowed(TEACHER, "stage.publish", seat(TEACHER, invited=True))
    assert not policy.allowed(TEACHER, "stage.publish", seat(TEACHER, invited=True, removed=True))
    assert policy.allowed(EXPERT, "stage.publish", seat(EXPERT, state="lobby"))  # the presenter tests
    assert not policy.allowed(EXPERT, "stage.publish", seat(EXPERT, state="ended"))
    assert not policy.allowed(ANON, "stage.publish", seat(ANON, invited=True))


def test_watching_the_program():
    """The program is for whoever may be in the room, while the activity is live."""
    from collab.policy import ActivityAccess, StageSeat

    def seat(actor, state="live", visibility="public", registration=None, removed=False):
        return StageSeat(ActivityAccess(ORG.user_id, visibility, state, frozenset(), registration, removed))

    assert {a for a in ACTORS if policy.allowed(a, "program.watch", seat(a))} == set(ACTORS) - {ANON}
    # in the lobby too: the key is handed out before the program is on, so its start needs no new ask
    assert policy.allowed(TEACHER, "program.watch", seat(TEACHER, state="lobby"))
    assert not policy.allowed(TEACHER, "program.watch", seat(TEACHER, state="scheduled"))
    assert not policy.allowed(TEACHER, "program.watch", seat(TEACHER, state="ended"))
    assert not policy.allowed(TEACHER, "program.watch", seat(TEACHER, removed=True))
    assert not policy.allowed(TEACHER, "program.watch", seat(TEACHER, visibility="registered"))
    assert policy.allowed(TEACHER, "program.watch", seat(TEACHER, visibility="registered", registration="approved"))


def test_a_group_is_for_its_members_and_the_moderators_who_may_enter_any():
    """Breakout groups (docs/groups.md): REGISTERED is in the group, TEACHER attends a public activity but
    is in another group, EXPERT moderates; after the activity the notes are part of its record."""
    from collab.policy import ActivityAccess, GroupAccess

    def group(actor, state="live", running=True, member=None, visibility="registered"):
        staff = frozenset({"expert"}) if actor is EXPERT else frozenset()
        registration = "approved" if actor in (REGISTERED, TEACHER) else None
        acc = ActivityAccess(ORG.user_id, visibility, state, staff, registration)
        return GroupAccess(acc, member=actor is REGISTERED if member is None else member, running=running)

    def who(action, **kw):
        return {a for a in ACTORS if policy.allowed(a, action, group(a, **kw))}

    assert who("group.attend") == {ADMIN, ORG, EXPERT, REGISTERED}
    assert who("group.post") == {ADMIN, ORG, EXPERT, REGISTERED}
    assert who("group.post", running=False) == {ADMIN, ORG, EXPERT}  # the phase is over for teachers
    assert who("group.notes", running=False) == {ADMIN, ORG, EXPERT, REGISTERED}  # still tidying for the report
    assert who("group.notes", state="ended") == set()
    assert who("group.notes.read", state="ended") == {ADMIN, ORG, EXPERT, REGISTERED, TEACHER, ORG2}
    assert who("group.notes.read") == {ADMIN, ORG, EXPERT, REGISTERED}  # no peeking while groups discuss
    assert who("group.notes.read", running=False) == {ADMIN, ORG, EXPERT, REGISTERED, TEACHER}  # the report-back
    assert who("group.notes.manage") == {ADMIN, ORG, EXPERT}
    assert who("group.stage") == {ADMIN, ORG, EXPERT, REGISTERED}  # the small stage: the group and moderators
    assert who("group.stage", running=False) == set()  # it closes with the phase, for everyone
    assert not policy.allowed(REGISTERED, "group.attend", GroupAccess(
        ActivityAccess(ORG.user_id, "registered", "live", frozenset(), "approved", removed=True), True, True))


def test_activity_channels_follow_attendance():
    from collab.policy import ActivityChannel

    room = ActivityChannel("activity:1", activity_for(REGISTERED, "registered"))
    assert policy.allowed(REGISTERED, "channel.subscribe", room)
    outsider = ActivityChannel("activity:1", activity_for(TEACHER, "registered"))
    assert not policy.allowed(TEACHER, "channel.subscribe", outsider)
    assert not policy.allowed(ADMIN, "channel.subscribe", ActivityChannel("activity:404", None))
    host = ActivityChannel("activity:1", ActivityAccessFor(staff={"host"}))
    assert policy.allowed(TEACHER, "activity.run", host.access)


def ActivityAccessFor(**kw):
    from collab.policy import ActivityAccess

    return ActivityAccess(organizer_id=ORG.user_id, visibility="registered", state="live",
                          staff=frozenset(kw.get("staff", ())), registration=kw.get("registration"))


def test_a_service_key_may_do_what_its_scopes_name_and_nothing_else():
    """A key is never a person: outside its scopes every action is refused with key_scope (403), even
    those any signed-in person may take (found a studio, open a socket's own things)."""
    from collab.auth.actor import SERVICE

    reader = Actor(0, SERVICE, "省平台", key_id=7, scopes=frozenset({"attendance:read"}))
    everything = Actor(0, SERVICE, "全部", key_id=8, scopes=frozenset(policy.SCOPES))
    live = activity_for(None, "live")
    assert policy.allowed(reader, "activity.attendance", live)
    assert policy.allowed(reader, "user.learning", 4)
    for action, resource in [("activity.view", live), ("activity.registrations.read", live), ("self", None),
                             ("studio.create", None), ("activity.moderate", live), ("stage.manage", live),
                             ("audit.read", None), ("keys.manage", None), ("channel.subscribe", "announce:all")]:
        with pytest.raises(policy.Denied) as e:
            policy.authorize(reader, action, resource)
        assert e.value.code == "key_scope" and e.value.status == 403, action
    granted = {a for a in policy.actions() if policy.allowed(everything, a, live)}
    assert granted == {"activity.attendance", "user.learning", "activity.list", "activity.list_all",
                       "activity.view", "activity.timeline", "activity.registrations.read"}
