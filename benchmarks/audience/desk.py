"""The people who only send commands (the host, a teacher asking for the program's address), as a
helper process holding their /ws connections: the orchestrator runs no event loop of its own."""

from __future__ import annotations

from benchmarks.audience.ws import CommandFailed, Ws


def desk_main(pipe, _spec=None) -> None:
    from benchmarks.stage.procs import serve

    serve(pipe, Desk)


class Desk:
    def __init__(self) -> None:
        self.people: dict[str, Ws] = {}

    async def connect(self, arg: dict) -> dict:
        """arg: {name, ws_url, token}"""
        old = self.people.pop(arg["name"], None)
        if old is not None:
            await old.close()
        self.people[arg["name"]] = await Ws(arg["ws_url"]).open(arg["token"])
        return {}

    async def call(self, arg: dict) -> dict:
        """arg: {name, cmd, args}: the reply's ok, or {"error": {code, message}}"""
        try:
            return {"ok": await self.people[arg["name"]].ok(arg["cmd"], **arg.get("args", {}))}
        except CommandFailed as exc:
            return {"error": {"code": exc.code, "message": str(exc)}}

    async def close(self, _=None) -> None:
        for ws in self.people.values():
            await ws.close()
