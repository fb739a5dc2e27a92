"""Object kind in detail: on held-out prompts of one thing (single motions and sequences), which kind
each clip is read as, per kind asked, for the truth through each exported pipeline's autoencoder and
for the pipeline's own clips, side by side.

    python bench/objects.py assets/sora-tiny runs/x/export [--prompts 80] [--seed 777]

`bench quality` asks the object of about 25 of its 60 prompts, five or so of each kind, too few to
say which kind fails. Here the autoencoder's row is what the model could show at best (perfect
latents): where it reads a kind right and the clips do not, the video model draws the shape wrong;
where both miss, the latents cannot hold it.
"""

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.held_out import clips, parse_args  # noqa: E402
from sora_core.bench import misses_table, through_autoencoder  # noqa: E402
from sora_core.world import render  # noqa: E402
from sora_core.world.scenes import Scene, held_out_scenes  # noqa: E402
from sora_core.world.score import QUESTIONS, seen  # noqa: E402


def kind_read(frames, scene: Scene) -> tuple[str, str]:
    """The kind asked and the kind the clip is read as (against the background it shows where the
    caption names none, as `bench quality` reads it)."""
    return scene.facts["object"], seen(frames, scene, only=["object"])["object"]


def main() -> None:
    args = parse_args(__doc__, prompts=80)
    scenes = held_out_scenes(random.Random(args.seed), args.prompts, lambda s: "object" in QUESTIONS[s.kind])
    truths = [render(scene, seed=i) for i, scene in enumerate(scenes)]
    print(f"--prompts {args.prompts} --seed {args.seed}\n\nground truth:\n"
          + misses_table({"object": [kind_read(real, scene) for real, scene in zip(truths, scenes, strict=True)]}))
    for folder, pipe, made in clips(args, scenes):
        through = [kind_read(through_autoencoder(pipe, real, scene.caption), scene)
                   for real, scene in zip(truths, scenes, strict=True)]
        drawn = [kind_read(frames, scene) for frames, scene in zip(made, scenes, strict=True)]
        print(f"\n{folder}, the truth through its autoencoder:\n{misses_table({'object': through})}"
              f"\n\n{folder}, its clips:\n{misses_table({'object': drawn})}")


if __name__ == "__main__":
    main()
