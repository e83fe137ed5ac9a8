"""Helper processes reached through a pipe: the orchestrator sends (command, argument), the process
answers with the result of `await handler.<command>(argument)`.

The pipe is read with `loop.add_reader`, not a thread: the relay's thread pool (the shared encoder runs
in it) must not lose a worker to a blocked `pipe.recv`, and the event loop must not be busy polling.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import sys
import traceback

from benchmarks.fanout.limits import raise_nofile


def _err(exc: BaseException) -> dict:
    return {"worker_error": f"{type(exc).__name__}: {exc}"[:300], "trace": traceback.format_exc()[-2000:]}


def serve(pipe, make_handler) -> None:
    """The body of a helper process: uvloop (as `collab serve` runs), then commands until `close`."""
    raise_nofile()
    import uvloop

    uvloop.install()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handler = make_handler()
        inbox: asyncio.Queue = asyncio.Queue()
        loop.add_reader(pipe.fileno(), lambda: inbox.put_nowait(pipe.recv()))
        os.set_blocking(pipe.fileno(), True)  # uvloop made it non-blocking; a long message is read whole
        while True:
            cmd, arg = await inbox.get()
            if cmd == "close":
                try:
                    await asyncio.wait_for(handler.close(), 20)
                except Exception:  # noqa: BLE001, S110 - closing as well as we can
                    pass
                pipe.send(None)
                return
            try:
                pipe.send(await getattr(handler, cmd)(arg))
            except Exception as exc:  # noqa: BLE001 - the orchestrator reports it
                pipe.send(_err(exc))

    try:
        asyncio.run(main())
    finally:
        sys.stdout.flush()
        os._exit(0)  # aiortc's decoder threads and the thread pool must not keep the process alive


class Child:
    """A helper process. Forked: the orchestrator runs no event loop and no thread to inherit."""

    def __init__(self, target, spec) -> None:
        ctx = mp.get_context("fork")
        self.pipe, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(theirs, spec), daemon=True)
        self.proc.start()
        theirs.close()
        self.pid = self.proc.pid

    def send(self, cmd: str, arg=None) -> None:
        self.pipe.send((cmd, arg))

    def recv(self, timeout: float = 120.0):
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"helper process {self.pid} did not answer in {timeout:g} s")
        out = self.pipe.recv()
        if isinstance(out, dict) and "worker_error" in out:
            raise RuntimeError(f"helper process {self.pid}: {out['worker_error']}\n{out.get('trace', '')}")
        return out

    def call(self, cmd: str, arg=None, timeout: float = 120.0):
        self.send(cmd, arg)
        return self.recv(timeout)

    def close(self) -> None:
        try:
            if self.proc.is_alive():
                self.call("close", timeout=30)
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def call_all(children: list[Child], cmd: str, args: list | None = None, timeout: float = 120.0) -> list:
    args = args if args is not None else [None] * len(children)
    for c, a in zip(children, args):  # all at once: they work in parallel
        c.send(cmd, a)
    return [c.recv(timeout) for c in children]
