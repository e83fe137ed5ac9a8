"""The real-time core: how an event reaches 10,000 sockets across several server processes.

    wire      the WebSocket transport with a pre-framed fast path (uvicorn protocol subclass)
    protocol  frames, commands, error and close codes of `/ws` (docs/protocol.md)
    bus       the distribution seam: memory (one process) and Redis (many nodes)
    hub       per-node fan-out: one bus subscription per channel, encode once, coalesce, backpressure
    client    one connection: auth, limits, subscriptions with recovery
    dispatch  the registry of commands other packages extend
"""
