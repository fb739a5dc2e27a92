"""Spatial relation in detail: on held-out "A left of / right of / above / below B" prompts, how often
the clip shows two things or one, and how often each is placed as asked, for one or more exported
sora-tiny pipelines side by side.

    python bench/relations.py assets/sora-tiny runs/x/export [--prompts 20] [--seed 5]

`bench quality`'s relation row reads the side from the two colours even where the two things ran
into one blob; this tells "draws one thing" from "draws two, on the wrong sides".
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.held_out import clips, parse_args, scenes_of  # noqa: E402
from sora_core.world import render  # noqa: E402
from sora_core.world.score import as_shown, count_of, relation_of  # noqa: E402


def things_and_side(frames, scene) -> tuple[int, bool]:
    """How many things the clip shows, and whether the relation read from their colours is the one asked."""
    shown, bg, mask = as_shown(frames, scene)
    return count_of(mask), relation_of(frames, mask, shown, bg) == scene.facts["relation"]


def summary(results: list[tuple[int, bool]]) -> str:
    one = [right for count, right in results if count < 2]
    two = [right for count, right in results if count >= 2]
    return (f"one thing drawn in {len(one)} (side right by colour {sum(one)}), two or more in {len(two)} "
            f"(placed as asked {sum(two)}); right in all {sum(one) + sum(two)} of {len(results)}")


def main() -> None:
    args = parse_args(__doc__, prompts=20)
    scenes = scenes_of("relation", args)
    print(f"ground truth: {summary([things_and_side(render(scene, seed=i), scene) for i, scene in enumerate(scenes)])}")
    for folder, _, made in clips(args, scenes):
        print(f"{folder}: {summary([things_and_side(f, scene) for f, scene in zip(made, scenes, strict=True)])}")


if __name__ == "__main__":
    main()
