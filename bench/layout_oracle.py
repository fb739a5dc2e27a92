"""Does a U-Net with a layout follow it? Held-out relation and interaction prompts, each sampled twice
for every exported sora-tiny pipeline given (`train --layout`): with the places its head reads from the
text, and with the world's truth of the scene painted instead (an oracle layout). Where the truth scores
high and the head low, the U-Net reads the map and the head is what to mend.

    python bench/layout_oracle.py runs/x/export [--prompts 12] [--seed 5]
"""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.held_out import parse_args, scenes_of  # noqa: E402
from sora_core.tiny.pipeline import SoraTinyPipeline  # noqa: E402
from sora_core.train import word_places  # noqa: E402
from sora_core.video import to_uint8  # noqa: E402
from sora_core.world.score import score  # noqa: E402


class TruthHead(torch.nn.Module):
    """Stands in for the place head: the truth's places for the prompt (as every guess of a head with
    several), none for the negative prompt."""

    def __init__(self, places: torch.Tensor, guesses: int = 1):
        super().__init__()
        self.places, self.guesses = places, guesses

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.zeros_like(self.places), self.places]).repeat(1, 1, self.guesses).to(tokens)


def main() -> None:
    args = parse_args(__doc__, prompts=12)
    for folder in args.models:
        pipe = SoraTinyPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)
        if not pipe.unet.config.layout_channels:
            sys.exit(f"{folder}: this U-Net has no layout (train it with --layout)")
        head = pipe.unet.place_head
        for kind in ("relation", "interaction"):
            scenes = scenes_of(kind, args)
            right = {"head": 0, "truth": 0}
            for i, scene in enumerate(scenes):
                truth = TruthHead(torch.from_numpy(word_places(scene)[0]), pipe.unet.config.layout_guesses)
                for source in right:
                    pipe.unet.place_head = head if source == "head" else truth
                    frames = pipe(scene.caption, num_inference_steps=args.steps,
                                  generator=torch.Generator().manual_seed(i)).frames[0]
                    right[source] += bool(score(to_uint8(frames), scene)[kind])
            print(f"{folder}: {kind} right with the head's layout {right['head']} of {len(scenes)}, "
                  f"with the truth's {right['truth']}", flush=True)


if __name__ == "__main__":
    main()
