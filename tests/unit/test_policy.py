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
    ("user.read", 4, {ADMIN, ORG, TEACHER}),
    ("user.read", 3, {ADMIN, ORG, EXPERT}),
    ("node.presence", "announce:all", {ADMIN, ORG, EXPERT, TEACHER}),
    ("no.such.action", None, set()),
]


@pytest.mark.parametrize("action,resource,allowed", MATRIX, ids=[f"{a}:{r}" for a, r, _ in MATRIX])
def test_matrix(action, resource, allowed):
    for actor in (ADMIN, ORG, EXPERT, TEACHER, ANON):
        assert policy.allowed(actor, action, resource) == (actor in allowed), (actor, action, resource)


def test_denials_say_whether_signing_in_could_help():
    with pytest.raises(policy.Denied) as e:
        policy.authorize(ANON, "announce.post", "announce:all")
    assert e.value.code == "unauthenticated"
    with pytest.raises(policy.Denied) as e:
        policy.authorize(TEACHER, "announce.post", "announce:all")
    assert e.value.code == "forbidden"


def test_every_rule_is_in_the_matrix():
    """A new rule without a row here fails: the matrix is the reviewable permission model."""
    assert {a for a, _, _ in MATRIX if a != "no.such.action"} == set(policy.actions())
