"""Settings: embedded defaults, overridden by environment variables, overridden by CLI flags.

Every setting has one environment variable, ``COLLAB_<NAME>``; the CLI maps ``--name`` to the same
field. Defaults run the whole server in one process on SQLite with the in-process bus.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collab import time_zones

DATA_DIR = Path(os.environ.get("COLLAB_DATA_DIR", "var"))


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite+aiosqlite:///{DATA_DIR / 'collab.db'}"
    # Empty means the in-process bus (one process). A redis:// URL means the Redis bus (many nodes).
    redis_url: str = ""
    # Signs our own tokens. The embedded default is generated per data dir (see `load_settings`).
    secret: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    node_id: str = ""
    token_ttl: int = 12 * 3600

    # External identity provider: JWTs signed by an existing education platform's login.
    external_jwt_secret: str = ""  # HS256 shared secret
    external_jwt_public_key: str = ""  # RS256 PEM (or a path to one)
    external_jwt_issuer: str = ""
    external_jwt_audience: str = ""

    # Sign-in throttling (collab/auth/throttle.py): failed sign-ins allowed per window, in the `limits`
    # package's notation. The source is held tighter than the account, which is the rule an attacker
    # could aim at a teacher; a browser the account signed in on before only meets the device rule.
    signin_throttle: bool = True
    signin_failures_per_address_account: str = "5 per 5 minutes"
    # failures only: a school's NAT signs in freely; a pace, so its total is not spent during a join storm
    signin_failures_per_address: str = "20 per minute; 100 per 10 minutes"
    signin_failures_per_account: str = "30 per hour"  # unknown devices only
    signin_failures_per_device: str = "10 per 15 minutes"  # a known device, for the name it knows
    signin_device_days: int = 180  # how long a browser stays a known device after a sign-in
    # Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated). Empty: the
    # socket peer is the client.
    trusted_proxies: str = ""

    # Per-connection limits (see docs/protocol.md for the codes a breach gets).
    max_frame_bytes: int = 64 * 1024
    max_channels: int = 64
    command_rate: float = 20.0  # sustained commands per second
    command_burst: int = 60
    flood_strikes: int = 20  # rate-limited commands in a row before the socket is closed
    auth_timeout: float = 10.0

    # Hub: coalescing and backpressure.
    flush_interval: float = 0.02  # how long events gather before a channel's frame goes out
    flush_interval_large: float = 0.1  # the same for a channel with `large_channel` sockets on a node
    large_channel: int = 500
    outbox_soft_bytes: int = 256 * 1024  # transport buffer above which we queue instead of write
    outbox_hard_bytes: int = 4 * 1024 * 1024  # queued bytes above which the socket is closed
    slow_consumer_grace: float = 5.0  # seconds a socket may stay over the soft limit

    # Bus: bounded history per channel and presence expiry.
    history_size: int = 1000
    history_ttl: int = 24 * 3600
    presence_ttl: float = 30.0
    presence_interval: float = 2.0  # how often a node reads a room's count and pushes it when it changed

    # Training credit: present for at least this share of an activity's scheduled time.
    credit_ratio: float = 0.8
    # An activity's zone (IANA name) when its organizer names none: its times are shown and exported in it.
    time_zone: str = time_zones.DEFAULT

    # Lesson-prep documents over /ws/docs (see docs/documents.md).
    doc_max_message_bytes: int = 2 * 1024 * 1024  # one sync message; a pasted chapter fits
    doc_message_rate: float = 200.0  # sustained messages per second per socket (typing is ~30)
    doc_message_burst: int = 2000
    doc_outbox_bytes: int = 16 * 1024 * 1024  # queued for one socket before it is closed (4008)
    doc_idle_seconds: float = 30.0  # an open document with no socket is released after this
    doc_ticket_ttl: int = 30  # seconds a document socket's single-use ticket stays valid

    # Stage recordings (WebM), one file per publication, listed in the activity's replay.
    recordings_dir: str = str(DATA_DIR / "recordings")

    # The live program (sessions/program): x264's preset for its two rungs. "veryfast" keeps both
    # under a core on a 2-core machine; "ultrafast" costs a third of that at a lower picture quality.
    program_preset: str = "veryfast"
    # Whether this node makes programs. A node that does not ("no") serves copies of other nodes'
    # programs and asks the others, over the bus, to make the program of an activity someone
    # publishes through it. A deployment keeps encoding (and the GIL its threads take) off the nodes
    # that carry the audience's sockets by saying "no" on those and running a media node or two.
    makes_programs: bool = True

    # Studio resource library: files on disk under `resources_dir`, named by their SHA-256.
    resources_dir: str = str(DATA_DIR / "resources")
    max_upload_bytes: int = 500 * 1024 * 1024  # a lesson video

    # Webhooks to the teacher-management system (collab/webhooks, docs/integration.md).
    webhook_timeout: float = 10.0  # seconds for one delivery, connect to last byte
    # Seconds to wait after each failed attempt (each ±20% jitter); after the last, the delivery has failed.
    webhook_retry_schedule: str = "5,30,120,600,3600,10800,21600,43200"
    webhook_disable_after: float = 24 * 3600.0  # an endpoint failing every attempt this long is disabled
    webhook_rotation_overlap: float = 24 * 3600.0  # seconds the old secret still signs after a rotation
    webhook_poll_interval: float = 1.0  # seconds between the lease holder's looks at the outbox
    # Receivers on loopback, private or link-local addresses: refused unless allowed (tests, a dev box),
    # so an admin's URL cannot make the server probe its own network (SSRF).
    webhook_allow_private: bool = False
    webhook_page_size: int = 1000  # teachers per `attendance.finalized` delivery
    webhook_retention_days: float = 30.0  # events (and their delivery log) kept this long once none is pending
    # Seconds after an activity ends before its attendance is final and reported: by then every node's
    # last interval has been flushed and a node that died has missed two heartbeats.
    attendance_settle_seconds: float = 65.0
    # Operations (/metrics, /readyz's detail) on a port of their own, not the public one (docs/security.md).
    # Loopback by default: only this machine's Prometheus agent reaches it. Port 0: the system picks one.
    internal_host: str = "127.0.0.1"
    internal_port: int = 9100

    log_json: bool = True
    log_level: str = "info"

    def with_overrides(self, **values: Any) -> "Settings":
        clean = {k: v for k, v in values.items() if v is not None}
        return dataclasses.replace(self, **clean)


def _coerce(kind: Any, raw: str) -> Any:
    if kind in (bool, "bool"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    return raw


def from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        key = "COLLAB_" + f.name.upper()
        if key in environ:
            values[f.name] = _coerce(f.type, environ[key])
    return values


def load_settings(**overrides: Any) -> Settings:
    """Defaults <- environment <- explicit overrides (CLI flags)."""
    settings = Settings().with_overrides(**from_env()).with_overrides(**overrides)
    if not settings.secret:
        settings = settings.with_overrides(secret=_embedded_secret())
    if not settings.node_id:
        settings = settings.with_overrides(node_id=f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}")
    _check_time_zone(settings.time_zone)
    _check_ports(settings)
    _check_proxies(settings.trusted_proxies)
    return settings


def _check_ports(settings: Settings) -> None:
    if settings.internal_port and settings.internal_port == settings.port:
        raise ValueError(f"--internal-port / COLLAB_INTERNAL_PORT: {settings.internal_port} is the public port; "
                         "operations need a port of their own")


def _check_proxies(spec: str) -> None:
    """A mistyped proxy stops the node at start, not at a sign-in."""
    from collab.api.client_address import trusted_networks

    trusted_networks(spec)  # its ValueError names the setting and the entry


def _check_time_zone(name: str) -> None:
    """A mistyped zone would otherwise surface only later, as every new activity refused."""
    if not time_zones.is_zone(name):
        raise ValueError(f"--time-zone / COLLAB_TIME_ZONE: {name!r} is not an IANA time zone (e.g. Asia/Shanghai)")


def _embedded_secret() -> str:
    """A random secret kept in the data dir, so tokens survive a restart of the embedded server."""
    path = DATA_DIR / "secret.key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


__all__ = ["Settings", "load_settings", "from_env"]
