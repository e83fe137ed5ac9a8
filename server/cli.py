"""The `collab` command: serve, migrate, seed.

    collab serve [--demo] [--host H] [--port P] [--database-url URL] [--redis-url URL] ...
    collab db upgrade | collab db current
    collab demo            seed demo accounts (idempotent)
    collab webhooks add URL --event TYPE | list | disable ID | enable ID | rotate-secret ID | deliveries ID | replay ID MSG_ID
    collab keys create --name 省平台 --scope attendance:read [--scope ...] [--expires-in-days N]
    collab keys list | collab keys revoke <id>     service API keys (collab/keys.py)

Every setting is a flag (`--flush-interval 0.02`) and an environment variable
(`COLLAB_FLUSH_INTERVAL=0.02`); flags win.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys

from collab.settings import Settings, load_settings


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        kind = {"int": int, "float": float, "bool": None}.get(str(f.type), str)
        if kind is None:
            parser.add_argument(flag, dest=f.name, default=None, type=lambda v: v.lower() in ("1", "true", "yes", "on"))
        else:
            parser.add_argument(flag, dest=f.name, default=None, type=kind)


def _settings(args: argparse.Namespace) -> Settings:
    values = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(Settings)}
    return load_settings(**values)


def serve(settings: Settings, on_listening=None) -> None:
    """Run until stopped. `on_listening(url)` is called once the socket is bound, with the address it
    really has (with --port 0 the system picks the port)."""
    import uvicorn

    from server.app import create_app
    from collab.ops import configure_logging
    from collab.realtime.wire import WireProtocol

    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws=WireProtocol,
        ws_per_message_deflate=False,  # identical frame bytes for every socket need uncompressed frames
        ws_max_size=16 * 1024 * 1024,  # a hard ceiling; each endpoint enforces its own, smaller limit
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        log_config=None,
        timeout_graceful_shutdown=10,
        backlog=4096,
        proxy_headers=False,  # X-Forwarded-* only from --trusted-proxies (collab/api/client_address.py)
    )
    public = config.bind_socket()  # (on failure uvicorn logs why and exits 3)
    try:
        internal = listen_internal(settings)
    except OSError as exc:  # said at once, naming the setting
        print(f"collab: cannot listen on --internal-port {settings.internal_host}:{settings.internal_port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        sys.exit(3)
    app.internal_port = internal.getsockname()[1]
    logging.getLogger("collab.app").info(
        "operations (metrics, readiness detail) at %smetrics", url_of(settings.internal_host, app.internal_port))
    sockets = [public, internal]  # the public one first: on_listening reports it
    server = _Server(config, on_listening)
    _tune_gc()
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(3)


def listen_internal(settings: Settings):
    """The operations port's socket. One uvicorn server serves it with the public one (one event loop,
    one start-up and shutdown, one set of connections drained); the app tells them apart by the local
    port of each connection (server/app.py's RealtimeFirst)."""
    import socket

    family = socket.AF_INET6 if ":" in settings.internal_host else socket.AF_INET
    sock = socket.create_server((settings.internal_host.strip("[]"), settings.internal_port), family=family)
    sock.set_inheritable(True)
    return sock


def _Server(config, on_listening):
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started and on_listening is not None and self.servers and self.servers[0].sockets:
                on_listening(url_of(config.host, self.servers[0].sockets[0].getsockname()[1]))

    return Server(config)


def url_of(host: str, port: int) -> str:
    """The address to open in a browser: a wildcard host is reached on this machine's loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    return f"http://{'[' + host + ']' if ':' in host and not host.startswith('[') else host}:{port}/"


def _tune_gc() -> None:
    """Ten thousand sockets are a lot of long-lived objects: with CPython's default thresholds the
    collector keeps re-walking them (a full collection paused a 5,000-socket node for ~150 ms and cost
    ~30% of join CPU in the fan-out benchmark). Freeze what start-up made and collect far less often;
    reference counting still frees almost everything, the collector only finds cycles."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="collab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the server")
    p_serve.add_argument("--demo", action="store_true", help="apply migrations and seed demo data first")
    _add_setting_flags(p_serve)
    p_db = sub.add_parser("db", help="database schema")
    p_db.add_argument("action", choices=["upgrade", "current"])
    _add_setting_flags(p_db)
    p_demo = sub.add_parser("demo", help="seed demo accounts")
    _add_setting_flags(p_demo)
    from server import webhooks_cli

    webhooks_cli.add_parser(sub, _add_setting_flags)

    p_keys = sub.add_parser("keys", help="service API keys: create (the secret is shown once), list, revoke")
    keys_sub = p_keys.add_subparsers(dest="keys_action", required=True)
    p_create = keys_sub.add_parser("create", help="make a key and print its secret, once")
    p_create.add_argument("--name", required=True, help="who uses it, e.g. 省平台")
    p_create.add_argument("--scope", action="append", required=True, dest="scopes",
                          help="attendance:read, activities:read or registrations:read (repeat for several)")
    p_create.add_argument("--expires-in-days", type=int, default=None)
    p_list = keys_sub.add_parser("list", help="the keys, with prefix, scopes, last use and state")
    p_revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    p_revoke.add_argument("key_id", type=int)
    for p in (p_create, p_list, p_revoke):
        _add_setting_flags(p)
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ValueError as exc:  # a setting that cannot work: say which, before anything starts
        print(f"collab: {exc}", file=sys.stderr)
        sys.exit(2)

    from collab.store import schema

    if args.command == "db" and args.action == "upgrade":
        schema.upgrade(settings.database_url)
        print(f"database at revision {schema.head_revision()}")
    elif args.command == "db":
        from collab.store.db import make_engine

        async def _current() -> str | None:
            engine = make_engine(settings.database_url)
            try:
                return await schema.current_revision(engine)
            finally:
                await engine.dispose()

        print(f"current {asyncio.run(_current())}, head {schema.head_revision()}")
    elif args.command == "webhooks":
        from server import webhooks_cli

        sys.exit(webhooks_cli.run(settings, args))
    elif args.command == "demo":
        created = _seed(settings)
        _say(f"demo accounts {'created' if created else 'already present'}; start the server with the same "
             f"settings (collab serve) and sign in at {url_of(settings.host, settings.port)} as")
        _accounts()
    elif args.command == "keys":
        sys.exit(_keys(settings, args))
    elif args.command == "serve":
        listening = None
        if args.demo:
            schema.upgrade(settings.database_url)
            created = _seed(settings)

            def listening(url: str) -> None:  # the URL once the port is bound, not the one asked for
                _say(f"demo accounts {'created' if created else 'already present'}; sign in at {url} as")
                _accounts()
        try:
            serve(settings, listening)
        except schema.SchemaOutOfDate as exc:
            print(f"collab: {exc}", file=sys.stderr)
            sys.exit(2)


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    """`collab keys ...`: the operator's own hand on the database (audited as the command line)."""
    from collab import audit, keys
    from collab.errors import DomainError
    from collab.store.db import make_engine, make_sessionmaker

    async def run() -> int:
        audit.ORIGIN.set(audit.CLI)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as db:
                if args.keys_action == "create":
                    row, secret = await keys.create(db, None, args.name, args.scopes, args.expires_in_days)
                    _say(f"created key {row.id} ({row.name}), scopes {' '.join(row.scopes)}")
                    _say("the secret, shown this once (store it now; only its hash is kept):")
                    _say(secret)
                elif args.keys_action == "list":
                    _say(f"{'id':>4}  {'prefix':<18} {'state':<8} {'last used':<26} scopes / name")
                    for k in map(keys.key_json, await keys.listing(db)):
                        _say(f"{k['id']:>4}  {k['prefix']:<18} {k['state']:<8} {k['last_used_at'] or '-':<26} "
                             f"{' '.join(k['scopes'])} / {k['name']}")
                else:
                    row = await keys.revoke(db, None, args.key_id)
                    _say(f"revoked key {row.id} ({row.name}); every node refuses it within "
                         f"{keys.CACHE_SECONDS:g} seconds")
        except DomainError as exc:
            print(f"collab: {exc.code}: {exc.message}", file=sys.stderr)
            return 2
        finally:
            await engine.dispose()
        return 0

    return asyncio.run(run())


def _seed(settings: Settings) -> list[str]:
    from server import demo

    return asyncio.run(demo.seed(settings))


def _accounts() -> None:
    from server import demo

    for username, _name, role, *_ in demo.ACCOUNTS:
        _say(f"  {username:<10} {role:<10} password {demo.PASSWORD}")


def _say(line: str) -> None:
    print(line, flush=True)  # at once, also when stdout is a pipe (scripts/serve | tee, a supervisor)


if __name__ == "__main__":
    main()
