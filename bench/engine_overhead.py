"""What the engine adds to a raw pipeline call: previews at every step, events, the worker thread.

    python bench/engine_overhead.py [--repeats 10]

For each model, in one run and with the same settings and seed: the raw pipeline call (no
callback) against the engine's denoising with live previews on, best of `--repeats`, and the
preview's own cost per step (the x0 estimate and the latent->RGB projection, timed inside the
callback). The full job, MP4 writing included, is printed too. Target: ratio <= 1.05.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sora_core import preview  # noqa: E402
from sora_core.backends import Window  # noqa: E402
from sora_core.engine import Done, Engine  # noqa: E402
from sora_core.request import parse_request  # noqa: E402
from tests.tiny_pipelines import tiny_registry  # noqa: E402

SETTINGS = {  # a size where a step costs something, so the ratio means something
    "sora-tiny": dict(frames=16, width=64, height=64, steps=20),
    "tiny-wan": dict(frames=33, width=64, height=64, steps=20),
    "tiny-ltx": dict(frames=33, width=64, height=64, steps=20),
}


def timed_preview_cost(backend, window: Window) -> list[float]:
    """Runs the window once, timing only the preview work inside each step."""
    costs = []
    real_estimate, real_project = preview.estimate_clean, preview.project

    def estimate(*args):
        start = time.perf_counter()
        out = real_estimate(*args)
        costs.append(time.perf_counter() - start)
        return out

    def project(*args, **kwargs):
        start = time.perf_counter()
        out = real_project(*args, **kwargs)
        costs[-1] += time.perf_counter() - start
        return out

    preview.estimate_clean, preview.project = estimate, project
    try:
        backend.run(window, lambda *_: True)
    finally:
        preview.estimate_clean, preview.project = real_estimate, real_project
    return costs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        registry = tiny_registry(Path(tmp), steps=20, window_frames=64)
        engine = Engine(registry=registry, library=Path(tmp) / "out")
        print(f"{'model':10} {'raw s':>8} {'engine s':>9} {'ratio':>6} {'step ms':>8} {'preview ms/step':>16} "
              f"{'preview %':>9} {'full job s':>10}")
        for model, s in SETTINGS.items():
            backend = engine.backend(model)
            window = Window("a red ball rolls to the right", "", s["frames"], s["width"], s["height"], 8,
                            s["steps"], 3.0, 0)
            pipe = backend.pipeline(extend=False)
            kwargs = dict(prompt=window.prompt, negative_prompt="", num_frames=window.frames, height=window.height,
                          width=window.width, num_inference_steps=window.steps, guidance_scale=3.0,
                          output_type="np") | backend.call_kwargs(pipe, window)
            backend.run(window, lambda *_: True)  # warm up: loading, the preview projection fit
            raw, ours = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                start = time.perf_counter()
                pipe(**kwargs, generator=torch.Generator().manual_seed(0))
                raw.append(time.perf_counter() - start)
                start = time.perf_counter()
                backend.run(window, lambda *_: True)
                ours.append(time.perf_counter() - start)
            costs = timed_preview_cost(backend, window)
            start = time.perf_counter()
            done = engine.start(parse_request(prompt=window.prompt, model=model, frames=s["frames"], width=s["width"],
                                              height=s["height"],
                                              steps=s["steps"], seed=0)).result()
            full = time.perf_counter() - start
            assert isinstance(done, Done), done
            step = min(raw) / s["steps"]
            cost = statistics.median(costs)
            print(f"{model:10} {min(raw):8.3f} {min(ours):9.3f} {min(ours) / min(raw):6.3f} {step * 1000:8.2f} "
                  f"{cost * 1000:16.3f} {100 * cost / step:8.2f}% {full:10.3f}")


if __name__ == "__main__":
    main()
