"""Invitation links: they admit to one activity until they expire, and cannot be forged."""

from __future__ import annotations

import pytest

from collab.auth.signed import check_invitation as check
from collab.auth.signed import invitation as make
from collab.errors import DomainError as InvitationError

SECRET = "s" * 40


def test_a_link_admits_until_it_expires():
    token = make(SECRET, 7, expires_at=2_000)
    assert check(SECRET, token, 7, now=1_999) == 2_000
    with pytest.raises(InvitationError) as e:
        check(SECRET, token, 7, now=2_000)
    assert e.value.code == "invitation_expired"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # signature changed
    lambda t: make("another secret, long enough to be real....", 7, 2_000),  # signed elsewhere
    lambda t: "garbage", lambda t: "", lambda t: t + ".x",
    lambda t: t.split(".")[0] + ".签名",  # a non-ASCII signature from a pasted link: refused, not a server error
])
def test_forgeries(mangle):
    with pytest.raises(InvitationError) as e:
        check(SECRET, mangle(make(SECRET, 7, 2_000)), 7, now=1_000)
    assert e.value.code == "invitation_invalid"


def test_a_link_is_for_one_activity():
    with pytest.raises(InvitationError):
        check(SECRET, make(SECRET, 7, 2_000), 8, now=1_000)
