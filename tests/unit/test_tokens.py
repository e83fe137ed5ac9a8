"""Tokens: ours and an external identity provider's; forgery, expiry, audience, issuer, algorithm."""

from __future__ import annotations

import time

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from collab.auth.actor import Actor
from collab.auth.tokens import TokenError, issue_token, verify_external, verify_own
from collab.settings import Settings

S = Settings(secret="s" * 48)
ALICE = Actor(user_id=7, role="expert", name="Alice", region="Sichuan")


def test_round_trip():
    assert verify_own(S, issue_token(S, ALICE)) == ALICE


def test_forged_signature():
    token = issue_token(Settings(secret="another secret that is long enough......"), ALICE)
    with pytest.raises(TokenError) as e:
        verify_own(S, token)
    assert e.value.code == "token_signature"


def test_tampered_claims():
    header, payload, sig = issue_token(S, ALICE).split(".")
    forged = jwt.encode({**jwt.decode(issue_token(S, ALICE), options={"verify_signature": False}), "role": "admin"},
                        "a guessed secret of a decent length!!", algorithm="HS256")
    with pytest.raises(TokenError) as e:
        verify_own(S, forged.rsplit(".", 1)[0] + "." + sig)
    assert e.value.code == "token_signature"


def test_expired():
    with pytest.raises(TokenError) as e:
        verify_own(S, issue_token(S, ALICE, ttl=-5))
    assert e.value.code == "token_expired"


def test_alg_none_is_refused():
    claims = jwt.decode(issue_token(S, ALICE), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(TokenError) as e:
        verify_own(S, unsigned)
    assert e.value.code == "token_invalid"


def test_wrong_audience_and_issuer():
    now = int(time.time())
    base = {"sub": "7", "role": "teacher", "exp": now + 60, "iss": "collab", "aud": "collab"}
    with pytest.raises(TokenError) as e:
        verify_own(S, jwt.encode({**base, "aud": "other-app"}, S.secret, algorithm="HS256"))
    assert e.value.code == "token_audience"
    with pytest.raises(TokenError) as e:
        verify_own(S, jwt.encode({**base, "iss": "someone"}, S.secret, algorithm="HS256"))
    assert e.value.code == "token_issuer"


def test_garbage():
    for junk in ("", "abc", "a.b.c", "x" * 5000):
        with pytest.raises(TokenError):
            verify_own(S, junk)


EXT = Settings(secret="s" * 48, external_jwt_secret="platform-shared-secret-0123456789abcdef",
               external_jwt_issuer="https://id.example.edu", external_jwt_audience="collab")


def ext_token(settings=EXT, key=None, alg="HS256", **claims):
    now = int(time.time())
    base = {"sub": "u-42", "iss": "https://id.example.edu", "aud": "collab", "exp": now + 60,
            "name": "Teacher Wang", "role": "teacher", "school": "No.1", "region": "Gansu"}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, key or settings.external_jwt_secret, algorithm=alg)


def test_external_hs256():
    ident = verify_external(EXT, ext_token())
    assert (ident.subject, ident.name, ident.role, ident.region) == ("u-42", "Teacher Wang", "teacher", "Gansu")


def test_external_cannot_claim_admin():
    assert verify_external(EXT, ext_token(role="admin")).role == "teacher"


@pytest.mark.parametrize(
    "claims,code",
    [({"aud": "another"}, "token_audience"), ({"iss": "https://evil.example"}, "token_issuer"),
     ({"exp": int(time.time()) - 10}, "token_expired"), ({"aud": None}, "token_invalid")],
)
def test_external_checks(claims, code):
    with pytest.raises(TokenError) as e:
        verify_external(EXT, ext_token(**claims))
    assert e.value.code == code


def test_external_rs256_and_algorithm_confusion():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    rs = Settings(secret="s" * 48, external_jwt_public_key=public_pem, external_jwt_issuer="https://id.example.edu",
                  external_jwt_audience="collab")
    assert verify_external(rs, ext_token(rs, key=key, alg="RS256")).subject == "u-42"
    # An attacker signing HS256 with the public key as the HMAC secret must be refused (built by hand:
    # PyJWT itself refuses to sign like that).
    import base64, hashlib, hmac, json

    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": "u-1", "iss": "https://id.example.edu", "aud": "collab",
                           "exp": int(time.time()) + 60}).encode())
    sig = b64(hmac.new(public_pem.encode(), head + b"." + body, hashlib.sha256).digest())
    forged = (head + b"." + body + b"." + sig).decode()
    with pytest.raises(TokenError):
        verify_external(rs, forged)


def hs256(claims: dict, secret: str) -> str:
    """Sign any claims, even ones PyJWT refuses to encode, the way a forger would."""
    import base64, hashlib, hmac, json

    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


claim_values = st.one_of(st.none(), st.integers(-10, 2**40), st.text(max_size=12), st.sampled_from(
    ["collab", "teacher", "admin", "7"]))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={k: claim_values for k in ("iss", "aud", "sub", "role", "exp", "name")}),
       st.sampled_from([S.secret, "another secret that is long enough......"]))
def test_fast_verifier_agrees_with_pyjwt(claims, secret):
    """Our own-token verifier accepts exactly what PyJWT (with our checks) accepts."""
    token = hs256(claims, secret)
    try:
        ours = verify_own(S, token)
    except TokenError:
        ours = None
    try:
        ref = jwt.decode(token, S.secret, algorithms=["HS256"], audience="collab", issuer="collab",
                         options={"require": ["exp", "sub", "iss", "aud"], "verify_sub": False})
        theirs = ref.get("role") in ("admin", "organizer", "expert", "teacher") and str(ref["sub"]).lstrip("-").isdigit()
    except jwt.PyJWTError:
        theirs = False
    assert (ours is not None) == theirs, (claims, ours)
