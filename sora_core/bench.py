"""Evaluation of the built-in model on prompts it never saw.

    python -m sora_core.bench quality [--prompts 60] [--steps 20] [--out docs/quality]

Samples held-out scenes (their colour x object x motion triples never appear in training), makes
a clip from each caption with sora-tiny through the engine, and scores it from pixels against the
scene's ground truth (sora_core/world/score.py). The ground-truth renders go through the same
scorer as the ceiling. Extension is scored by the seam ratio: the change across the seam over the
median change inside the clip. Prints the table and writes it, with a contact sheet, to --out.
"""

import argparse
import random
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .engine import Done, Engine
from .request import parse_request
from .world import render, sample_scene
from .world.score import score, seam_ratio

METRICS = ["colour", "object", "motion", "relation", "count", "temporal order", "interaction", "style"]
TARGETS = {"interaction": 0.8}  # the others: 0.9


def contact_sheet(rows: list[tuple[str, np.ndarray]], path: Path, every: int = 2, scale: int = 2) -> None:
    """One row of frames per clip, its label under it."""
    strips = []
    for label, frames in rows:
        strip = np.concatenate(list(frames[::every]), axis=1).repeat(scale, 0).repeat(scale, 1)
        canvas = Image.new("RGB", (strip.shape[1], strip.shape[0] + 16), "white")
        canvas.paste(Image.fromarray(strip))
        ImageDraw.Draw(canvas).text((4, strip.shape[0] + 2), label[:150], fill="black")
        strips.append(np.asarray(canvas))
    width = max(s.shape[1] for s in strips)
    strips = [np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips]
    Image.fromarray(np.concatenate(strips)).save(path)


def quality(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    held_out = [sample_scene(rng, held_out=True) for _ in range(args.prompts)]
    truth, model = defaultdict(list), defaultdict(list)
    seams, truth_seams, sheet = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(library=Path(tmp))
        for i, scene in enumerate(held_out):
            real = render(scene, seed=i)
            for name, value in score(real, scene).items():
                truth[name].append(value)
            done = engine.start(parse_request(prompt=scene.caption, seed=i, steps=args.steps)).result()
            assert isinstance(done, Done), done
            for name, value in score(done.frames, scene).items():
                model[name].append(value)
            if i < args.extensions:  # continue the clip with its own prompt, score the seam
                longer = engine.start(parse_request(mode="extend", video=done.path, prompt=scene.caption, seed=i,
                                                    steps=args.steps)).result()
                assert isinstance(longer, Done), longer
                seams.append(seam_ratio(longer.frames, len(done.frames)))
                truth_seams.append(seam_ratio(np.concatenate([real, real[4:]]), len(real)))
            if i < args.sheet_rows:
                sheet.append((f"made:  {scene.caption}", done.frames))
                sheet.append(("truth: (the world's render)", real))

    lines = ["| metric | held-out prompts | sora-tiny | ground truth (ceiling) | target |", "|---|---|---|---|---|"]
    for name in METRICS:
        if model[name]:
            target = TARGETS.get(name, 0.9)
            lines.append(f"| {name} | {len(model[name])} | {np.mean(model[name]):.0%} | {np.mean(truth[name]):.0%} "
                         f"| {target:.0%} |")
    lines.append(f"| flicker (mean change of still background, 0-255) | {len(model['flicker'])} | "
                 f"{np.mean(model['flicker']):.2f} | {np.mean(truth['flicker']):.2f} | as low as the truth |")
    if seams:
        lines.append(f"| extension seam ratio (median) | {len(seams)} | {np.median(seams):.2f} | "
                     f"{np.median(truth_seams):.2f} | <= 1.5 |")
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.md").write_text(
        f"Command: `python -m sora_core.bench quality --prompts {args.prompts} --steps {args.steps}`\n\n{table}\n")
    contact_sheet(sheet, args.out / "contact-sheet.png")
    print(f"wrote {args.out / 'quality.md'} and {args.out / 'contact-sheet.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quality", help="score sora-tiny on held-out prompts")
    q.add_argument("--prompts", type=int, default=60)
    q.add_argument("--steps", type=int, default=20)
    q.add_argument("--extensions", type=int, default=10)
    q.add_argument("--sheet-rows", type=int, default=12)
    q.add_argument("--seed", type=int, default=12345)
    q.add_argument("--out", type=Path, default=Path("docs/quality"))
    args = parser.parse_args()
    if args.command == "quality":
        quality(args)


if __name__ == "__main__":
    main()
