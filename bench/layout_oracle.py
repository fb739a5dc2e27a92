"""Does a U-Net with a layout follow it, and does its head read a right one? Held-out relation
and interaction prompts for every exported sora-tiny pipeline given (`train --layout`): each
sampled with the places its head reads from the text and with the world's truth of the scene painted
instead (an oracle layout), and the head's layouts (several draws of its guesses) rendered by the world
itself, the scene's things moved where the head puts them. Where the truth scores high and the head low,
the U-Net reads the map and the head is what to mend; where the head's layouts score high through the
world and low through the U-Net, the U-Net does not follow them.

    python bench/layout_oracle.py runs/x/export [--prompts 12] [--seed 5] [--draws 8]
    python bench/layout_oracle.py runs/x/export --prompts 60 --steps 0   # the head's layouts alone, no clips
    python bench/layout_oracle.py runs/x/export --prompts 30 --seed 9 --kind relation --head-only

`--head-only` samples each prompt once, as the studio does (the head's layout), not again with the truth's:
the rows of a stage to compare with the shipped one's, in half the time.
"""

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.held_out import parse_args, scenes_of  # noqa: E402
from sora_core.tiny.pipeline import SoraTinyPipeline, encode_text  # noqa: E402
from sora_core.tiny.tokenizer import named_colours  # noqa: E402
from sora_core.train import word_places  # noqa: E402
from sora_core.video import to_uint8  # noqa: E402
from sora_core.world import SIZE, render  # noqa: E402
from sora_core.world.scenes import FRAMES, RADIUS, Scene  # noqa: E402
from sora_core.world.score import score  # noqa: E402


class TruthHead(torch.nn.Module):
    """Stands in for the place head: the truth's places for the prompt (as every guess of a head with
    several), none for the negative prompt."""

    def __init__(self, places: torch.Tensor, guesses: int = 1):
        super().__init__()
        self.places, self.guesses = places, guesses

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.zeros_like(self.places), self.places]).repeat(1, 1, self.guesses).to(tokens)


def scene_at(scene: Scene, places: np.ndarray) -> Scene:
    """The scene with each thing a word names moved where `places` (MAX_TOKENS, 3 * keyframes) puts that word's
    thing: the keyframes interpolated frame by frame, as `layout_map` paints them (the inverse of
    `word_places`; where two words name one thing, the later one's places win)."""
    keyframes = places.shape[-1] // 3
    frames, keys = np.arange(FRAMES), np.linspace(0, FRAMES - 1, keyframes)
    things = list(scene.things)
    for i, colour in named_colours(scene.caption).items():
        place = places[i].reshape(keyframes, 3) * (SIZE / 2) + [SIZE / 2, SIZE / 2, 0]
        x, y, radius = (np.interp(frames, keys, place[:, k]) for k in range(3))
        things = [replace(t, x=x, y=y, scale=np.maximum(radius / RADIUS, 0.2)) if t.colour == colour else t
                  for t in things]
    return replace(scene, things=things)


# the kinds it samples, each also the scorer's question for it; the pipeline paints no layout for a sequence
# (`layout_fits`)
KINDS = ("relation", "interaction")


def answered(frames, scene: Scene, kind: str) -> bool:
    """Whether `frames` show the scene's `kind` (relation or interaction) as its caption asks; only that is read."""
    return bool(score(frames, scene, only=[kind])[kind])


def drawn_by_the_world(pipe: SoraTinyPipeline, scene: Scene, kind: str, draws: int) -> int:
    """How many of `draws` layouts the head reads for the scene's caption, rendered by the world, score right."""
    with torch.no_grad():
        tokens, mask, pooled, clauses = encode_text(pipe.tokenizer, pipe.text_encoder, [scene.caption] * draws)
        places = pipe.unet.read_places(tokens, pooled, torch.Generator().manual_seed(0), mask, clauses).numpy()
    return sum(answered(render(scene_at(scene, p), seed=0), scene, kind) for p in places)


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--draws", type=int, default=8, help="layouts drawn from the head per prompt")
    parser.add_argument("--kind", choices=KINDS, action="append", help="only this kind (repeatable; default both)")
    parser.add_argument("--head-only", action="store_true", help="sample with the head's layout only, not the truth's")


def main() -> None:
    args = parse_args(__doc__, prompts=12, more_options=options)
    for folder in args.models:
        pipe = SoraTinyPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)
        if not pipe.unet.config.layout_channels:
            sys.exit(f"{folder}: this U-Net has no layout (train it with --layout)")
        head = pipe.unet.place_head
        for kind in args.kind or KINDS:
            scenes = scenes_of(kind, args)
            right, drawn = {"head": 0} if args.head_only else {"head": 0, "truth": 0}, 0
            for i, scene in enumerate(scenes):
                pipe.unet.place_head = head
                drawn += drawn_by_the_world(pipe, scene, kind, args.draws)
                if not args.steps:  # no clips sampled
                    continue
                for source in right:
                    pipe.unet.place_head = head if source == "head" else TruthHead(
                        torch.from_numpy(word_places(scene, pipe.unet.config.layout_keyframes)[0]),
                        pipe.unet.config.layout_guesses)
                    frames = pipe(scene.caption, num_inference_steps=args.steps,
                                  generator=torch.Generator().manual_seed(i)).frames[0]
                    right[source] += answered(to_uint8(frames), scene, kind)
            with_truth = "" if args.head_only else f", with the truth's {right['truth']}"
            sampled = (f"right with the head's layout {right['head']} of {len(scenes)}{with_truth}; "
                       if args.steps else "")
            print(f"{folder}: {kind} {sampled}the head's layouts rendered by the world {drawn} of "
                  f"{len(scenes) * args.draws}", flush=True)


if __name__ == "__main__":
    main()
