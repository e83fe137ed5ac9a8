"""The one kind of domain error: a refusal with a stable code and the HTTP status it answers with.

Every rule, command and route refuses by raising `DomainError` (or a subclass that only adds fields,
such as the agenda's `field`). Starlette's exception handler turns it into the API's error body and the
`/ws` command runner into an error reply with the command's id; nothing in between catches and
re-wraps it. The code is what clients switch on and translate (webclient/static/page.js has a sentence
for every one, in both languages); the message is for developers and logs.
"""

from __future__ import annotations

from http import HTTPStatus

# The status a code answers with over HTTP when the raiser names none. A code missing here is 400:
# input the caller must correct.
STATUS_OF_CODE: dict[str, int] = {
    "unauthenticated": HTTPStatus.UNAUTHORIZED,
    "bad_credentials": HTTPStatus.UNAUTHORIZED,
    # a sign-in token we will not accept (collab.auth.tokens): signing in again is the answer
    "token_missing": HTTPStatus.UNAUTHORIZED,
    "token_invalid": HTTPStatus.UNAUTHORIZED,
    "token_expired": HTTPStatus.UNAUTHORIZED,
    "token_signature": HTTPStatus.UNAUTHORIZED,
    "token_issuer": HTTPStatus.UNAUTHORIZED,
    "token_audience": HTTPStatus.UNAUTHORIZED,
    "token_revoked": HTTPStatus.UNAUTHORIZED,  # signed out, or the user's sessions were ended
    "token_mismatch": HTTPStatus.UNAUTHORIZED,  # `refresh` on /ws with another user's token
    "token_not_renewable": HTTPStatus.UNAUTHORIZED,  # no sign-in session to renew (an external token)
    "account_disabled": HTTPStatus.FORBIDDEN,  # an admin disabled the account
    "forbidden": HTTPStatus.FORBIDDEN,
    # service API keys (collab.keys): a key we do not know, one revoked or expired, one used beyond
    # its scopes, one offered where only a person may be (a /ws socket)
    "key_invalid": HTTPStatus.UNAUTHORIZED,
    "key_revoked": HTTPStatus.UNAUTHORIZED,
    "key_expired": HTTPStatus.UNAUTHORIZED,
    "key_scope": HTTPStatus.FORBIDDEN,
    "key_not_allowed": HTTPStatus.FORBIDDEN,
    # a signed recording link that does not open its recording (sessions.recording_links)
    "link_invalid": HTTPStatus.FORBIDDEN,
    "link_expired": HTTPStatus.FORBIDDEN,
    "not_found": HTTPStatus.NOT_FOUND,
    # the live program's HLS answers (sessions.program.routes), as the LL-HLS spec prescribes
    "program_off": HTTPStatus.NOT_FOUND,  # nobody makes this activity's program now
    "hls_bad_request": HTTPStatus.BAD_REQUEST,  # _HLS_msn/_HLS_part the spec says to refuse
    "hls_not_ready": HTTPStatus.SERVICE_UNAVAILABLE,  # not there within three target durations
    "front_row_full": HTTPStatus.CONFLICT,  # real time is for the stage's side and the front row
    "gone": HTTPStatus.GONE,
    "conflict": HTTPStatus.CONFLICT,
    "length_required": HTTPStatus.LENGTH_REQUIRED,
    "too_large": HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    "unsupported_type": HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    "type_mismatch": HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    "rate_limited": HTTPStatus.TOO_MANY_REQUESTS,
    "signin_throttled": HTTPStatus.TOO_MANY_REQUESTS,  # too many failed sign-ins (collab.auth.throttle)
    "bus_unavailable": HTTPStatus.SERVICE_UNAVAILABLE,
    "internal": HTTPStatus.INTERNAL_SERVER_ERROR,
}


class DomainError(Exception):
    """A refusal: `code` (stable, documented, translated), `message` (English, for developers) and
    `status` (the HTTP answer; by default the code's, see STATUS_OF_CODE)."""

    code: str = "invalid"

    def __init__(self, code: str | None = None, message: str = "", *, status: int | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message or self.code
        self.status = int(status if status is not None else STATUS_OF_CODE.get(self.code, HTTPStatus.BAD_REQUEST))
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, status={self.status})"
