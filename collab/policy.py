"""The one place that answers "may this actor do this to this resource".

Every `/ws` command and every API route calls `authorize` before it touches anything. Rules are plain
functions keyed by action name, so reading this file is reading the whole permission model. Later
features (activities, studios, stage) add their actions here, not in their handlers.

`actor` is an `Actor` or `None` for an anonymous caller. A rule returns `True` to allow; anything
else is a denial. `authorize` turns a denial into `Denied` with a stable code: `unauthenticated` when
nobody is signed in and signing in could help, `forbidden` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from collab.auth.actor import Actor
from collab.errors import DomainError

Rule = Callable[[Actor | None, Any], bool]

_RULES: dict[str, Rule] = {}


class Denied(DomainError):
    """The policy's refusal: `unauthenticated` (401, signing in could help) or `forbidden` (403)."""

    def __init__(self, code: str, action: str) -> None:
        super().__init__(code, f"not allowed: {action}")
        self.action = action


def rule(action: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        if action in _RULES:
            raise ValueError(f"policy rule for {action!r} defined twice")
        _RULES[action] = fn
        return fn

    return register


def allowed(actor: Actor | None, action: str, resource: Any = None) -> bool:
    if actor is not None and actor.is_service:  # a key is never a person: its scopes alone decide
        return action in scope_actions(actor.scopes)
    fn = _RULES.get(action)
    return bool(fn and fn(actor, resource))  # an action without a rule is denied


def authorize(actor: Actor | None, action: str, resource: Any = None) -> None:
    if not allowed(actor, action, resource):
        if actor is not None and actor.is_service:
            raise Denied("key_scope", action)  # 403: the key works, its scopes do not reach this
        raise Denied("unauthenticated" if actor is None else "forbidden", action)


def actions() -> list[str]:
    return sorted(_RULES)


# -- service keys ----------------------------------------------------------------------------------
# What each scope of a service API key (collab/keys.py) lets it do: read-only actions, named as the
# routes ask the policy. Nothing else is open to a key: not /ws, not moderation, not studios, not pages.
# A scope reaches every activity (the key is made by an admin for a platform that records credit).

SCOPES: dict[str, frozenset[str]] = {
    # the attendance report and its CSV (also ?format=machine) per activity; a teacher's learning record
    "attendance:read": frozenset({"activity.attendance", "user.learning"}),
    # the activity list (all of them), an activity with its agenda, its timeline, its calendar
    "activities:read": frozenset({"activity.list", "activity.list_all", "activity.view", "activity.timeline"}),
    # who registered for an activity, and their standing
    "registrations:read": frozenset({"activity.registrations.read"}),
}


def scope_actions(scopes: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(SCOPES.get(s, frozenset()) for s in scopes))


@rule("keys.manage")
def _keys_manage(actor: Actor | None, _: Any) -> bool:
    """Create, list and revoke service keys: admins."""
    return _is(actor, "admin")


@rule("audit.read")
def _audit_read(actor: Actor | None, _: Any) -> bool:
    """Read and export the audit log: admins. Nobody edits it (there is no rule, and no route)."""
    return _is(actor, "admin")


@rule("self")
def _self(actor: Actor | None, _: Any) -> bool:
    """A person's own things (who am I, my learning record, my calendar feed, a document ticket): anyone
    signed in. A service key is nobody's self."""
    return actor is not None


@rule("user.learning")
def _user_learning(actor: Actor | None, user_id: int) -> bool:
    """A teacher's learning record (attendance and credit): the teacher, and admins."""
    return actor is not None and (actor.user_id == user_id or actor.is_admin)


def _is(actor: Actor | None, *roles: str) -> bool:
    return actor is not None and actor.role in roles


# -- channels --------------------------------------------------------------------------------------
# A channel is "namespace:rest". Subscribing is decided by namespace.


def channel_namespace(channel: str) -> str:
    return channel.split(":", 1)[0]


@rule("channel.subscribe")
def _subscribe(actor: Actor | None, channel: Any) -> bool:
    """`channel` is the name, or for namespaces whose rules need a record (activities) the
    `ActivityChannel` the command handler resolved."""
    if actor is None:
        return False
    if isinstance(channel, GuardedChannel):
        return channel.resource is not None and allowed(actor, channel.action, channel.resource)
    if isinstance(channel, ActivityChannel):
        if channel.access is None:
            return False
        if channel.moderation:
            return _activity_moderate(actor, channel.access)
        return _activity_attend(actor, channel.access)
    ns, _, rest = channel.partition(":")
    if ns == "announce":  # platform and regional announcements: every signed-in user
        return True
    if ns == "user":  # a personal channel: its owner (and admins, for support)
        return rest == str(actor.user_id) or actor.is_admin
    return False


# -- announcements ---------------------------------------------------------------------------------


@rule("announce.post")
def _announce(actor: Actor | None, channel: str) -> bool:
    return _is(actor, "admin", "organizer") and channel_namespace(channel) == "announce"


@rule("announce.list")
def _announce_list(actor: Actor | None, channel: str) -> bool:
    return _subscribe(actor, channel)


# -- accounts --------------------------------------------------------------------------------------


@rule("user.create")
def _user_create(actor: Actor | None, _: Any) -> bool:
    return _is(actor, "admin")


@rule("user.read")
def _user_read(actor: Actor | None, user_id: int) -> bool:
    return actor is not None and (actor.user_id == user_id or actor.role in ("admin", "organizer"))


@rule("user.list")
def _user_list(actor: Actor | None, _: Any) -> bool:
    return _is(actor, "admin", "organizer")


@rule("user.update")
def _user_update(actor: Actor | None, _: Any) -> bool:
    """Change a user's role, disable or enable the account (each ends the user's sessions)."""
    return _is(actor, "admin")


@rule("user.sessions.end")
def _user_sessions_end(actor: Actor | None, _: Any) -> bool:
    """End all of a user's sessions on every device (a lost phone, a shared computer)."""
    return _is(actor, "admin")


@rule("account.sessions")
def _account_sessions(actor: Actor | None, _: Any) -> bool:
    """One's own sign-ins: list, end, sign out, renew the token, change the password. Anyone signed in."""
    return actor is not None


# -- operations ------------------------------------------------------------------------------------


@rule("node.presence")
def _presence(actor: Actor | None, channel: str) -> bool:
    """Presence counts are shown to anyone who may watch the channel."""
    return _subscribe(actor, channel)


# -- activities (sessions) -------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityAccess:
    """What the rules need to know of an activity, and of the actor's place in it."""

    organizer_id: int
    visibility: str  # public, registered, invited
    state: str
    staff: frozenset[str] = frozenset()  # the actor's roles in it: host, expert, presenter
    registration: str | None = None  # the actor's registration: pending, approved, rejected
    removed: bool = False  # a moderator removed the actor from the room


def _runs(actor: Actor | None, a: ActivityAccess) -> bool:
    return actor is not None and (actor.is_admin or actor.user_id == a.organizer_id)


@rule("activity.create")
def _activity_create(actor: Actor | None, _: Any) -> bool:
    return _is(actor, "admin", "organizer")


@rule("activity.edit")
def _activity_edit(actor: Actor | None, a: ActivityAccess) -> bool:
    return _runs(actor, a) and a.state in ("scheduled", "lobby")


@rule("activity.group_roster")
def _group_roster(actor: Actor | None, a: ActivityAccess) -> bool:
    """Read the organizer's list for a group phase: the organizer (and admins), before and after. It is
    uploaded under activity.edit, while the schedule may change."""
    return _runs(actor, a)


@rule("activity.cancel")
def _activity_cancel(actor: Actor | None, a: ActivityAccess) -> bool:
    return _runs(actor, a) and a.state in ("scheduled", "lobby")


@rule("activity.registrations")
def _activity_registrations(actor: Actor | None, a: ActivityAccess) -> bool:
    """See and decide registrations."""
    return _runs(actor, a)


@rule("activity.registrations.read")
def _activity_registrations_read(actor: Actor | None, a: ActivityAccess) -> bool:
    """See who registered (without deciding): whoever decides them."""
    return _runs(actor, a)


@rule("activity.list")
def _activity_list(actor: Actor | None, _: Any) -> bool:
    """The activity list: everyone (it holds what each caller may see)."""
    return True


@rule("activity.list_all")
def _activity_list_all(actor: Actor | None, _: Any) -> bool:
    """List every activity, whoever may see it: admins (and keys with activities:read)."""
    return _is(actor, "admin")


@rule("activity.view")
def _activity_view(actor: Actor | None, a: ActivityAccess) -> bool:
    if a.visibility == "public":
        return True
    if actor is None:
        return False
    if a.visibility == "registered":
        return True
    return _runs(actor, a) or bool(a.staff) or a.registration == "approved"


@rule("activity.register")
def _activity_register(actor: Actor | None, a: ActivityAccess) -> bool:
    return (
        actor is not None
        and a.visibility != "invited"  # invited activities take an invitation link instead
        and a.state in ("scheduled", "lobby", "live")
        and not a.staff
        and actor.user_id != a.organizer_id
    )


@dataclass(frozen=True)
class ActivityChannel:
    channel: str
    access: ActivityAccess | None  # None: no such activity
    moderation: bool = False  # the moderators' channel: held messages, the approval queue


@rule("activity.moderate")
def _activity_moderate(actor: Actor | None, a: ActivityAccess) -> bool:
    """Hide, pin, approve, mute, slow the chat: the organizer, hosts and experts."""
    return _runs(actor, a) or bool(a.staff & {"host", "expert"})


@rule("activity.attend")
def _activity_attend(actor: Actor | None, a: ActivityAccess) -> bool:
    """Be in the room: staff, the organizer and approved registrants; anyone signed in if public."""
    if actor is None or a.state == "cancelled" or a.removed:
        return False
    return (_runs(actor, a) or bool(a.staff) or a.registration == "approved"
            or a.visibility == "public")


@rule("activity.run")
def _activity_run(actor: Actor | None, a: ActivityAccess) -> bool:
    """Open the lobby, start, move between phases, extend, end, archive: hosts and the organizer."""
    return _runs(actor, a) or "host" in a.staff


@rule("activity.timeline")
def _activity_timeline(actor: Actor | None, a: ActivityAccess) -> bool:
    return _activity_view(actor, a)


@rule("activity.groups")
def _activity_groups(actor: Actor | None, a: ActivityAccess) -> bool:
    """The groups' record (who was in which group, their chats): while the activity runs, its
    moderators; once it has ended, whoever may see its record."""
    if a.state in ("ended", "archived"):
        return _activity_timeline(actor, a)
    return _activity_moderate(actor, a)


@rule("activity.attendance")
def _activity_attendance(actor: Actor | None, a: ActivityAccess) -> bool:
    """The attendance report and its CSV: the organizer (and admins)."""
    return _runs(actor, a)


@rule("activity.invite")
def _activity_invite(actor: Actor | None, a: ActivityAccess) -> bool:
    """Make invitation links: the organizer (and admins)."""
    return _runs(actor, a) and a.state not in ("ended", "archived", "cancelled")


@rule("activity.accept_invitation")
def _activity_accept(actor: Actor | None, a: ActivityAccess) -> bool:
    """A valid link admits any signed-in teacher, even to an invited-only activity."""
    return actor is not None and a.state in ("scheduled", "lobby", "live") and not a.staff \
        and actor.user_id != a.organizer_id


# -- the stage (WebRTC) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StageSeat:
    """An activity, and whether the actor was invited on stage (an expert called on their raised hand
    and they accepted)."""

    access: ActivityAccess
    invited: bool = False


@rule("stage.publish")
def _stage_publish(actor: Actor | None, seat: StageSeat) -> bool:
    """Send camera, microphone or screen: the presenter, hosts, experts and the organizer, and teachers
    invited on stage; while the activity is in its lobby or live."""
    a = seat.access
    if actor is None or a.removed or a.state not in ("lobby", "live"):
        return False
    return _runs(actor, a) or bool(a.staff & {"host", "expert", "presenter"}) or seat.invited


@rule("program.watch")
def _program_watch(actor: Actor | None, seat: StageSeat) -> bool:
    """Watch the activity's program (HLS): whoever may be in the room (a key handed out in the lobby
    plays once the activity is live and someone is on stage)."""
    return _activity_attend(actor, seat.access) and seat.access.state in ("lobby", "live")


@rule("activity.media")
def _activity_media(actor: Actor | None, a: ActivityAccess) -> bool:
    """Upload and list the lesson videos the stage can play: the organizer, hosts and presenters."""
    return (_runs(actor, a) or bool(a.staff & {"host", "presenter"})) and a.state not in ("cancelled", "archived")


@rule("stage.manage")
def _stage_manage(actor: Actor | None, a: ActivityAccess) -> bool:
    """Invite a teacher on stage, take someone off it: the organizer, hosts and experts."""
    return _activity_moderate(actor, a)


# -- breakout groups (sessions/groups, docs/groups.md) ---------------------------------------------


@dataclass(frozen=True)
class GroupAccess:
    """A breakout group of an activity, and the actor's place in it."""

    access: ActivityAccess
    member: bool  # the actor is in this group
    running: bool  # the group's phase is the activity's current phase, and the activity is live


@rule("group.attend")
def _group_attend(actor: Actor | None, g: GroupAccess) -> bool:
    """Follow a group's chat, see its members, read its notes: its members, and the activity's
    moderators (organizer, hosts, experts), who may enter any group."""
    return _activity_attend(actor, g.access) and (g.member or _activity_moderate(actor, g.access))


@rule("group.post")
def _group_post(actor: Actor | None, g: GroupAccess) -> bool:
    """Write in a group's chat, name its rapporteur: its members while the phase runs; moderators."""
    return _group_attend(actor, g) and (g.running or _activity_moderate(actor, g.access))


@rule("group.stage")
def _group_stage(actor: Actor | None, g: GroupAccess) -> bool:
    """Send camera and microphone on a group's small stage and watch the others there: its members
    and the activity's moderators, while the group's phase runs (the stage closes when it ends)."""
    return _group_attend(actor, g) and g.running


@rule("group.notes")
def _group_notes(actor: Actor | None, g: GroupAccess) -> bool:
    """Edit a group's notes: its members and moderators until the activity ends (so ending the phase
    while someone types loses nothing, and rapporteurs can still tidy them while reporting)."""
    return _group_attend(actor, g) and g.access.state in ("lobby", "live")


@rule("group.notes.read")
def _group_notes_read(actor: Actor | None, g: GroupAccess) -> bool:
    """Read a group's notes: whoever may enter the group; once its phase is over, everyone in the room
    (the groups report back with their notes beside them); after the activity, whoever may see its record."""
    if g.access.state in ("ended", "archived"):
        return _group_attend(actor, g) or _activity_timeline(actor, g.access)
    return _group_attend(actor, g) or (not g.running and _activity_attend(actor, g.access))


@rule("group.notes.manage")
def _group_notes_manage(actor: Actor | None, g: GroupAccess) -> bool:
    """Restore a version of a group's notes, delete them: the activity's moderators."""
    return _activity_moderate(actor, g.access)


# -- studios and their lesson-prep documents -------------------------------------------------------
# A studio's roles, from most to least: leader (the famous teacher), co-leader, member, observer.
# Observers read and follow; members share resources, edit documents and comment; co-leaders and the
# leader run the studio. Only the leader appoints co-leaders or hands the studio over.

STUDIO_ROLES = ("leader", "co_leader", "member", "observer")
_MANAGERS = ("leader", "co_leader")
_EDITORS = (*_MANAGERS, "member")


@dataclass(frozen=True)
class StudioAccess:
    """What the rules need to know of a studio, and of the actor's place in it."""

    leader_id: int
    role: str | None = None  # the actor's role when an active member
    pending: bool = False  # the actor applied and waits for a decision


@dataclass(frozen=True)
class Owned:
    """A studio's resource or document, with the member who made it."""

    studio: StudioAccess
    owner_id: int


@dataclass(frozen=True)
class GuardedChannel:
    """A channel whose subscribers must be allowed `action` on `resource` (None: no such record)."""

    channel: str
    action: str
    resource: Any


def _studio_role(actor: Actor | None, s: StudioAccess, roles: tuple[str, ...]) -> bool:
    return actor is not None and (actor.is_admin or s.role in roles)


@rule("studio.create")
def _studio_create(actor: Actor | None, _: Any) -> bool:
    """Any signed-in teacher may found a studio and lead it."""
    return actor is not None


@rule("studio.view")
def _studio_view(actor: Actor | None, s: StudioAccess) -> bool:
    """The directory and profiles are public: teachers find studios to apply to."""
    return True


@rule("studio.apply")
def _studio_apply(actor: Actor | None, s: StudioAccess) -> bool:
    return actor is not None and s.role is None and not s.pending


@rule("studio.join_by_link")
def _studio_join_by_link(actor: Actor | None, s: StudioAccess) -> bool:
    return actor is not None and s.role is None


@rule("studio.leave")
def _studio_leave(actor: Actor | None, s: StudioAccess) -> bool:
    """The leader hands the studio over before leaving it."""
    return actor is not None and s.role in ("co_leader", "member", "observer")


@rule("studio.manage")
def _studio_manage(actor: Actor | None, s: StudioAccess) -> bool:
    """Edit the profile, decide applications, make invitation links, remove members, set member or
    observer roles: the leader and co-leaders."""
    return _studio_role(actor, s, _MANAGERS)


@rule("studio.appoint")
def _studio_appoint(actor: Actor | None, s: StudioAccess) -> bool:
    """Appoint or dismiss co-leaders, hand the studio to another member: the leader."""
    return _studio_role(actor, s, ("leader",))


@rule("studio.read")
def _studio_read(actor: Actor | None, s: StudioAccess) -> bool:
    """The studio channel, the resource library, documents and comments: every member, observers too."""
    return _studio_role(actor, s, STUDIO_ROLES)


@rule("studio.post")
def _studio_post(actor: Actor | None, s: StudioAccess) -> bool:
    return _studio_role(actor, s, _EDITORS)


@rule("studio.announce")
def _studio_announce(actor: Actor | None, s: StudioAccess) -> bool:
    return _studio_role(actor, s, _MANAGERS)


@rule("studio.schedule")
def _studio_schedule(actor: Actor | None, s: StudioAccess) -> bool:
    """The studio's own teaching-research activities: the leader and co-leaders organize them."""
    return _studio_role(actor, s, _MANAGERS)


@rule("resource.upload")
def _resource_upload(actor: Actor | None, s: StudioAccess) -> bool:
    return _studio_role(actor, s, _EDITORS)


@rule("resource.delete")
def _resource_delete(actor: Actor | None, r: Owned) -> bool:
    return _studio_role(actor, r.studio, _MANAGERS) or (
        actor is not None and actor.user_id == r.owner_id and r.studio.role in _EDITORS)


@rule("doc.create")
def _doc_create(actor: Actor | None, s: StudioAccess) -> bool:
    return _studio_role(actor, s, _EDITORS)


@rule("doc.read")
def _doc_read(actor: Actor | None, s: StudioAccess) -> bool:
    """Open a document (its edits arrive, one's own are refused), versions, comments, exports."""
    return _studio_role(actor, s, STUDIO_ROLES)


@rule("doc.edit")
def _doc_edit(actor: Actor | None, s: StudioAccess) -> bool:
    """Send edits, save and restore versions, comment and resolve comments."""
    return _studio_role(actor, s, _EDITORS)


@rule("doc.delete")
def _doc_delete(actor: Actor | None, d: Owned) -> bool:
    return _studio_role(actor, d.studio, _MANAGERS) or (
        actor is not None and actor.user_id == d.owner_id and d.studio.role in _EDITORS)


# -- webhooks to the teacher-management system (collab/webhooks) -----------------------------------


@rule("webhook.manage")
def _webhook_manage(actor: Actor | None, _: Any) -> bool:
    """Configure endpoints, rotate their secrets, read the delivery log, replay: admins only (a
    receiver's URL and secret decide where the platform's records go)."""
    return _is(actor, "admin")
