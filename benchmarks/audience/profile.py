"""Where an origin node's time goes while it serves HLS viewers, from a py-spy raw profile
(`record -f raw --threads --nonblocking`): samples in which a thread waits are dropped, the rest are
named by the innermost recognised frame, so "the key check" is the HMAC wherever it was called from.
The shares are applied to the node's CPU per request measured in the window before the profile."""

from __future__ import annotations

from collections import Counter

from benchmarks.stage.profile import IDLE

# innermost first: the first of these found walking a stack from its leaf names the operation
OPS = [
    ("socket write (uvloop transport.write, the send syscall)", ("uv__write", "uv_try_write", "writev (", "write (libc",
                                                                  "send (libc", "sendmsg (", "UVStream.write", "transport.write")),
    ("socket read (recv syscall, uvloop)", ("uv__read", "recv (libc", "read (libc", "recvmsg (")),
    ("program key check (HMAC, collab/auth/signed.py)", ("collab/auth/signed.py", "hmac", "HMAC", "_hashlib")),
    ("playlist render (collab/media/llhls.py render)", ("llhls.py", "render (")),
    ("program routes (sessions/program/routes.py)", ("sessions/program/routes.py",)),
    ("the node's programs and copies (sessions/program/programs.py, sharing.py)",
     ("sessions/program/programs.py", "sessions/program/sharing.py")),
    ("DomainError answers (collab/api/common.py, errors)", ("collab/api/common.py", "collab/errors.py")),
    ("Starlette Response (headers, send)", ("starlette/responses.py", "starlette/datastructures.py")),
    ("Starlette routing and middleware", ("starlette/routing.py", "starlette/middleware", "starlette/_exception_handler.py",
                                          "starlette/applications.py", "starlette/requests.py")),
    ("the app's own middleware (server/app.py, collab/web, ops)", ("server/app.py", "collab/ops.py", "collab/web/")),
    ("uvicorn HTTP protocol (parse, ASGI cycle)", ("uvicorn/", "httptools")),
    ("asyncio machinery (tasks, futures, events)", ("asyncio/", "task_step", "_asyncio", "future_")),
    ("uvloop itself", ("uvloop", "uv_", "uv__", "Loop__", "Handle__")),
    ("the bus (Redis)", ("redis/", "collab/realtime/redis_bus.py")),
    ("the /ws hub", ("collab/realtime/",)),
    ("logging", ("logging/",)),
]


def summarize(raw: str) -> dict:
    ops: Counter[str] = Counter()
    busy = total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        if any(idle in frames[-1] for idle in IDLE) or "idle" in frames[-1].lower():
            continue
        busy += n
        name = "other"
        for frame in reversed(frames):
            hit = next((label for label, pats in OPS if any(p in frame for p in pats)), None)
            if hit:
                name = hit
                break
        ops[name] += n
    shares = [[k, round(v / busy, 3)] for k, v in ops.most_common()] if busy else []
    return {"samples": total, "busy_samples": busy, "ops": shares}
