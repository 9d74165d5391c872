"""Bounded load test of the HTTP JSON API on loopback: many clients asking at once.

Starts ``inspect-qa serve`` on a free loopback port (a separate process, so that the clients do
not share its interpreter), then ``--clients`` asyncio clients (one connection each) post
``--questions`` questions in all to
``/api/answer`` (the gold set's questions, in turn), and reports answers per second, latency
p50/p95/max, errors, and the server's resident memory sampled every second (so a leak shows as
growth). Every loop is bounded in count and time; only 127.0.0.1 is contacted.

    python benchmarks/http_load.py [--clients 20] [--questions 5000] [--endpoint answer]
                                   [--index index] [--corpus seeds]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(url + "/api/documents", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not come up in time")


async def _clients(url: str, args: argparse.Namespace, questions: list[str],
                   latencies: list[float], errors: list[str]) -> None:
    """``args.clients`` clients, each on its own connection, asking in turn until
    ``args.questions`` have been asked (or ``args.max_seconds`` have passed)."""
    todo = iter(range(args.questions))
    deadline = time.monotonic() + args.max_seconds

    async def client() -> None:
        async with httpx.AsyncClient(timeout=30) as c:
            for i in todo:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    r = await c.post(f"{url}/api/{args.endpoint}",
                                     json={"question": questions[i % len(questions)]})
                    if r.status_code != 200:
                        errors.append(f"HTTP {r.status_code}: {r.text[:100]}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(client() for _ in range(args.clients)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--questions", type=int, default=5000)
    ap.add_argument("--endpoint", choices=("answer", "search"), default="answer")
    ap.add_argument("--index", default=str(ROOT / "index"))
    ap.add_argument("--corpus", default=str(ROOT / "seeds"))
    ap.add_argument("--gold", default=str(ROOT / "eval" / "gold.jsonl"))
    ap.add_argument("--max-seconds", type=float, default=900.0)
    args = ap.parse_args()

    with open(args.gold, encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspect_qa", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--index", args.index, "--corpus", args.corpus],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc)
        # Warm up: the first questions pay one-off costs (threads, caches).
        with httpx.Client(timeout=30) as c:
            for q in questions[:20]:
                c.post(f"{url}/api/{args.endpoint}", json={"question": q})
        rss: list[float] = [rss_mb(proc.pid)]
        latencies: list[float] = []
        errors: list[str] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                rss.append(rss_mb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        asyncio.run(_clients(url, args, questions, latencies, errors))
        wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
        rss.append(rss_mb(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    ms = np.array(latencies) * 1000
    n = len(latencies)
    tenth = max(1, len(rss) // 10)
    print(json.dumps({
        "endpoint": f"/api/{args.endpoint}", "clients": args.clients, "requests": n,
        "errors": len(errors), "first_errors": errors[:3], "seconds": round(wall, 1),
        "per_second": round(n / wall, 1),
        "latency_ms": {"p50": round(float(np.percentile(ms, 50)), 1),
                       "p95": round(float(np.percentile(ms, 95)), 1),
                       "max": round(float(ms.max()), 1)},
        "server_rss_mb": {"start": round(rss[0], 1),
                          "first_tenth_mean": round(float(np.mean(rss[:tenth])), 1),
                          "last_tenth_mean": round(float(np.mean(rss[-tenth:])), 1),
                          "max": round(max(rss), 1),
                          "trace": [round(x) for x in rss[:: max(1, len(rss) // 12)]]},
        "machine": f"{os.cpu_count()} cores", "load_average_1m": round(os.getloadavg()[0], 2),
    }, indent=2))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
