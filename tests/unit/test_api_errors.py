"""What the API answers for each kind of refusal, now that one exception handler answers them all
(collab.api.common.domain_error). Each row is what the routes answered when they caught and rewrapped
the error themselves: the same status, code and message, byte for byte."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from collab import policy
from collab.api.common import domain_error
from collab.auth import signed
from collab.auth.tokens import TokenError
from collab.docs.tickets import TicketRefused
from collab.errors import DomainError
from collab.realtime.dispatch import CommandError
from collab.realtime.protocol import Error
from sessions.agenda import AgendaError
from sessions.time_zones import TimeZoneError


def raised(check, *args, **kwargs) -> DomainError:
    """The refusal a check raises (a signed link's, say), as the route lets it through."""
    with pytest.raises(DomainError) as caught:
        check(*args, **kwargs)
    return caught.value


def answer(exc: DomainError) -> tuple[int, dict]:
    response = asyncio.run(domain_error(None, exc))
    assert response.media_type == "application/json"
    return response.status_code, orjson.loads(response.body)


def body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


@pytest.mark.parametrize("exc, status, code, message", [
    # the policy: 401 when signing in could help, else 403
    (policy.Denied("unauthenticated", "activity.view"), 401, "unauthenticated", "not allowed: activity.view"),
    (policy.Denied("forbidden", "studio.manage"), 403, "forbidden", "not allowed: studio.manage"),
    # the agenda's errors name their field first (the schedule form reads it), whatever their code
    (AgendaError("capacity", "the activity is full"), 400, "invalid", "capacity: the activity is full"),
    (TimeZoneError("Mars/Base"), 400, "bad_time_zone",
     "time_zone: 'Mars/Base' is not an IANA time zone name (such as Asia/Shanghai)"),
    # signed links: an invitation is 400, a recording link 403
    (raised(signed.check_invitation, "s", signed.invitation("s", 7, 1_000), 7, now=1_000), 400,
     "invitation_expired", "that invitation link has expired; ask for a new one"),
    (raised(signed.check_recording_link, "s", signed.recording_link("s", 7, 3, 1_000), 7, now=1_000), 403,
     "link_expired", "that recording link has expired; open the replay again"),
    (raised(signed.check_recording_link, "s", "forged.key", 7), 403, "link_invalid",
     "that recording link is not valid"),
    (raised(signed.check_feed_key, "s", 7, "0" * 32), 403, "forbidden", "that feed key is not valid"),
    # announcements' own checks (a command error) answer 400
    (CommandError(Error.BAD_CHANNEL, "channel must be 'namespace:name'"), 400, "bad_channel",
     "channel must be 'namespace:name'"),
    (CommandError(Error.INVALID, "body must be non-empty text"), 400, "invalid", "body must be non-empty text"),
    # accounts
    (DomainError("username_taken", "that username is taken"), 400, "username_taken", "that username is taken"),
    (DomainError("weak_password", "password must have at least 8 characters"), 400, "weak_password",
     "password must have at least 8 characters"),
    # studios, documents, the library: their codes carry their status
    (DomainError("not_found", "no such studio"), 404, "not_found", "no such studio"),
    (DomainError("invalid", "note: at most 500 characters"), 400, "invalid", "note: at most 500 characters"),
    (DomainError("unsupported_type", "this kind of file is not accepted in the library"), 415, "unsupported_type",
     "this kind of file is not accepted in the library"),
    (DomainError("type_mismatch", "the content is application/pdf, which does not match .doc"), 415, "type_mismatch",
     "the content is application/pdf, which does not match .doc"),
    (DomainError("too_large", "files are at most 10 bytes"), 413, "too_large", "files are at most 10 bytes"),
    (DomainError("length_required", "send the upload with a Content-Length"), 411, "length_required",
     "send the upload with a Content-Length"),
    (DomainError("gone", "the file is missing from storage"), 410, "gone", "the file is missing from storage"),
    (DomainError("bus_unavailable", "the bus is unreachable"), 503, "bus_unavailable", "the bus is unreachable"),
    (DomainError("bad_json", "body is not JSON"), 400, "bad_json", "body is not JSON"),
    (DomainError("bad_credentials", "wrong username or password"), 401, "bad_credentials", "wrong username or password"),
    # a status the code does not imply is named where it is raised
    (DomainError("not_ended", "the replay opens when the activity ends", status=409), 409, "not_ended",
     "the replay opens when the activity ends"),
    (DomainError("wrong_codec", "lesson videos are MP4 with H.264 or WebM with VP8", status=415), 415,
     "wrong_codec", "lesson videos are MP4 with H.264 or WebM with VP8"),
])
def test_each_refusal_answers_as_the_routes_did(exc, status, code, message):
    assert answer(exc) == (status, body(code, message))


@pytest.mark.parametrize("code", ["token_missing", "token_invalid", "token_expired", "token_signature",
                                  "token_issuer", "token_audience"])
def test_a_refused_token_is_401_whatever_the_reason(code):
    assert answer(TokenError(code, "why")) == (401, body(code, "why"))


def test_every_refusal_is_one_kind_of_error():
    # what the /ws runner and the API's handler catch, in one except
    for exc in (policy.Denied("forbidden", "x"), CommandError("invalid", "x"), AgendaError("f", "x"),
                TokenError("token_invalid", "x"), TicketRefused("ticket_expired", "x")):
        assert isinstance(exc, DomainError)
