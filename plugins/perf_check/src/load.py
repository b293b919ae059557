"""perf_check's load generator (L4): run by the plugin as `python3 -B - CONFIG_JSON`
with this script on stdin, in a scratch copy of the workspace.

Imports the generated ASGI app in-process and drives it with
httpx.AsyncClient(transport=httpx.ASGITransport(app=...)) -- no socket, so it
works where the sandbox allows no TCP -- after the app's lifespan startup (if
it has one). Sends `requests` GETs round-robin over `paths` with `concurrency`
workers (after one untimed warm-up request per path) and prints one JSON line:
{requests, errors, p50_ms, p95_ms, p99_ms, max_ms, mean_ms, duration_s,
 rps, endpoints: {path: {...}}, error_samples: [...]}.
Exit 3 with {"error": ...} when the app cannot be loaded.
"""
import asyncio
import importlib
import json
import math
import os
import sys
import time

cfg = json.loads(sys.argv[1])
sys.path.insert(0, os.getcwd())


def fail(message):
    print(json.dumps({"error": message}))
    sys.exit(3)


try:
    import httpx
except Exception as exc:  # noqa: BLE001
    fail(f"httpx is not importable by {sys.executable}: {exc}")

module_name, _, attr = cfg["app"].partition(":")
try:
    app = getattr(importlib.import_module(module_name), attr or "app")
except Exception as exc:  # noqa: BLE001
    fail(f"cannot load the app `{cfg['app']}`: {type(exc).__name__}: {exc}")


def pct(sorted_ms, q):
    """Nearest-rank percentile."""
    if not sorted_ms:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


def figures(samples, errors):
    ms = sorted(samples)
    return {
        "requests": len(ms),
        "errors": errors,
        "p50_ms": round(pct(ms, 50), 2),
        "p95_ms": round(pct(ms, 95), 2),
        "p99_ms": round(pct(ms, 99), 2),
        "max_ms": round(ms[-1], 2) if ms else 0.0,
        "mean_ms": round(sum(ms) / len(ms), 2) if ms else 0.0,
    }


class Lifespan:
    """The ASGI lifespan protocol, driven by hand (ASGITransport does not)."""

    def __init__(self, app):
        self.app = app
        self.inbox = asyncio.Queue()
        self.outbox = asyncio.Queue()
        self.task = None

    async def _run(self):
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        try:
            await self.app(scope, self.inbox.get, self.outbox.put)
        except Exception as exc:  # noqa: BLE001 - an app without lifespan support
            await self.outbox.put({"type": "unsupported", "message": repr(exc)})

    async def start(self):
        self.task = asyncio.create_task(self._run())
        await self.inbox.put({"type": "lifespan.startup"})
        msg = await asyncio.wait_for(self.outbox.get(), 30)
        if msg["type"] == "lifespan.startup.failed":
            fail(f"the app's lifespan startup failed: {msg.get('message', '')}")
        return msg["type"] == "lifespan.startup.complete"

    async def stop(self):
        await self.inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self.outbox.get(), 10)
        except asyncio.TimeoutError:
            pass


async def main():
    paths = cfg["paths"]
    total = int(cfg["requests"])
    concurrency = max(1, int(cfg["concurrency"]))
    lifespan = Lifespan(app)
    started = await lifespan.start()
    per_path = {p: [] for p in paths}
    errs = {p: 0 for p in paths}
    samples_err = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://perf-check.test") as client:
        for p in paths:
            try:
                await client.get(p)
            except Exception:  # noqa: BLE001 - counted below when timed
                pass
        queue = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(paths[i % len(paths)])

        async def worker():
            while True:
                try:
                    p = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                try:
                    r = await client.get(p)
                    status = r.status_code
                    what = f"HTTP {status}"
                except Exception as exc:  # noqa: BLE001
                    status = 0
                    what = f"{type(exc).__name__}: {exc}"
                per_path[p].append((time.perf_counter() - t0) * 1000)
                if not 200 <= status < 400:
                    errs[p] += 1
                    if len(samples_err) < 5:
                        samples_err.append(f"GET {p}: {what}")

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        duration = time.perf_counter() - t0
    if started:
        await lifespan.stop()
    everything = [ms for p in paths for ms in per_path[p]]
    result = figures(everything, sum(errs.values()))
    result.update({
        "concurrency": concurrency,
        "duration_s": round(duration, 3),
        "rps": round(len(everything) / duration, 1) if duration > 0 else 0.0,
        "lifespan": started,
        "endpoints": {p: figures(per_path[p], errs[p]) for p in paths},
        "error_samples": samples_err,
    })
    print(json.dumps(result))


asyncio.run(main())
