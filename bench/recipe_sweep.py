"""Trains several sora-tiny recipes side by side on one machine (a GPU, when there is one) for the
same number of steps, then scores each on held-out prompts and on motion carried on (extension).

    python bench/recipe_sweep.py --device cuda --train-seconds 330 --out OUT [--recipes a,b]

Every recipe shares the pool (the clips `python -m sora_core.train` renders, made here with every
core) and the frame autoencoder of the committed checkpoint, or of `--autoencoder` (a new first
stage: then only recipes from scratch can train on its latents); a recipe starts from scratch (with
the high-noise shift from the first step) or from that checkpoint. Each runs in a
process of its own; after 100 steps they all agree on one step count that ends the training inside
--train-seconds. The scores call the pipeline directly (the same prompts and seeds as the first
--prompts of `python -m sora_core.bench quality`, and its continuations), so no video is written.
`shipped` scores the weights in assets/sora-tiny as they are, the reference on the same machine (on
2026-11-26 those were the step-14,000 weights, named `ref-14k` in that day's results). Since session 30
the checkpoint is the shipped weights' own (step 46,000) and a recipe from it is the shipped recipe
(assets/sora-tiny/training.json) with a warm restart there and its changes. Writes results.json,
sweep.log (all the logs) and each trained recipe's exported pipeline (<name>/); bench/device_sweep.sh
runs it on a lent GPU and packs those for the trip back.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import text_binding  # noqa: E402
from bench.things import KINDS as COUNTED_KINDS  # noqa: E402
from bench.things import drawn  # noqa: E402
from sora_core.tiny.model import TinyFrameAutoencoder  # noqa: E402
from sora_core.tiny.pipeline import SoraTinyPipeline  # noqa: E402
from sora_core.train import TrainConfig, encode_pool, render_pool, train  # noqa: E402
from sora_core.video import to_uint8  # noqa: E402
from sora_core.world import evaluation_scenes, render  # noqa: E402
from sora_core.world.score import carries_on, score  # noqa: E402

CHECKPOINT = ROOT / "train_state/sora-tiny-step46000.pt"  # the shipped weights' own checkpoint
# the recipe that made it (the shipped training.json): a recipe from the checkpoint changes only what it names
SHIPPED = json.loads((ROOT / "assets/sora-tiny/training.json").read_text())
CHECKPOINT_STEP = SHIPPED["step"]
SHIPPED_SHARES = SHIPPED["config"]["draw_weights"]  # sequences and relations drawn 3x
# name -> (start from the committed checkpoint?, TrainConfig changes); None: score the shipped weights.
# Add a recipe here to try it; the ones below are docs/TRAINING.md's "What the next run should try". At batch 8
# a GPU waits for Python, so every recipe trains at 64 (8 times the clips a step, for little more time).
RECIPES = {
    "shipped": (True, None),
    # the shipped stage's recipe, on: the control every other recipe from the checkpoint is judged against
    "more-batch64": (True, {"batch": 64}),
    # temporal order (item 4): sequences drawn 6x (on a CPU, 3,000 steps of it gained sequences, cost the rest)
    "sequences6-batch64": (True, {"batch": 64, "draw_weights": SHIPPED_SHARES | {"sequence": 6.0}}),
    # temporal order (item 4): a map of 16 keyframes painted for sequences too, the head reading each clause (on a
    # CPU, 6,000 steps of it left the U-Net following a sequence's map by 2 of 80 held-out sequences: session 31)
    "sequence-map-batch64": (True, {"batch": 64, "layout_keyframes": 16, "place_clauses": True,
                                    "layout_sequences": True}),
    # interaction (item 9): drawn 3x, as relation was in the shipped stage
    "interactions3-batch64": (True, {"batch": 64, "draw_weights": SHIPPED_SHARES | {"interaction": 3.0}}),
    # the loss without the weight on the things' boxes (train.py's --box-weight, shipped at 3 from session 36; item 6):
    # does it still help at batch 64?
    "no-boxes-batch64": (True, {"batch": 64, "box_weight": 0.0}),
    # the pool never runs out (item 2): 16 new clips a step, rendered while the GPU trains (train.py's --refresh)
    "fresh-clips-batch64": (True, {"batch": 64, "refresh": 16, "refresh_from": CHECKPOINT_STEP}),
    # the whole network of the shipped weights from scratch, for a new autoencoder (item 1: --autoencoder), without
    # and with the layout
    "scratch-full-batch64": (False, {"temporal_attention": True, "carry_condition": True, "clause_attention": True,
                                     "clause_film": True, "draw_weights": SHIPPED_SHARES, "batch": 64}),
    "scratch-full-layout-batch64": (False, {"temporal_attention": True, "carry_condition": True,
                                            "clause_attention": True, "clause_film": True, "layout_channels": 8,
                                            "layout_guesses": 4, "place_width": 256, "layout_as_pipeline": True,
                                            "draw_weights": SHIPPED_SHARES, "batch": 64}),
}


@torch.no_grad()
def make_pool(work: Path, device: str, cfg: TrainConfig, autoencoder: Path) -> Path:
    """Renders and encodes the training pool once, with the autoencoder of the checkpoint `autoencoder`."""
    path = work / "pool_latents.pt"
    frames, captions = render_pool(cfg, processes=os.cpu_count())
    state = torch.load(autoencoder, map_location="cpu", weights_only=False)
    ae = TinyFrameAutoencoder(**state["ae_config"])
    ae.load_state_dict(state["ae"])
    ae.to(device).eval()
    torch.save({"latents": encode_pool(ae, frames), "captions": captions}, path)
    torch.save({"ae": state["ae"], "ae_config": state["ae_config"]}, work / "autoencoder-only.pt")
    return path


@torch.no_grad()
def evaluate(pipe: SoraTinyPipeline, prompts: int, continuations: int, seed: int = 12345) -> dict:
    """The first `prompts` held-out prompts of `bench quality` and its continuations, same seeds; per
    kind, how often a clip shows as many things as asked (bench/things.py); and whether the text
    encoder says which named thing is where (bench/text_binding.py)."""
    pipe.set_progress_bar_config(disable=True)
    results: dict[str, list] = {}
    held_out, extended = evaluation_scenes(seed, prompts, continuations)
    for i, scene in enumerate(held_out):
        clip = to_uint8(pipe(scene.caption, generator=torch.Generator().manual_seed(i)).frames[0])
        for name, value in score(clip, scene).items():
            results.setdefault(name, []).append(float(value))
        if scene.kind in COUNTED_KINDS:
            results.setdefault(f"things as asked ({scene.kind})", []).append(float(drawn(clip, scene) == "as asked"))
    for i, scene in enumerate(extended):
        real = render(scene, seed=i)
        frames = pipe(scene.caption, condition_frames=real[:4].astype(np.float32) / 255,
                      generator=torch.Generator().manual_seed(i)).frames[0]
        results.setdefault("motion carried on (extension)", []).append(float(carries_on(to_uint8(frames), scene, 4)))
    scores = {name: [float(np.mean(v)), len(v)] for name, v in results.items()}
    scores["text: two things read in the relation's order (bench/text_binding.py)"] = [
        text_binding.probe(pipe.tokenizer, pipe.text_encoder, pairs=400, steps=1500), 800]
    return scores


def run_recipe(name: str, work: Path, args: argparse.Namespace) -> None:
    """One recipe, in its own process: probe, wait for the agreed step count, train, score, save."""
    sys.stdout = sys.stderr = open(work / f"{name}.log", "w", buffering=1)
    torch.set_num_threads(args.threads)
    from_checkpoint, changes = RECIPES[name]
    run, out = work / name, work / name / "export"
    if changes is None:  # the reference: the shipped weights as they are
        shipped = ROOT / "assets/sora-tiny"
        step = json.loads((shipped / "training.json").read_text())["step"]
        pipe = SoraTinyPipeline.from_pretrained(shipped).to(args.device)
        (work / f"{name}.json").write_text(json.dumps({"steps": step, "scores": evaluate(
            pipe, args.prompts, args.continuations)}))
        return
    run.mkdir(parents=True, exist_ok=True)
    (run / "pool_latents.pt").symlink_to(work / "pool_latents.pt")
    if from_checkpoint:  # the shipped recipe with a warm restart where it stopped; the head is fitted after
        shipped = SHIPPED["config"] | {"restarts": (*SHIPPED["config"]["restarts"], CHECKPOINT_STEP), "place_steps": 0}
        cfg, start = TrainConfig(**shipped), CHECKPOINT_STEP
    else:
        cfg, start = TrainConfig(restarts=(), high_noise_from=0), 0
    cfg = replace(cfg, checkpoint_every=10**9, threads=args.threads, pool_clips=args.pool_clips, **changes)
    resume = CHECKPOINT if from_checkpoint else work / "autoencoder-only.pt"
    tick = time.time()
    train(replace(cfg, steps=start + args.probe_steps), run, out, resume, device=args.device)
    (work / f"{name}.probe").write_text(str(time.time() - tick))
    while not (work / "go").exists():
        time.sleep(0.5)
    steps = start + args.probe_steps + int((work / "go").read_text())
    train(replace(cfg, steps=steps), run, out, device=args.device)
    if cfg.layout_channels:  # the head fitted alone on the trained text encoder, as the shipped one was
        train(replace(cfg, steps=steps, place_steps=args.place_steps, place_batch=128, place_context=True), run, out,
              device=args.device)
    # the exported pipeline (EMA weights, float32, each file under 16 MB) before the scoring, so a
    # time limit that stops the scoring still leaves the weights
    shutil.copytree(out, args.out / name, dirs_exist_ok=True)
    pipe = SoraTinyPipeline.from_pretrained(out).to(args.device)
    scores = evaluate(pipe, args.prompts, args.continuations)
    (work / f"{name}.json").write_text(json.dumps({"steps": steps, "scores": scores, "config": changes}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--train-seconds", type=float, default=330, help="from the recipes' start to their last step")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--continuations", type=int, default=20)
    parser.add_argument("--probe-steps", type=int, default=100, help="steps that time a recipe (<= warm-up)")
    parser.add_argument("--eval-seconds", type=float, default=150, help="after training, before giving up")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per recipe")
    parser.add_argument("--place-steps", type=int, default=3000,
                        help="a layout recipe's head fitted alone after its stage, as the shipped one was")
    parser.add_argument("--pool-clips", type=int, default=12000,
                        help="the shipped stage's pool; fewer for a smoke test")
    parser.add_argument("--autoencoder", type=Path, default=CHECKPOINT,
                        help="a checkpoint whose autoencoder makes the latents (a new one: recipes from scratch only)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/recipe-sweep"))
    parser.add_argument("--out", type=Path, default=Path("runs/recipe-sweep"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.recipes.split(",")
    if args.autoencoder.resolve() != CHECKPOINT and any(RECIPES[n][0] and RECIPES[n][1] is not None for n in names):
        parser.error(f"recipes from the checkpoint train on its autoencoder's latents, not {args.autoencoder}'s")
    started = time.time()
    make_pool(args.work, args.device, TrainConfig(pool_clips=args.pool_clips), args.autoencoder)
    print(f"pool ready in {time.time() - started:.0f} s", flush=True)

    begun = time.time()
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=run_recipe, args=(name, args.work, args)) for name in names]
    for worker in workers:
        worker.start()
    trained = [n for n in names if RECIPES[n][1] is not None]
    while not all((args.work / f"{n}.probe").exists() for n in trained):
        if not all(w.is_alive() or w.exitcode == 0 for w in workers):
            break
        time.sleep(0.5)
    probes = [float((args.work / f"{n}.probe").read_text()) for n in trained if (args.work / f"{n}.probe").exists()]
    per_step = max(probes) / args.probe_steps if probes else 1.0
    steps = max(0, int((args.train_seconds - (time.time() - begun)) / per_step) // 50 * 50)
    print(f"probe: {max(probes, default=0):.1f} s per {args.probe_steps} steps at worst; training {steps} more steps",
          flush=True)
    (args.work / "go").write_text(str(steps))
    deadline = begun + args.train_seconds + args.eval_seconds
    for worker in workers:
        worker.join(timeout=max(1.0, deadline - time.time()))
        if worker.is_alive():
            worker.terminate()

    results = {}
    with open(args.out / "sweep.log", "w") as log:
        for name in names:
            log.write(f"===== {name} (exit {workers[names.index(name)].exitcode})\n")
            log.write((args.work / f"{name}.log").read_text())
            path = args.work / f"{name}.json"
            results[name] = json.loads(path.read_text()) if path.exists() else None
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    metrics = sorted({m for r in results.values() if r for m in r["scores"]})
    print("| recipe | steps | " + " | ".join(metrics) + " |")
    for name, r in results.items():
        cells = [("-" if not r or m not in r["scores"] else f"{r['scores'][m][0]:.2f}" if m == "flicker"
                  else f"{r['scores'][m][0]:.0%}") for m in metrics]
        print(f"| {name} | {r['steps'] if r else 'failed'} | " + " | ".join(cells) + " |")
    print(f"total {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
