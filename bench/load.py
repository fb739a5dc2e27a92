"""Load on one studio: N concurrent gradio_client clients, each sending R requests in turn.

    python bench/load.py [--clients 8] [--requests 3] [--steps 4] [--rounds 3]

Starts the studio in a process of its own (built-in model, a temporary library), then sends the same
load `--rounds` times and prints, for the first round, throughput, p50/p95 wait (submit -> first
progress) and p50/p95 total time; and the server's resident memory before, at peak and after each
round: a leak shows as memory that grows round after round. Every result is checked against the
client that asked for it.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradio_client import Client  # noqa: E402

from sora_core import video  # noqa: E402


@dataclass
class LoadResult:
    ok: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    submitted: list[tuple[float, int]] = field(default_factory=list)  # (time, seed)
    wall: float = 0.0


def run_load(url: str, clients: int, requests: int, steps: int) -> LoadResult:
    result, lock = LoadResult(), threading.Lock()

    def one_client(index: int) -> None:
        client = Client(url, verbose=False, download_files=False)
        for r in range(requests):
            seed = 1000 * index + r
            sent = time.monotonic()
            with lock:
                result.submitted.append((sent, seed))
            job = client.submit(prompt=f"a red ball jumps {seed}", steps=steps, random_seed=False, seed=seed,
                                api_name="/generate")
            first = None
            try:
                for output in job:
                    if first is None and "step" in str(output[1]):
                        first = time.monotonic()
                final = job.outputs()[-1]
                clip = final[3]["video"]["path"] if isinstance(final[3].get("video"), dict) else final[3]["path"]
                settings = video.read_metadata(clip)
            except Exception as err:  # noqa: BLE001 - counted and reported
                with lock:
                    result.errors.append(f"client {index} request {r}: {err}")
                continue
            with lock:
                if settings.get("seed") == seed and settings.get("prompt") == f"a red ball jumps {seed}":
                    result.ok += 1
                else:
                    result.wrong.append(f"client {index} asked seed {seed}, got {settings.get('seed')}")
                result.waits.append((first or time.monotonic()) - sent)
                result.totals.append(time.monotonic() - sent)

    started = time.monotonic()
    threads = [threading.Thread(target=one_client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    result.wall = time.monotonic() - started
    return result


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


@contextmanager
def served_studio(library: Path) -> Iterator[tuple[str, psutil.Process]]:
    """The studio started as a user starts it (`python studio.py`), in a process of its own, so the
    memory measured is the server's alone and not the clients'."""
    from studio import free_port

    port = free_port()
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([sys.executable, "studio.py", "--port", str(port), "--outputs", str(library)],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"the studio did not start:\n{log.read().decode(errors='replace')[-3000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url, psutil.Process(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, served_studio(Path(tmp)) as (url, server):
        run_load(url, 1, 1, args.steps)  # warm up: model load
        before = server.memory_info().rss
        peak = [before]
        stop = threading.Event()
        threading.Thread(target=lambda: [peak.append(server.memory_info().rss) or time.sleep(0.2)
                                         for _ in iter(stop.is_set, True)], daemon=True).start()
        rounds, after = [], []
        for _ in range(args.rounds):
            rounds.append(run_load(url, args.clients, args.requests, args.steps))
            time.sleep(1)
            after.append(server.memory_info().rss)
        stop.set()
    result, total = rounds[0], args.clients * args.requests
    print(f"requests: {total} a round, completed right: {[r.ok for r in rounds]}, "
          f"wrong client: {sum(len(r.wrong) for r in rounds)}, errors: {sum(len(r.errors) for r in rounds)}")
    print(f"round 1: wall {result.wall:.1f} s, throughput {result.ok / result.wall:.2f} clips/s")
    for name, values in (("wait to first preview", result.waits), ("total per request", result.totals)):
        print(f"{name:22} p50 {percentile(values, 50):.2f} s, p95 {percentile(values, 95):.2f} s")
    print(f"memory (RSS): before {before / 2**20:.0f} MB, peak {max(peak) / 2**20:.0f} MB, after each round "
          + ", ".join(f"{rss / 2**20:.0f}" for rss in after) + " MB")
    for line in [line for r in rounds for line in r.wrong + r.errors]:
        print(line)


if __name__ == "__main__":
    main()
