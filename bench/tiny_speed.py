"""sora-tiny on this CPU: one 16-frame clip at default settings, through the engine.

    python bench/tiny_speed.py [--runs 5]

Prints, per run, the time to the first preview and to the finished clip (MP4 written), then the
best and median, and the process's peak resident memory (this process does nothing else).
Targets: clip <= 5 s, first preview <= 1 s, peak memory < 1 GB.
"""

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from sora_core.engine import Done, Engine, Progress  # noqa: E402
from sora_core.request import parse_request  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    firsts, totals = [], []
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(library=Path(tmp))
        start = time.perf_counter()
        engine.backend("sora-tiny").pipeline(extend=False)
        print(f"model load: {time.perf_counter() - start:.2f} s")
        for run in range(args.runs):
            start, first = time.perf_counter(), None
            for event in engine.start(parse_request(prompt="a red ball rolls to the right", seed=run)):
                if isinstance(event, Progress) and first is None:
                    first = time.perf_counter() - start
                if isinstance(event, Done):
                    totals.append(time.perf_counter() - start)
                    steps, frames = event.settings["steps"], len(event.frames)
            firsts.append(first)
            print(f"run {run}: first preview {first:.3f} s, clip {totals[-1]:.3f} s ({frames} frames, {steps} steps)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"first preview: best {min(firsts):.3f} s, median {statistics.median(firsts):.3f} s (target <= 1 s)")
    print(f"16-frame clip: best {min(totals):.3f} s, median {statistics.median(totals):.3f} s (target <= 5 s)")
    print(f"peak memory: {peak_mb:.0f} MB (target < 1024 MB)")


if __name__ == "__main__":
    main()
