"""nginx instances as the CDN shield (Debian's /usr/sbin/nginx, configured from nginx.conf.tmpl), and
what their access logs say about the requests that reached the origins."""

from __future__ import annotations

import signal
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "nginx.conf.tmpl"
NGINX = "/usr/sbin/nginx"


def render(prefix: Path, listen: str, origins: list[str], workers: int = 1) -> str:
    text = TEMPLATE.read_text()
    for name, value in {"prefix": str(prefix), "listen": listen, "workers": str(workers),
                        "origins": "\n        ".join(f"server {o};" for o in origins)}.items():
        text = text.replace("{{" + name + "}}", value)
    return text


class Nginx:
    def __init__(self, name: str, prefix: Path, port: int, origins: list[str], workers: int = 1) -> None:
        self.name, self.prefix, self.port = name, prefix, port
        prefix.mkdir(parents=True, exist_ok=True)
        # started as root, nginx's workers run as `nobody`: they must reach and write the cache and temp dirs
        prefix.chmod(0o777)
        prefix.parent.chmod(prefix.parent.stat().st_mode | 0o755)
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(render(prefix, f"127.0.0.1:{port}", origins, workers))
        self.log = prefix / "access.log"
        argv = [NGINX, "-p", str(prefix), "-c", str(self.conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"]
        check = subprocess.run([*argv[:-2], "-t"], capture_output=True, text=True, timeout=20)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t: {check.stderr.strip()[-800:]}")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(prefix / "stderr.log", "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 10
        while not self.workers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx {name} did not start: {(prefix / 'error.log').read_text()[-800:]}")
            time.sleep(0.05)

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def cpu(self) -> float:
        total = 0.0
        for p in [psutil.Process(self.proc.pid), *self.workers()]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def lines(self, since: int = 0) -> list[str]:
        if not self.log.exists():
            return []
        with open(self.log, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace").splitlines()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown: nothing to drain
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def parse(line: str) -> dict | None:
    """A `program` log line: msec status cache upstream request_time upstream_time bytes path args."""
    parts = line.split()
    if len(parts) != 9:
        return None
    key = parts[7] + ("" if parts[8] == "-" else "?" + parts[8])
    try:
        return {"t": float(parts[0]), "status": int(parts[1]), "cache": parts[2], "upstream": parts[3] != "-",
                "request_time": float(parts[4]), "bytes": int(parts[6]), "key": key}
    except ValueError:
        return None


def origin_requests(logs: dict[str, list[str]], t0: float, t1: float) -> dict:
    """Per URL (cache key) requested in [t0, t1]: how many requests reached an origin, over all
    instances, for parts and for blocking reloads; and how long viewers waited, by cache status."""
    per_key: dict[str, int] = defaultdict(int)
    seen_keys: set[str] = set()
    statuses: dict[str, int] = defaultdict(int)
    waits: dict[str, list[float]] = defaultdict(list)
    requests = 0
    for _name, lines in logs.items():
        for line in lines:
            r = parse(line)
            if r is None or not t0 <= r["t"] <= t1:
                continue
            requests += 1
            kind = kind_of(r["key"])
            statuses[f"{kind} {r['status']} {r['cache']}"] += 1
            if r["status"] == 200:
                seen_keys.add(r["key"])
                if r["upstream"]:
                    per_key[r["key"]] += 1
                if kind == "blocking":
                    waits[r["cache"]].append(r["request_time"])
    out: dict = {"requests": requests, "statuses": dict(sorted(statuses.items()))}
    for kind in ("part", "blocking", "playlist"):
        keys = [k for k in seen_keys if kind_of(k) == kind]
        counts = [per_key.get(k, 0) for k in keys]
        out[kind] = {"urls": len(keys), "origin_requests": sum(counts),
                     "per_url_mean": round(statistics.mean(counts), 2) if counts else None,
                     "per_url_max": max(counts) if counts else None}
    out["blocking_wait_s"] = {cache: _pcts(v) for cache, v in waits.items()}
    return out


def kind_of(key: str) -> str:
    path = key.split("?", 1)[0]
    if path.endswith(".m4s"):
        return "part"
    if path.endswith(".m3u8"):
        return "blocking" if "_HLS_msn=" in key else "playlist"
    return "other"


def _pcts(xs: list[float]) -> dict:
    s = sorted(xs)
    pick = lambda p: round(s[min(len(s) - 1, int(len(s) * p / 100))], 3)
    return {"n": len(s), "p50": pick(50), "p95": pick(95), "max": s[-1]} if s else {"n": 0}
