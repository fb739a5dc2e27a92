"""Object kind (or colour, or motion) in detail: on held-out prompts that ask it, what each clip is read
as, per answer asked, for the truth through each exported pipeline's autoencoder and for the
pipeline's own clips, side by side.

    python bench/objects.py assets/sora-tiny runs/x/export [--prompts 80] [--seed 777] [--question motion]

`bench quality` asks the object of about 25 of its 60 prompts (the motion of 17), five or so of each
answer, too few to say which one fails. Here the autoencoder's row is what the model could show at best (perfect
latents): where it reads a kind right and the clips do not, the video model draws the shape wrong;
where both miss, the latents cannot hold it. The object and the colour are asked of one-thing scenes
(single motions and sequences), the motion of single motions alone.
"""

import argparse
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


def asked_and_read(frames, scene: Scene, question: str) -> tuple[str, str]:
    """The answer asked and the one the clip is read as (against the background it shows where the
    caption names none, as `bench quality` reads it)."""
    return scene.facts[question], seen(frames, scene, only=[question])[question]


def question_option(parser: argparse.ArgumentParser) -> None:
    # what a single motion's clip is asked (the world's own list): a one-thing question
    parser.add_argument("--question", choices=QUESTIONS["single"], default="object")


def main() -> None:
    args = parse_args(__doc__, prompts=80, more_options=question_option)
    question = args.question
    scenes = held_out_scenes(random.Random(args.seed), args.prompts, lambda s: question in QUESTIONS[s.kind])
    truths = [render(scene, seed=i) for i, scene in enumerate(scenes)]

    def table(readings: list[tuple[str, str]]) -> str:
        return misses_table({question: readings})

    print(f"--prompts {args.prompts} --seed {args.seed} --question {question}\n\nground truth:\n"
          + table([asked_and_read(real, scene, question) for real, scene in zip(truths, scenes, strict=True)]))
    for folder, pipe, made in clips(args, scenes):
        through = [asked_and_read(through_autoencoder(pipe, real, scene.caption), scene, question)
                   for real, scene in zip(truths, scenes, strict=True)]
        drawn = [asked_and_read(frames, scene, question) for frames, scene in zip(made, scenes, strict=True)]
        print(f"\n{folder}, the truth through its autoencoder:\n{table(through)}"
              f"\n\n{folder}, its clips:\n{table(drawn)}")


if __name__ == "__main__":
    main()
