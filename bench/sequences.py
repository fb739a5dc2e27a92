"""Temporal order in detail: on held-out "A, then B" prompts, how often each half of the clip shows
its own motion, for one or more exported sora-tiny pipelines side by side.

    python bench/sequences.py assets/sora-tiny runs/s7/export [--prompts 24] [--seed 5]

`bench quality` scores a sequence as right only when both halves are, over the few sequences among
its prompts; this looks at many of them and at each half, which tells "cannot make the motion in
eight frames" from "makes the motions in the wrong halves". For a network with clause attention it
also prints how much more the first and the last frames listen to the second clause than to the first
(the learned bias, in attention logits, averaged over heads).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.held_out import clips, parse_args, scenes_of  # noqa: E402
from sora_core.tiny.pipeline import SoraTinyPipeline  # noqa: E402
from sora_core.world import render  # noqa: E402
from sora_core.world.scenes import FRAMES  # noqa: E402
from sora_core.world.score import as_shown, sequence_halves  # noqa: E402


def halves_right(frames, scene) -> tuple[bool, bool]:
    """Whether each half does its motion, read against the background the clip shows where the
    caption names none (as `bench quality` reads it)."""
    shown, bg, mask = as_shown(frames, scene)
    first, then = sequence_halves(frames, mask, shown, bg)
    return first == scene.facts["motion"], then == scene.facts["then"]


def clause_preference(pipe: SoraTinyPipeline) -> str:
    """Second clause minus first, in logits: frames 0-7, then frames 8-15, per attention block."""
    parts = []
    for name in ("attn1", "attn_mid", "attn_up1"):
        bias = getattr(pipe.unet, name).clause_bias
        if bias is None:
            return "no clause attention"
        lean = (bias[:, :FRAMES, 1] - bias[:, :FRAMES, 0]).mean(0)  # (frames,)
        parts.append(f"{name} {lean[:FRAMES // 2].mean():+.2f}/{lean[FRAMES // 2:].mean():+.2f}")
    return ", ".join(parts)


def main() -> None:
    args = parse_args(__doc__, prompts=24)
    scenes = scenes_of("sequence", args)
    truth = [halves_right(render(scene, seed=i), scene) for i, scene in enumerate(scenes)]
    print(f"ground truth: first {sum(f for f, _ in truth)}, then {sum(t for _, t in truth)}, "
          f"both {sum(f and t for f, t in truth)} of {len(scenes)}")
    for folder, pipe, made in clips(args, scenes):
        results = [halves_right(frames, scene) for frames, scene in zip(made, scenes, strict=True)]
        print(f"{folder}: first {sum(f for f, _ in results)}, then {sum(t for _, t in results)}, "
              f"both {sum(f and t for f, t in results)} of {len(scenes)}; clause lean: {clause_preference(pipe)}")


if __name__ == "__main__":
    main()
