"""Prometheus metrics of the real-time core. Counted per flush, not per socket, to stay off the hot path."""

from prometheus_client import Counter, Gauge, Info

# The node's name lives here and in the logs, not on the pages people see.
NODE = Info("collab_node", "This node's name (--node-id)")

CONNECTIONS = Gauge("collab_connections", "Open /ws connections on this node")
SUBSCRIPTIONS = Gauge("collab_subscriptions", "Live channel subscriptions on this node")
PUBLISHED = Counter("collab_published_total", "Events published to the bus by this node")
DELIVERIES = Counter("collab_deliveries_total", "Events written to sockets (one per event per socket)")
FRAMES = Counter("collab_frames_total", "WebSocket frames written by the hub")
COALESCED = Counter("collab_coalesced_events_total", "Deliveries that shared a frame with other events")
SLOW_CONSUMER_CLOSES = Counter("collab_slow_consumer_closes_total", "Sockets closed for falling behind")
BUS_RECONNECTS = Counter("collab_bus_reconnects_total", "Times the bus connection came (back) up")
GAP_FILLS = Counter("collab_gap_fills_total", "Node-level history fetches after a gap or reconnect")
RESYNCS = Counter("collab_resyncs_total", "Channels told to resync because history could not cover a gap")
COMMANDS = Counter("collab_commands_total", "Commands handled", ["cmd"])
COMMAND_ERRORS = Counter("collab_command_errors_total", "Commands answered with an error", ["code"])
CLOSES = Counter("collab_closes_total", "Connections closed by the server", ["reason"])
PENDING_DROPPED = Counter(
    "collab_bus_outage_dropped_total", "Events recorded but dropped from the outage queue before the bus returned"
)
