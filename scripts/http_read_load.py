#!/usr/bin/env python3
"""A steady read load on a worker's HTTP API, for benchmarks (stdlib only).

    python3 scripts/http_read_load.py --url http://127.0.0.1:8080 --rate 200 [--duration 600]

Waits until the worker lists workspaces, picks up to 200 instances from them, then reads
their contexts (GET .../instances/{id}/contexts) at --rate requests per second until
--duration seconds pass or it is stopped (SIGTERM/SIGINT). Prints one JSON line at the end:
requests, errors by status, and latency percentiles. Refreshes its instance list every 10 s
(the benchmark's producer creates them while this runs).
"""

import argparse
import json
import random
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def discover(base, limit=200):
    targets = []
    try:
        _, body = get(base + "/v1/workspaces")
    except (urllib.error.URLError, OSError):
        return targets
    for ws in json.loads(body).get("workspaces", []):
        for project in ws.get("projects", []):
            q = urllib.parse.quote
            path = f"/v1/workspaces/{q(ws['id'], safe='')}/projects/{q(project, safe='')}/instances?limit=50"
            try:
                _, body = get(base + path)
            except (urllib.error.URLError, OSError):
                continue
            for inst in json.loads(body).get("instances", []):
                targets.append(f"/v1/workspaces/{q(ws['id'], safe='')}/projects/{q(project, safe='')}"
                               f"/instances/{q(inst['id'], safe='')}/contexts")
                if len(targets) >= limit:
                    return targets
    return targets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=3600)
    args = ap.parse_args()
    base = args.url.rstrip("/")
    stop = {"now": False}
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.update(now=True))
    end = time.monotonic() + args.duration
    targets = []
    while not targets and not stop["now"] and time.monotonic() < end:
        targets = discover(base)
        if not targets:
            time.sleep(0.5)
    latencies, errors, refreshed = [], {}, time.monotonic()
    interval = 1.0 / args.rate
    next_at = time.monotonic()
    rng = random.Random(7)
    while targets and not stop["now"] and time.monotonic() < end:
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        if now - refreshed > 10:
            targets = discover(base) or targets
            refreshed = time.monotonic()
        t0 = time.perf_counter()
        try:
            status, _ = get(base + rng.choice(targets))
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError):
            status = "connection"
        latencies.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2) if latencies else None

    print(json.dumps({"requests": len(latencies), "errors": errors, "targets": len(targets),
                      "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(latencies[-1], 2) if latencies else None}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
