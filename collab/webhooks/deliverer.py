"""Delivery: whichever node holds the outbox lease sends what is due, at least once.

Every node runs a `Deliverer`; the one that holds the bus lease `webhooks:outbox` (taken when free,
renewed every LEASE/4 seconds, lapsing LEASE seconds after its holder stops renewing: a node that dies
hands the job on) works the outbox:

1. fan-out: each new event becomes one delivery per enabled endpoint subscribed to its type;
2. claim: a due delivery's next attempt is moved past the send's timeout in a compare-and-set, so
   a delivery is sent by one node at a time even while the lease changes hands; a node killed
   mid-send leaves the claim to run out, and the next holder sends again, same `webhook-id`;
3. send: a signed POST (signing.py) to the address that was checked (addresses.py), redirects not
   followed, a 2xx is success;
4. record: the attempt goes in the delivery log; a failure is retried after the next step of
   `--webhook-retry-schedule` (±20% jitter, so receivers that come back are not hit in step), then
   the delivery has failed; an endpoint whose every attempt failed for `--webhook-disable-after`
   seconds is disabled, the reason kept on it for admins to see, and a warning logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from collab import audit
from collab.settings import Settings
from collab.store.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from collab.webhooks import addresses, signing
from collab.webhooks.endpoints import aware, signing_keys, subscribed

log = logging.getLogger("collab.webhooks")

LEASE_KEY = "webhooks:outbox"
LEASE = 5.0  # seconds the holder's lease lasts unless renewed
FAN_OUT = 500  # events fanned out per look
PARALLEL = 16  # sends at once
PRUNE_EVERY = 600.0  # seconds between the lease holder's sweeps of old events
CLAIM_MARGIN = 5.0  # seconds a claim outlasts the send's timeout
SNIPPET = 500  # characters of the receiver's answer kept in the log
USER_AGENT = "collab-webhooks/1"


def retry_schedule(text: str) -> list[float]:
    """`--webhook-retry-schedule` ("5,30,120"): seconds before the 2nd, 3rd, … attempt."""
    try:
        steps = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--webhook-retry-schedule: {text!r} is not a comma-separated list of seconds") from None
    if not steps or any(s < 0 for s in steps):
        raise ValueError("--webhook-retry-schedule needs at least one step of 0 seconds or more")
    return steps


def next_delay(steps: list[float], attempts: int) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones, with ±20% jitter; None: give up."""
    if attempts > len(steps):
        return None
    return steps[attempts - 1] * random.uniform(0.8, 1.2)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Deliverer:
    def __init__(self, settings: Settings, sessionmaker, bus) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.bus = bus
        self.node = settings.node_id
        self.steps = retry_schedule(settings.webhook_retry_schedule)
        self.holding = False
        self.client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task] = []
        self._sending: set[asyncio.Task] = set()  # sends in flight, at most PARALLEL
        self._finished: list[tuple[int, int, dict]] = []  # (delivery, endpoint, outcome) not yet recorded
        self._wake = asyncio.Event()
        self._next_prune = 0.0

    async def start(self) -> None:
        # trust_env=False: an HTTP(S)_PROXY in the environment must not reroute signed deliveries
        self.client = httpx.AsyncClient(follow_redirects=False, trust_env=False,
                                        timeout=httpx.Timeout(self.settings.webhook_timeout),
                                        limits=httpx.Limits(max_connections=PARALLEL))
        self._tasks = [asyncio.create_task(self._keep_lease(), name="webhooks-lease"),
                       asyncio.create_task(self._work(), name="webhooks-deliverer")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in list(self._sending):  # cut short: their claims run out and they are sent again
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        try:
            await self._record_finished()
        except Exception:
            log.warning("could not record the last webhook attempts; those deliveries go again")
        if self.holding:
            self.holding = False
            try:
                await self.bus.release(LEASE_KEY, self.node)  # the next node need not wait for it to lapse
            except Exception:
                log.warning("could not release the webhook lease; it lapses in %ss", LEASE)
        if self.client is not None:
            await self.client.aclose()

    async def _keep_lease(self) -> None:
        while True:
            try:
                holding = await self.bus.hold(LEASE_KEY, self.node, LEASE) == self.node
            except Exception:  # the bus is away: whoever holds the lease cannot tell, so nobody works
                holding = False
            if holding != self.holding:
                log.info("webhook outbox lease %s", "taken" if holding else "lost", extra={"node": self.node})
            self.holding = holding
            await asyncio.sleep(LEASE / 4)

    async def _work(self) -> None:
        while True:
            try:  # a finished send wakes the loop early: its slot is filled at once
                await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            if not self.holding:
                continue
            try:
                await self.fan_out()
                await self.deliver_due()
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + PRUNE_EVERY
                    await self.prune()
            except Exception:  # the database may be briefly away: the outbox keeps everything
                log.exception("webhook delivery pass failed; will retry")

    # -- 1. fan-out ---------------------------------------------------------------------------------

    async def fan_out(self) -> int:
        now = _now()
        async with self.sessionmaker() as db:
            events = list((await db.execute(select(WebhookEvent).where(WebhookEvent.fanned_out.is_(False))
                                            .order_by(WebhookEvent.id).limit(FAN_OUT))).scalars())
            if not events:
                return 0
            endpoints = list((await db.execute(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))))
                             .scalars())
            for event in events:
                for endpoint in endpoints:
                    if subscribed(endpoint, event.type):
                        db.add(WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id, status="pending",
                                               attempts=0, next_attempt_at=now, created_at=now))
                event.fanned_out = True
            try:
                await db.commit()
            except IntegrityError:  # another node fanned these out in the moment the lease changed hands
                await db.rollback()
                return 0
        return len(events)

    async def prune(self) -> int:
        """Forget events older than `--webhook-retention-days` that nobody is waiting for (none of their
        deliveries pending), with their deliveries and attempts: the outbox does not grow for ever."""
        cutoff = _now() - timedelta(days=self.settings.webhook_retention_days)
        async with self.sessionmaker() as db:
            gone = await db.execute(delete(WebhookEvent).where(
                WebhookEvent.created_at < cutoff, WebhookEvent.fanned_out.is_(True),
                ~exists().where(WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status == "pending")))
            await db.commit()
        return gone.rowcount

    # -- 2. claim, 3. send, 4. record ---------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Record the attempts that finished since the last look (one transaction), then claim as many
        due deliveries as there are free sending slots and start sending them. A send runs beside the
        looks, so a receiver that hangs holds up nobody else's deliveries."""
        await self._record_finished()
        room = PARALLEL - len(self._sending)
        if room <= 0:
            return 0
        now = _now()
        until = now + timedelta(seconds=self.settings.webhook_timeout + CLAIM_MARGIN)
        async with self.sessionmaker() as db:
            due = list((await db.execute(
                select(WebhookDelivery.id).join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                       WebhookEndpoint.enabled.is_(True))
                .order_by(WebhookDelivery.next_attempt_at).limit(room))).scalars())
            if not due:
                return 0
            claimed = list((await db.execute(  # only those still due: another node may have just taken some
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(due), WebhookDelivery.status == "pending",
                       WebhookDelivery.next_attempt_at <= now)
                .values(next_attempt_at=until).returning(WebhookDelivery.id)
                .execution_options(synchronize_session=False))).scalars())
            await db.commit()
            if not claimed:
                return 0
            rows = (await db.execute(
                select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id.in_(claimed)))).all()
            jobs = [(d.id, ev.msg_id, ev.payload.encode(), e.id, e.url, signing_keys(e, now)) for d, ev, e in rows]
        for job in jobs:
            task = asyncio.create_task(self._send_one(*job), name=f"webhook-{job[1]}")
            self._sending.add(task)
            task.add_done_callback(self._sent)
        return len(jobs)

    async def _send_one(self, delivery_id: int, msg_id: str, body: bytes, endpoint_id: int, url: str,
                        keys: list[str]) -> None:
        outcome = await self.send(url, msg_id, body, keys)
        self._finished.append((delivery_id, endpoint_id, outcome))

    def _sent(self, task: asyncio.Task) -> None:
        self._sending.discard(task)
        if len(self._sending) <= PARALLEL // 2:  # half the slots free: record and fill them now, not at the next poll
            self._wake.set()

    async def _record_finished(self) -> None:
        """One transaction for every attempt finished since the last look. Should the node die first,
        those deliveries' claims run out and they are sent again (at least once, same webhook-id)."""
        finished, self._finished = self._finished, []
        if not finished:
            return
        try:
            async with self.sessionmaker() as db:
                for delivery_id, endpoint_id, outcome in finished:
                    await self.record(db, delivery_id, endpoint_id, outcome)
                await db.commit()
        except Exception:
            self._finished[:0] = finished
            raise

    async def send(self, url: str, msg_id: str, body: bytes, keys: list[str]) -> dict:
        """One signed POST. Returns the attempt as the log keeps it."""
        at = _now()
        started = time.monotonic()
        status, error, answer = None, "", ""
        try:
            target, named = await addresses.pinned(url, self.settings.webhook_allow_private)
            headers = {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": signing.signature(keys, msg_id, at, body),
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "host": named.netloc.decode("ascii"),
            }
            extensions = {"sni_hostname": named.host} if named.scheme == "https" else {}
            async with asyncio.timeout(self.settings.webhook_timeout):  # httpx's timeouts are per read
                async with self.client.stream("POST", target, content=body, headers=headers,
                                              extensions=extensions) as response:
                    status = response.status_code
                    answer = await _start_of(response)
        except addresses.AddressRefused as exc:
            error = exc.message
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self.settings.webhook_timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        return {"at": at, "status": status, "error": error, "answer": answer,
                "ms": round((time.monotonic() - started) * 1000)}

    async def record(self, db, delivery_id: int, endpoint_id: int, outcome: dict) -> None:
        """The attempt in the log; the delivery succeeded, due again, or failed; the endpoint's failing
        streak, and whether it is disabled."""
        now = _now()
        status = outcome["status"]
        ok = status is not None and 200 <= status < 300
        if status is not None and not ok and not outcome["error"]:
            outcome["error"] = f"answered {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
        delivery = await db.get(WebhookDelivery, delivery_id)
        endpoint = await db.get(WebhookEndpoint, endpoint_id)
        if delivery is None or endpoint is None:
            return  # the endpoint was deleted meanwhile
        db.add(WebhookAttempt(delivery_id=delivery_id, at=outcome["at"], node_id=self.node, status_code=status,
                              error=outcome["error"][:300], response=outcome["answer"], duration_ms=outcome["ms"]))
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.last_status_code = outcome["at"], status
        if ok:
            delivery.status, delivery.next_attempt_at = "succeeded", None
            endpoint.failing_since = None
        else:
            delay = next_delay(self.steps, delivery.attempts)
            if delay is None:
                delivery.status, delivery.next_attempt_at = "failed", None
            else:
                delivery.next_attempt_at = now + timedelta(seconds=delay)
            since = aware(endpoint.failing_since)
            if since is None:
                endpoint.failing_since = outcome["at"]
            elif endpoint.enabled and (now - since).total_seconds() >= self.settings.webhook_disable_after:
                self._disable(db, endpoint, since, now)

    def _disable(self, db, endpoint: WebhookEndpoint, since: datetime, now: datetime) -> None:
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = f"every delivery failed since {since.isoformat(timespec='seconds')}"
        audit.record(db, None, "webhook.disable", "webhook", endpoint.id,
                     {"reason": endpoint.disabled_reason, "by": "server"})
        log.warning("webhook endpoint %s disabled: every delivery failed since %s", endpoint.id,
                    since.isoformat(timespec="seconds"),
                    extra={"endpoint": endpoint.id, "url": endpoint.url, "reason": endpoint.disabled_reason})


async def _start_of(response: httpx.Response) -> str:
    """The first SNIPPET characters of an answer, reading no more than a few KB of it."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= SNIPPET * 4:
            break
    return data.decode("utf-8", errors="replace")[:SNIPPET]
