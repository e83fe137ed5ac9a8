"""The rules of revoked tokens and socket lifetimes, without I/O: which tokens a revoked session or a
user's cut-off voids, which of two cut-offs wins, when entries are forgotten; sockets ended at their
token's expiry and by a revocation, moved by a refresh, and the token claims that carry the session."""

from __future__ import annotations

import asyncio
import time

import pytest

from collab.auth.actor import Actor
from collab.auth.revocations import FOREVER, Cutoff, Revocations
from collab.auth.signins import _cutoff_from, _cutoff_json, refresh_in
from collab.auth.tokens import Grant, TokenError, issue_token, verify_own_grant
from collab.docs import tickets
from collab.realtime.lifetimes import Lifetimes
from collab.realtime.protocol import Close
from collab.settings import Settings

S = Settings(secret="unit-test-secret-" + "y" * 40)
T = 1_000_000.0


def grant(sid, issued=T, expires=T + 3600):
    return Grant(sid, issued, expires)


def test_a_revoked_session_voids_its_tokens_only():
    r = Revocations()
    r.revoke_session(7, until=T + 100)
    assert r.void(1, grant(7))
    assert not r.void(1, grant(8))
    assert not r.void(1, grant(None))  # a token without a session is not one of session 7's


def test_a_cutoff_voids_what_was_issued_before_it_except_the_spared_session():
    r = Revocations()
    r.cut_off(1, Cutoff(before=T, spared=5, until=T + 3600, at=T))
    assert r.void(1, grant(4, issued=T - 1))
    assert r.void(1, grant(None, issued=T - 0.001))
    assert not r.void(1, grant(5, issued=T - 1))  # the session that changed its password
    assert not r.void(1, grant(4, issued=T + 0.001))  # issued after: a new sign-in
    assert not r.void(2, grant(4, issued=T - 1))  # another user


def test_a_disabled_account_voids_every_token_until_enabled_and_the_later_decision_wins():
    r = Revocations()
    r.cut_off(1, Cutoff(FOREVER, None, FOREVER, at=T))
    assert r.void(1, grant(3, issued=T + 10_000))  # even one issued later (an external provider's)
    r.cut_off(1, Cutoff(T - 5, None, T + 100, at=T - 1))  # an older decision heard late changes nothing
    assert r.void(1, grant(3, issued=T + 10_000))
    r.cut_off(1, Cutoff(T, None, T + 3600, at=T + 50))  # enabled again
    assert not r.void(1, grant(3, issued=T + 60)) and r.void(1, grant(3, issued=T - 60))


def test_entries_are_forgotten_once_no_token_they_void_can_be_alive():
    r = Revocations()
    r.revoke_session(7, until=T + 10)
    r.cut_off(1, Cutoff(T, None, T + 10, at=T))
    r.cut_off(2, Cutoff(FOREVER, None, FOREVER, at=T))
    r.forget_older(T + 5)
    assert 7 in r.sessions and 1 in r.cutoffs
    r.forget_older(T + 11)
    assert r.sessions == {} and set(r.cutoffs) == {2}  # disabled stays


def test_loading_from_the_database_keeps_what_was_heard_meanwhile():
    r = Revocations()
    r.revoke_session(9, until=T + 50)
    r.cut_off(1, Cutoff(T + 5, None, T + 3605, at=T + 5))
    r.load({8: T + 40}, {1: Cutoff(T, None, T + 3600, at=T), 2: Cutoff(T, None, T + 3600, at=T)})
    assert set(r.sessions) == {8, 9}
    assert r.cutoffs[1].before == T + 5 and r.cutoffs[2].before == T


@pytest.mark.parametrize("cutoff", [Cutoff(T, 4, T + 3600, T), Cutoff(T, None, T + 3600, T),
                                    Cutoff(FOREVER, None, FOREVER, T)])
def test_a_cutoff_survives_the_bus(cutoff):
    import orjson

    assert _cutoff_from(orjson.loads(orjson.dumps(_cutoff_json(cutoff)))) == cutoff


def test_clients_are_told_to_refresh_before_expiry():
    assert refresh_in(4) == 3
    assert refresh_in(43200) == 43200 - 300
    assert 0 <= refresh_in(0.5) < 0.5 + 1


def test_our_tokens_carry_their_session_and_millisecond_issue_time():
    before = time.time()
    actor, g = verify_own_grant(S, issue_token(S, Actor(3, "teacher", "T"), ttl=60, session_id=42))
    assert actor == Actor(3, "teacher", "T") and g.session_id == 42
    assert before - 0.001 <= g.issued_at <= time.time() + 0.001 and round(g.issued_at, 3) == g.issued_at
    assert g.expires_at >= before + 59
    _, plain = verify_own_grant(S, issue_token(S, Actor(3, "teacher"), ttl=60))
    assert plain.session_id is None


def test_a_token_with_a_malformed_session_is_refused():
    import jwt

    claims = {"iss": "collab", "aud": "collab", "sub": "3", "role": "teacher", "exp": int(time.time()) + 60,
              "iat": int(time.time()), "sid": "7"}
    with pytest.raises(TokenError) as e:
        verify_own_grant(S, jwt.encode(claims, S.secret, algorithm="HS256"))
    assert e.value.code == "token_invalid"


def test_a_document_ticket_carries_the_grant_of_the_token_it_was_issued_for():
    g = Grant(12, 1_700_000_000.123, 1_700_003_600.0)
    t = tickets.check(S.secret, tickets.issue(S.secret, 3, 9, 30, grant=g), 9)
    assert t.grant == g and t.user_id == 3


# -- sockets ----------------------------------------------------------------------------------------


class Sock:
    def __init__(self, user_id: int) -> None:
        self.user_id, self.grant, self.timer, self.ended = user_id, None, None, None

    def end(self, code: int, reason: str) -> None:
        self.ended = code


async def test_a_socket_ends_at_its_tokens_expiry_unless_renewed():
    lives = Lifetimes(Revocations())
    short, renewed = Sock(1), Sock(1)
    lives.hold(short, Grant(None, time.time(), time.time() + 0.2))
    lives.hold(renewed, Grant(None, time.time(), time.time() + 0.2))
    lives.renew(renewed, Grant(None, time.time(), time.time() + 60))
    await asyncio.sleep(1.5)  # timers are whole seconds: within one after the expiry
    assert short.ended == Close.TOKEN_EXPIRED and renewed.ended is None
    assert lives.of(1) == [renewed]  # the ended one is no longer held
    lives.release(renewed)
    assert lives.of(1) == [] and renewed.timer is None


async def test_a_revocation_ends_the_users_sockets_it_voids_and_no_others():
    r = Revocations()
    lives = Lifetimes(r)
    now = time.time()
    a, b, other = Sock(1), Sock(1), Sock(2)
    lives.hold(a, Grant(5, now, now + 60))
    lives.hold(b, Grant(6, now, now + 60))
    lives.hold(other, Grant(5, now, now + 60))  # (session ids are unique; this checks the user index)
    r.revoke_session(5, now + 60)
    assert lives.revoked(1) == 1
    assert a.ended == Close.TOKEN_REVOKED and b.ended is None and other.ended is None
    r.cut_off(1, Cutoff(now + 1, None, now + 3600, now + 1))
    assert lives.revoked(1) == 1 and b.ended == Close.TOKEN_REVOKED
    assert lives.recheck() == 1 and other.ended == Close.TOKEN_REVOKED  # after a reload: all are checked
