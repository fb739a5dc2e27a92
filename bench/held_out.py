"""What the benches of held-out prompts share (bench/sequences.py, bench/relations.py, bench/things.py):
their command line, the held-out scenes of one kind, and each exported pipeline's clips of a list of
scenes, scene i from seed i."""

import argparse
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from sora_core.tiny.pipeline import SoraTinyPipeline
from sora_core.video import to_uint8
from sora_core.world.scenes import Scene, held_out_scenes


def parse_args(doc: str, prompts: int,
               more_options: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The options every such bench takes, and those `more_options` adds for one of them."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="exported pipelines (folders)")
    parser.add_argument("--prompts", type=int, default=prompts)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    if more_options:
        more_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    return args


def scenes_of(kind: str, args: argparse.Namespace) -> list[Scene]:
    return held_out_scenes(random.Random(args.seed), args.prompts, lambda scene: scene.kind == kind)


def clips(args: argparse.Namespace, scenes: list[Scene]) -> Iterator[tuple[Path, SoraTinyPipeline, list[np.ndarray]]]:
    """For each of `args.models`: its folder, its pipeline, and its clip (uint8) of each scene."""
    for folder in args.models:
        pipe = SoraTinyPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)
        yield folder, pipe, [to_uint8(pipe(scene.caption, num_inference_steps=args.steps,
                                           generator=torch.Generator().manual_seed(i)).frames[0])
                             for i, scene in enumerate(scenes)]
