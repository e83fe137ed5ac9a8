"""Numbers from the outside: machine-wide CPU, percentiles, and collab's own Prometheus counters."""

from __future__ import annotations

import urllib.request

import psutil


class MachineCpu:
    """Busy fraction of all cores between two snapshots (100% = every core busy)."""

    def __init__(self) -> None:
        self.start = psutil.cpu_times()

    def busy(self) -> float:
        end = psutil.cpu_times()
        total = sum(end) - sum(self.start)
        idle = (end.idle + getattr(end, "iowait", 0)) - (self.start.idle + getattr(self.start, "iowait", 0))
        return (total - idle) / total if total > 0 else 0.0


def percentiles_ms(samples_ns: list[int], points=(50, 95, 99, 100)) -> dict[str, float | None]:
    if not samples_ns:
        return {f"p{p}": None for p in points}
    s = sorted(samples_ns)
    return {f"p{p}": round(s[min(len(s) - 1, int(len(s) * p / 100))] / 1e6, 1) for p in points}


def latency_timeline(pairs, t0: float, step: float = 10.0) -> list[dict]:
    """p50/p99 of events by when they were sent, in `step`-second slices of the window: shows whether
    latency is steady, grows (a queue building up) or spikes (a stall)."""
    buckets: dict[int, list[int]] = {}
    for sent, lat in zip(pairs[0::2], pairs[1::2]):
        buckets.setdefault(int((sent / 1e9 - t0) // step), []).append(lat)
    return [{"from_s": k * step, **percentiles_ms(v, (50, 99))} for k, v in sorted(buckets.items())]


def collab_counters(port: int) -> dict[str, float]:
    """Selected counters from a collab node's /metrics (text format; no client library needed), on its
    internal port."""
    wanted = ("collab_frames_total", "collab_deliveries_total", "collab_slow_consumer_closes_total",
              "collab_bus_reconnects_total", "collab_gap_fills_total", "collab_resyncs_total")
    out: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                name, _, value = line.partition(" ")
                if name in wanted:
                    out[name] = float(value)
    except OSError:
        pass
    return out
