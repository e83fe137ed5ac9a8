"""`collab webhooks …`: the operator's side of collab/webhooks/endpoints.py, straight on the database.

    collab webhooks add URL --event attendance.finalized [--event …] [--description TEXT]
    collab webhooks list
    collab webhooks disable ID | enable ID
    collab webhooks rotate-secret ID
    collab webhooks deliveries ID [--status failed]
    collab webhooks replay ID MSG_ID
"""

from __future__ import annotations

import argparse
import asyncio

from collab.errors import DomainError
from collab.settings import Settings
from collab.webhooks import endpoints
from collab.webhooks.outbox import TYPES


def add_parser(sub, add_setting_flags) -> None:
    p = sub.add_parser("webhooks", help="webhook endpoints (admins' API: /api/webhooks)")
    actions = p.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an endpoint; prints its secret once")
    add.add_argument("url")
    add.add_argument("--event", action="append", required=True, metavar="TYPE",
                     help="an event type to send (repeat for more; '*' for all): " + ", ".join(TYPES))
    add.add_argument("--description", default="")
    actions.add_parser("list", help="the endpoints")
    for name, what in (("disable", "stop sending to an endpoint"), ("enable", "send to it again"),
                       ("rotate-secret", "a new secret; the old one signs beside it for a while")):
        a = actions.add_parser(name, help=what)
        a.add_argument("id", type=int)
    log = actions.add_parser("deliveries", help="an endpoint's delivery log, newest first")
    log.add_argument("id", type=int)
    log.add_argument("--status", choices=["pending", "succeeded", "failed"])
    again = actions.add_parser("replay", help="deliver an event to an endpoint again, same webhook-id")
    again.add_argument("id", type=int)
    again.add_argument("event", metavar="MSG_ID")
    for a in actions.choices.values():
        add_setting_flags(a)


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        for line in asyncio.run(_run(settings, args)):
            print(line, flush=True)
    except DomainError as exc:
        print(f"collab webhooks: {exc.code}: {exc.message}", flush=True)
        return 1
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> list[str]:
    from collab.store.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            out = await _act(db, settings, args)
            await db.commit()
            return out
    finally:
        await engine.dispose()


async def _act(db, settings: Settings, args: argparse.Namespace) -> list[str]:
    if args.action == "add":
        endpoint, secret = await endpoints.create(db, None, args.url, args.event, args.description,
                                                  allow_private=settings.webhook_allow_private)
        return [f"endpoint {endpoint.id}: {endpoint.url} ({', '.join(endpoint.event_types)})",
                f"secret {secret}  (shown this once: give it to the receiver)"]
    if args.action == "list":
        return [f"{e.id}\t{'enabled' if e.enabled else 'disabled'}\t{e.url}\t{','.join(e.event_types)}"
                + (f"\t{e.disabled_reason}" if not e.enabled and e.disabled_reason else "")
                for e in await endpoints.listing(db)] or ["no webhook endpoints"]
    endpoint = await endpoints.get(db, args.id)
    if args.action in ("disable", "enable"):
        await endpoints.change(db, endpoint, {"enabled": args.action == "enable"})
        return [f"endpoint {endpoint.id} {args.action}d"]
    if args.action == "rotate-secret":
        secret = await endpoints.rotate(db, endpoint, settings.webhook_rotation_overlap)
        return [f"secret {secret}  (the old one also signs for {settings.webhook_rotation_overlap:g} s)"]
    if args.action == "deliveries":
        return [f"{d['id']}\t{d['status']}\t{d['event']['type']}\t{d['event']['id']}\tattempts {len(d['attempts'])}"
                f"\tlast {d['last_status_code']}" + (f"\tnext {d['next_attempt_at']}" if d["next_attempt_at"] else "")
                for d in await endpoints.deliveries(db, endpoint, args.status)]
    delivery = await endpoints.replay(db, endpoint, args.event)
    return [f"delivery {delivery.id} pending: {args.event} goes to endpoint {endpoint.id} again"]
