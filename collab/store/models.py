"""Tables of record. Every change here ships with an Alembic migration in migrations/versions."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


ROLES = ("admin", "organizer", "expert", "teacher")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("idp_issuer", "idp_subject", name="uq_users_idp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Local accounts sign in with a username; accounts from an external identity provider have none.
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    school: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16), default="teacher")
    idp_issuer: Mapped[str | None] = mapped_column(String(255))
    idp_subject: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set by an admin; a disabled account cannot sign in and its tokens stop counting (collab/auth/signins.py).
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "Tokens issued before this are void" (unix seconds, compared with a token's iat), except those
    # of one session: set when the password changes, the role is lowered, or all sessions are ended.
    tokens_void_before: Mapped[float | None] = mapped_column(Float)
    tokens_void_spared: Mapped[int | None] = mapped_column(Integer)


class AuthSession(Base):
    """One sign-in: the tokens issued to it carry its id (`sid`), so it can be listed and ended."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user", "user_id", "revoked_at"),
                      Index("ix_auth_sessions_revoked", "revoked_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # to the minute
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # of its newest token
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    client_address: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_why: Mapped[str] = mapped_column(String(32), default="")


class Announcement(Base):
    """A platform or regional announcement: the first event of record on the real-time core."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(128), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- webhooks (collab/webhooks): endpoints, the outbox, deliveries and their attempts ----------------


class WebhookEndpoint(Base):
    """A receiver an admin configured: where to send which event types, signed with its secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list] = mapped_column(JSON)  # names from collab.webhooks.events.TYPES, or ["*"]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # HMAC keys must be kept in the clear to sign with. During a rotation the old one signs too,
    # until `previous_secret_until`.
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # first failure since a success
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookEvent(Base):
    """The outbox: an event written in the same transaction as the change it reports."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)  # the webhook-id header, across retries
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # the JSON body, as signed: {type, timestamp, data}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False, index=True)  # deliveries made


class WebhookDelivery(Base):
    """One event to one endpoint: pending until a 2xx, retried on a schedule, then failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_delivery"),
                      Index("ix_webhook_deliveries_due", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, succeeded, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookAttempt(Base):
    """One try of a delivery, for the admin's delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    node_id: Mapped[str] = mapped_column(String(100))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: no answer (timeout, refused)
    error: Mapped[str] = mapped_column(String(300), default="")
    response: Mapped[str] = mapped_column(String(1000), default="")  # the start of the body
    duration_ms: Mapped[int] = mapped_column(Integer)


class ServiceKey(Base):
    """A service API key (collab/keys.py): only its SHA-256 is kept, with a short visible prefix so an
    admin can tell keys apart in a list; the secret itself was shown once, at creation."""

    __tablename__ = "service_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32))  # collab_sk_ and the secret's first characters
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the whole key
    scopes: Mapped[list] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: made with the CLI
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """One staff action or service call (collab/audit.py). Rows are only ever added: no route updates
    or deletes them."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_action_id", "action", "id"),
                      Index("ix_audit_events_target", "target_type", "target_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no foreign key: the log outlives
    actor_key_id: Mapped[int | None] = mapped_column(Integer, index=True)   # what it names
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    activity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    studio_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict] = mapped_column(JSON)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
