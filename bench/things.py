"""How many things the model draws, against how many the prompt asks for, on held-out prompts of each
kind whose things stay apart (one, two in a relation, one to three in a count), for one or more exported
sora-tiny pipelines side by side.

    python bench/things.py assets/sora-tiny runs/x/export [--prompts 40] [--seed 5]

A clip with a thing too many is read wrong on more than the count: `bench quality` reads a single
thing's colour, object and motion from everything unlike the background, so a second thing drawn beside
it skews all three. This tells those misses from a wrong shape or a wrong move.
"""

import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.held_out import clips, parse_args  # noqa: E402
from sora_core.world import render  # noqa: E402
from sora_core.world.scenes import Scene, held_out_scenes  # noqa: E402
from sora_core.world.score import as_shown, count_of  # noqa: E402

KINDS = ("single", "sequence", "relation", "count")  # an interaction's two things meet


def drawn(frames, scene: Scene) -> str:
    """"as asked", "fewer" or "more": the things the clip shows (`count_of`, on the background it shows
    where the caption names none) against the scene's."""
    shown = count_of(as_shown(frames, scene)[2])
    asked = len(scene.things)
    return "as asked" if shown == asked else "fewer" if shown < asked else "more"


def summary(scenes: list[Scene], readings: list[str]) -> str:
    parts = []
    for kind in KINDS:
        counts = Counter(r for r, scene in zip(readings, scenes, strict=True) if scene.kind == kind)
        parts.append(f"{kind} {counts['as asked']} of {counts.total()} "
                     f"(fewer {counts['fewer']}, more {counts['more']})")
    return "; ".join(parts)


def main() -> None:
    args = parse_args(__doc__, prompts=40)
    scenes = held_out_scenes(random.Random(args.seed), args.prompts, lambda s: s.kind in KINDS)
    print(f"ground truth, as many things as asked: "
          f"{summary(scenes, [drawn(render(scene, seed=i), scene) for i, scene in enumerate(scenes)])}")
    for folder, _, made in clips(args, scenes):
        print(f"{folder}: {summary(scenes, [drawn(f, scene) for f, scene in zip(made, scenes, strict=True)])}")


if __name__ == "__main__":
    main()
