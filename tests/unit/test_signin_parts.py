"""The pure parts of throttled sign-in: whose address a request is counted under, what a device
cookie vouches for, how the limits are read, and that a missing account costs the same Argon2 work
as a wrong password."""

from __future__ import annotations

import pytest

from collab.api.client_address import client_address, trusted_networks
from collab.auth import devices, passwords
from collab.auth.throttle import Rules, SigninThrottle
from collab.settings import Settings

PROXIES = trusted_networks("10.0.0.1, 192.168.0.0/24")


def test_without_trusted_proxies_the_socket_peer_is_the_client_whatever_the_header_says():
    assert client_address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"
    # a peer that is not a trusted proxy cannot choose its address either
    assert client_address("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"


def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client():
    assert client_address("10.0.0.1", "198.51.100.1", PROXIES) == "198.51.100.1"
    # the client wrote a forged address first; the proxies appended what they saw
    assert client_address("10.0.0.1", "1.2.3.4, 198.51.100.1, 192.168.0.7", PROXIES) == "198.51.100.1"
    # garbage in the header stops the walk at the last trusted hop
    assert client_address("10.0.0.1", "198.51.100.1, not-an-ip", PROXIES) == "10.0.0.1"
    assert client_address("10.0.0.1", None, PROXIES) == "10.0.0.1"


def test_ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4():
    assert client_address("2001:db8:1:2:aaaa::1", None, ()) == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:2:bbbb::9", None, ()) == "2001:db8:1:2::/64"
    assert client_address("::ffff:198.51.100.1", None, ()) == "198.51.100.1"


def test_a_mistyped_trusted_proxy_is_refused_by_name():
    with pytest.raises(ValueError, match="10.0.0.300"):
        trusted_networks("10.0.0.1, 10.0.0.300")


def test_a_device_cookie_vouches_for_its_own_name_until_it_expires():
    cookie = devices.issue("s" * 40, "teacher1", days=1, now=1000)
    device = devices.known("s" * 40, "teacher1", cookie, now=1000)
    assert device is not None
    assert devices.known("s" * 40, "teacher1", cookie, now=1000 + 86400) is None  # expired
    assert devices.known("s" * 40, "teacher2", cookie, now=1000) is None  # another name
    assert devices.known("s" * 40, "teacher", cookie, now=1000) is None  # a prefix of the name
    assert devices.known("t" * 40, "teacher1", cookie, now=1000) is None  # another secret
    assert devices.known("s" * 40, "teacher1", cookie[:-2] + "AA", now=1000) is None  # forged
    assert devices.known("s" * 40, "teacher1", "", now=1000) is None
    assert devices.issue("s" * 40, "teacher1", days=1, now=1000) != cookie  # each sign-in, a new device id


def test_limits_are_read_from_settings_and_a_bad_one_is_named():
    rules = Rules.from_settings(Settings(signin_failures_per_account="7 per 2 hours"))
    assert [(w.amount, w.get_expiry()) for w in rules.account] == [(7, 7200)]
    assert [(w.amount, w.get_expiry()) for w in Rules.from_settings(Settings()).address] == [(20, 60), (100, 600)]
    with pytest.raises(ValueError, match="signin-failures-per-address"):
        SigninThrottle(Settings(signin_failures_per_address="lots"))


def test_a_name_is_counted_by_a_digest_the_same_whether_an_account_has_it_or_not():
    a = SigninThrottle.attempt("198.51.100.1", "teacher1", None)
    assert a.account == SigninThrottle.attempt("203.0.113.9", "teacher1", None).account
    assert "teacher1" not in a.account and len(a.account) == 32


def test_a_missing_account_and_a_wrong_password_cost_one_argon2_verification_each(monkeypatch):
    real = passwords._hasher
    calls = []

    class Counting:  # the real hasher, noting the cost of each verification it makes
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, hash_: str, password: str) -> bool:
            calls.append(hash_.split("$")[3])  # "$argon2id$v=19$m=65536,t=3,p=4$salt$hash": the cost
            return real.verify(hash_, password)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    stored = passwords.hash_password("the-right-password")
    assert passwords.verify_password(stored, "a-wrong-password") is False
    assert passwords.verify_password(None, "a-wrong-password") is False
    assert passwords.verify_password(None, "no account has this password") is False  # the dummy's own
    assert passwords.verify_password(stored, "the-right-password") is True
    # four verifications, every one with the same Argon2 parameters (memory, time, lanes)
    assert len(calls) == 4 and len(set(calls)) == 1
