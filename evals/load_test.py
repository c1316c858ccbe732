"""A bounded load test of the portal API: N concurrent clients on /api/ask for a fixed time.

    python evals/load_test.py [--clients 32] [--seconds 60] [--workers 1] [--json]
    python evals/load_test.py --url http://127.0.0.1:7860 [--api-key KEY]

Without --url it starts `planqa serve` itself on a free loopback port (its audit log in a temporary
folder), waits for /api/health to say ok, runs the load, and stops the server it started. Each client
posts the eval questions (evals/questions.jsonl) in turn, each from a different offset; after the first
pass the repeated questions' embeddings come from the query cache, as in real traffic. Meanwhile a
prober asks /api/health every second. Reports throughput, latency p50/p95/p99, errors, whether health
answered throughout, and the server's resident memory (all its processes) before and after the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (uvicorn workers), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def start_server(port: int, workers: int, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PLANQA_AUDIT_LOG": str(folder / "audit.jsonl"), "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PLANQA_API_KEYS", None)
    command = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--workers", str(workers)]
    log = (folder / "server.log").open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group (it and its workers), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


async def wait_ready(client: httpx.AsyncClient, url: str, timeout: float, server: subprocess.Popen | None) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            if (await client.get(f"{url}/api/health", timeout=5)).json().get("status") == "ok":
                return time.monotonic() - started
        except (httpx.HTTPError, ValueError):
            pass
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{url}/api/health did not say ok within {timeout:.0f} s")


async def load(url: str, questions: list[str], clients: int, seconds: float, headers: dict[str, str],
               rss: Callable[[], float | None]) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    health = {"ok": 0, "failed": 0, "max_ms": 0.0}
    samples: list[float | None] = []
    # Drop idle connections before uvicorn does (its keep-alive timeout is 5 s): reusing one the server
    # is closing at that moment fails on the client side, a race of the test, not a server error.
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4, keepalive_expiry=3)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=60) as http:
        deadline = time.monotonic() + seconds

        async def client(n: int) -> None:
            i = n * 7
            while time.monotonic() < deadline:
                question = questions[i % len(questions)]
                i += 1
                started = time.perf_counter()
                try:
                    response = await http.post(f"{url}/api/ask", json={"question": question})
                    kind = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    kind = type(exc).__name__
                if kind:
                    errors[kind] = errors.get(kind, 0) + 1
                else:
                    latencies.append((time.perf_counter() - started) * 1000)

        async def prober() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    ok = (await http.get(f"{url}/api/health", timeout=5)).json().get("status") == "ok"
                except (httpx.HTTPError, ValueError):
                    ok = False
                health["ok" if ok else "failed"] += 1
                health["max_ms"] = max(health["max_ms"], round((time.perf_counter() - started) * 1000, 1))
                if (health["ok"] + health["failed"]) % 10 == 0:
                    samples.append(rss())  # growth that levels off is warm-up; steady growth is a leak
                await asyncio.sleep(1)

        rss_start = rss()
        started = time.monotonic()
        await asyncio.gather(prober(), *(client(n) for n in range(clients)))
        elapsed = time.monotonic() - started
        rss_end = rss()
    ordered = sorted(latencies)

    def at(q: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1) if ordered else None

    return {
        "clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies) + sum(errors.values()),
        "ok": len(latencies), "errors": errors, "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": at(50), "p95_ms": at(95), "p99_ms": at(99),
        "health_ok": health["ok"], "health_failed": health["failed"], "health_max_ms": health["max_ms"],
        "rss_start_mb": rss_start, "rss_end_mb": rss_end, "rss_every_10_probes_mb": samples,
        "rss_growth_mb": round(rss_end - rss_start, 1) if rss_start is not None and rss_end is not None else None,
    }


async def run(args: argparse.Namespace) -> dict:
    lines = (ROOT / "evals" / "questions.jsonl").read_text("utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    server, folder = None, tempfile.TemporaryDirectory(prefix="planqa-load-")
    url = args.url.rstrip("/") if args.url else f"http://127.0.0.1:{free_port()}"
    try:
        if not args.url:
            server = start_server(int(url.rsplit(":", 1)[1]), args.workers, Path(folder.name))
        async with httpx.AsyncClient(headers=headers) as http:
            ready_s = await wait_ready(http, url, args.ready_timeout, server)
            for question in questions[:3]:  # every worker loads its model lazily on its first questions
                await http.post(f"{url}/api/ask", json={"question": question}, timeout=120)
        print(f"server ready after {ready_s:.1f} s; {args.clients} clients for {args.seconds:.0f} s …", file=sys.stderr)

        def rss() -> float | None:
            return tree_rss_mb(server.pid) if server else None

        result = await load(url, questions, args.clients, args.seconds, headers, rss)
        return {"url": url, "workers": args.workers if server else None, "ready_s": round(ready_s, 1),
                "load_average": round(os.getloadavg()[0], 2), **result}
    finally:
        if server is not None:
            stop_server(server)
        folder.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="an already running server; default: start `planqa serve` on a free port")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--seconds", type=float, default=60, help="how long to load (default 60)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes when starting it here")
    parser.add_argument("--api-key", default=os.environ.get("PLANQA_LOAD_API_KEY"), help="X-API-Key to send")
    parser.add_argument("--ready-timeout", type=float, default=300, help="seconds to wait for /api/health")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        errors = ", ".join(f"{k}: {v}" for k, v in result["errors"].items()) or "none"
        print(
            f"{result['clients']} clients × {result['seconds']} s on {result['url']} "
            f"(workers {result['workers'] or '?'}, load average {result['load_average']}):\n"
            f"  {result['ok']} answered, {result['throughput_rps']} req/s; latency p50 {result['p50_ms']} ms, "
            f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms; errors: {errors}\n"
            f"  /api/health: {result['health_ok']} ok, {result['health_failed']} failed, slowest {result['health_max_ms']} ms\n"
            f"  server RSS: {result['rss_start_mb']} MB at start → {result['rss_end_mb']} MB at end "
            f"(growth {result['rss_growth_mb']} MB; every ~10 s: {result['rss_every_10_probes_mb']})"
        )
    ok = not result["errors"] and not result["health_failed"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
