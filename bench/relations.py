"""Spatial relation in detail: on held-out "A left of / right of / above / below B" prompts, how often
the clip shows two things or one, and how often each is placed as asked, for one or more exported
sora-tiny pipelines side by side.

    python bench/relations.py assets/sora-tiny runs/x/export [--prompts 20] [--seed 5]

`bench quality`'s relation row reads the side from the two colours even where the two things ran
into one blob; this tells "draws one thing" from "draws two, on the wrong sides".
"""

import argparse
import random
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sora_core.tiny.pipeline import SoraTinyPipeline  # noqa: E402
from sora_core.video import to_uint8  # noqa: E402
from sora_core.world import render  # noqa: E402
from sora_core.world.scenes import held_out_scenes  # noqa: E402
from sora_core.world.score import as_shown, background, count_of, foreground, relation_of  # noqa: E402


def things_and_side(frames, scene) -> tuple[int, bool]:
    """How many things the clip shows, and whether the relation read from their colours is the one asked."""
    shown = as_shown(frames, scene)
    bg = background(shown)
    mask = foreground(frames, bg)
    return count_of(mask), relation_of(frames, mask, shown, bg) == scene.facts["relation"]


def summary(results: list[tuple[int, bool]]) -> str:
    one = [right for count, right in results if count < 2]
    two = [right for count, right in results if count >= 2]
    return (f"one thing drawn in {len(one)} (side right by colour {sum(one)}), two or more in {len(two)} "
            f"(placed as asked {sum(two)}); right in all {sum(one) + sum(two)} of {len(results)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="exported pipelines (folders)")
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(2)
    scenes = held_out_scenes(random.Random(args.seed), args.prompts, lambda scene: scene.kind == "relation")
    print(f"ground truth: {summary([things_and_side(render(scene, seed=i), scene) for i, scene in enumerate(scenes)])}")
    for folder in args.models:
        pipe = SoraTinyPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)
        results = []
        for i, scene in enumerate(scenes):
            frames = pipe(scene.caption, num_inference_steps=args.steps,
                          generator=torch.Generator().manual_seed(i)).frames[0]
            results.append(things_and_side(to_uint8(frames), scene))
        print(f"{folder}: {summary(results)}")


if __name__ == "__main__":
    main()
