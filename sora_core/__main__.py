"""The command line, on the same engine as the studio.

    python -m sora_core generate --prompt "a red ball rolls to the right" --out clip.mp4
    python -m sora_core extend --video clip.mp4 --prompt "then it jumps" --out longer.mp4
    python -m sora_core presets
    python -m sora_core models
"""

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from .engine import CancelledEvent, Done, Engine, Failed, Progress, Started, Waiting
from .request import RequestError, parse_request


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sora_core", description="Sora Studio's engine.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="make a clip from a prompt")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--negative", default="")
    gen.add_argument("--preset")
    gen.add_argument("--model", default="sora-tiny")
    gen.add_argument("--seed", type=int)
    gen.add_argument("--frames", type=int)
    gen.add_argument("--fps", type=int)
    gen.add_argument("--steps", type=int)
    gen.add_argument("--guidance", type=float)
    gen.add_argument("--out", type=Path, required=True)
    ext = sub.add_parser("extend", help="continue a clip, once per --prompt or --times")
    ext.add_argument("--video", type=Path, required=True)
    ext.add_argument("--prompt", action="append", default=[], help="repeat for a story: one per extension")
    ext.add_argument("--model", default="sora-tiny")
    ext.add_argument("--times", type=int, default=1)
    ext.add_argument("--seed", type=int)
    ext.add_argument("--out", type=Path, required=True)
    sub.add_parser("presets", help="list the style presets")
    sub.add_parser("models", help="list the models")
    return parser


def run(engine: Engine, fields: dict, out: Path) -> int:
    if out.suffix.lower() != ".mp4":
        raise RequestError("out", f"must end in .mp4 (got {str(out)!r})")
    if not out.parent.is_dir():
        raise RequestError("out", f"folder {str(out.parent)!r} does not exist")
    job = engine.start(parse_request(**fields), out=out)
    bar = None
    try:
        for event in job:
            if isinstance(event, Started):
                for notice in event.notices:
                    print(f"note: {notice}", file=sys.stderr)
            elif isinstance(event, Waiting):
                print(f"waiting for {event.model}...", file=sys.stderr)
            elif isinstance(event, Progress):
                if bar is None or bar.total != event.steps * event.windows:
                    bar = tqdm(total=event.steps * event.windows, unit="step", file=sys.stderr)
                bar.update(1)
            elif isinstance(event, Done):
                if bar:
                    bar.close()
                print(event.path)
                return 0
            elif isinstance(event, Failed):
                print(f"error: {event.message}", file=sys.stderr)
                return 1
            elif isinstance(event, CancelledEvent):
                print("cancelled", file=sys.stderr)
                return 130
    except KeyboardInterrupt:
        job.cancel()
        job.result()
        print("cancelled", file=sys.stderr)
        return 130
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    engine = Engine()
    for problem in engine.preset_problems:
        print(f"warning: {problem}", file=sys.stderr)
    if args.command == "presets":
        for key, preset in engine.presets.items():
            print(f"{key:12} {preset.description}")
        return 0
    if args.command == "models":
        for name, spec in engine.models.items():
            print(f"{name:18} {spec.label}")
        return 0
    try:
        if args.command == "generate":
            fields = dict(prompt=args.prompt, negative_prompt=args.negative, preset=args.preset, model=args.model,
                          seed=args.seed, frames=args.frames, fps=args.fps, steps=args.steps,
                          guidance=args.guidance)
        else:
            fields = dict(mode="extend", video=args.video, prompts=args.prompt, model=args.model,
                          times=args.times, seed=args.seed)
        return run(engine, fields, args.out)
    except RequestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
