"""Standard Webhooks signatures (the `standardwebhooks` package): `v1,<base64 HMAC-SHA256>` over
`{webhook-id}.{webhook-timestamp}.{body}`, keyed by the endpoint's `whsec_…` secret.

During a rotation the old secret signs too: the header carries both signatures, space-separated, as
the specification allows, so a receiver verifies with whichever secret it has while it changes over.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook


def new_secret() -> str:
    """24 random bytes (192 bits), as the spec recommends between 24 and 64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def is_secret(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(value[6:], validate=True)
    except ValueError:
        return False
    return 24 <= len(key) <= 64


def signature(keys: list[str], msg_id: str, at: datetime, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,…` per secret, space-separated."""
    return " ".join(Webhook(key).sign(msg_id, at, body) for key in keys)
