"""Whether a text encoder's word states say which named thing is where, for one or more exported
sora-tiny pipelines side by side.

Relation captions come in pairs one word apart ("a red ball above a blue cube" / "a red ball below a
blue cube"; "left of" / "right of"). A linear probe is fitted on the frozen states of the words that
name a thing (`word_places`, the place loss's targets) to read where each thing is, then scored on other
pairs: the share of captions whose two things it reads in the right order along the relation's axis.
An encoder blind to the sentence gives a word the same state in both captions of a pair: 50%.

    python bench/text_binding.py assets/sora-tiny runs/x/export [--pairs 400] [--steps 1500]
"""

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sora_core.tiny.model import PLACE_SIZE, TinyTextEncoder  # noqa: E402
from sora_core.tiny.pipeline import SoraTinyPipeline, encode_text  # noqa: E402
from sora_core.train import place_loss, word_places  # noqa: E402
from sora_core.world.scenes import Scene, relation, two_things  # noqa: E402

PAIRS = {"above": "below", "left of": "right of"}
AXIS = {"above": 1, "below": 1, "left of": 0, "right of": 0}  # y or x in `word_places`


def relation_pair(seed: int, rel: str) -> list[Scene]:
    """Two scenes of the same two things, with `rel` and its opposite; their captions differ only there."""
    scenes = []
    for r in (rel, PAIRS[rel]):
        rng = random.Random(seed)  # the same draws: the same things, wording and places but the relation
        things, core, facts = relation(rng, *two_things(rng), r)
        scenes.append(Scene("relation", "sky", "plain", things, core, facts))
    return scenes


def batch(seeds: range) -> tuple[list[str], torch.Tensor, torch.Tensor, list[int]]:
    """Captions, their `word_places` (places, named) and each caption's axis, for a pair per seed (the
    pairs alternate between the vertical and the horizontal relations)."""
    scenes = [s for seed in seeds for s in relation_pair(seed, list(PAIRS)[seed % 2])]
    places, named = (torch.from_numpy(np.stack(x)) for x in zip(*map(word_places, scenes), strict=True))
    return [s.caption for s in scenes], places, named, [AXIS[s.facts["relation"]] for s in scenes]


def read_in_order(read: torch.Tensor, places: torch.Tensor, named: torch.Tensor, axes: list[int]) -> float:
    """The share of captions whose two things `read` (B, L, PLACE_SIZE: a reading of `places` at each word) puts in
    the order `places` has them, along each caption's axis, read at the things' colour words."""
    right = []
    for row, (words, axis) in enumerate(zip(named, axes, strict=True)):
        a, b = torch.nonzero(words).flatten()[[0, 2]]  # each thing's colour word
        right.append(bool((read[row, a, axis] < read[row, b, axis]) == (places[row, a, axis] < places[row, b, axis])))
    return float(np.mean(right))


def probe(tokenizer, encoder: TinyTextEncoder, pairs: int, steps: int, seed: int = 0) -> float:
    """A linear probe on the frozen word states, fitted on `steps` batches of 16 pairs and scored on
    `pairs` others."""
    torch.manual_seed(seed)
    encoder = encoder.eval().requires_grad_(False)
    head = torch.nn.Linear(encoder.config.width, PLACE_SIZE).to(encoder.device)
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3)
    with torch.enable_grad():  # also when called under no_grad, as bench/recipe_sweep.py's scoring is
        for step in range(steps):
            captions, places, named, _ = batch(range(16 * step, 16 * step + 16))
            read = head(encode_text(tokenizer, encoder, captions)[0])[:, :, None]  # one guess
            loss = place_loss(read, None, places.to(encoder.device), named.to(encoder.device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    captions, places, named, axes = batch(range(10**6, 10**6 + pairs))  # seeds the fit never drew
    with torch.no_grad():
        read = head(encode_text(tokenizer, encoder, captions)[0]).cpu()
    return read_in_order(read, places, named, axes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="exported pipelines (folders)")
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for folder in args.models:
        pipe = SoraTinyPipeline.from_pretrained(folder)
        share = probe(pipe.tokenizer, pipe.text_encoder, args.pairs, args.steps)
        print(f"{folder}: the two things read in the relation's order in {share:.0%} of {2 * args.pairs} captions",
              flush=True)


if __name__ == "__main__":
    main()
