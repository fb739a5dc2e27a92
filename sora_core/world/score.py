"""Scores a clip against its scene's ground truth, from pixels only.

Analysis by synthesis: for each question (which colour? which object? which motion? which style?)
the scene is rendered once per candidate answer, the same features are measured on those renders
and on the clip, and the nearest candidate is the answer. So the scorer needs no hand-set
thresholds per style, and a ground-truth render scores (about) 100% by construction of the world,
which `python -m sora_core.bench quality` checks as the ceiling.
"""

import copy
import random
from collections.abc import Collection
from dataclasses import replace

import numpy as np
from scipy import ndimage

from . import scenes, vocab
from .render import render
from .scenes import FRAMES, Scene

DIFF = 48  # a pixel differs from the background by more than this (0-255, any channel): foreground
MIN_BLOB = 5  # smaller connected specks are noise (stars, grain)
# what a thing may be doing: every motion, and nothing at all, so a thing that stays put is not
# taken for the nearest motion (a spin, which moves it least)
ANSWERS = [*vocab.MOTIONS, "still"]
QUESTIONS = {  # what each kind of scene is checked on, besides its style
    "single": ["colour", "object", "motion"],
    "sequence": ["colour", "object", "temporal order"],
    "count": ["colour", "count"],
    "relation": ["relation"],
    "interaction": ["interaction"],
}
ONE_MISSING = "one of the two colours missing"  # what relation_of sees when it cannot place both


def background(scene: Scene) -> np.ndarray:
    empty = copy.copy(scene)
    empty.things = []
    return render(empty, seed=0)


def foreground(frames: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: pixels unlike the background, specks removed."""
    mask = np.abs(frames.astype(int) - bg.astype(int)).max(-1) > DIFF
    for t in range(len(mask)):
        labels, n = ndimage.label(mask[t], structure=np.ones((3, 3)))
        if n:
            sizes = ndimage.sum(mask[t], labels, range(1, n + 1))
            mask[t] = np.isin(labels, 1 + np.flatnonzero(sizes >= MIN_BLOB))
    return mask


def _track(mask: np.ndarray) -> np.ndarray:
    """(T, 3): centroid x, y and area per frame (the last seen values when a frame is empty)."""
    out, last = [], (32.0, 32.0, 1.0)
    for m in mask:
        ys, xs = np.nonzero(m)
        if len(xs):
            last = (xs.mean(), ys.mean(), float(len(xs)))
        out.append(last)
    return np.array(out)


def _crops(frames: np.ndarray, track: np.ndarray, size: int = 20) -> np.ndarray:
    """Centroid-aligned crops (T, size, size, 3) as floats in 0..1."""
    padded = np.pad(frames.astype(float) / 255, ((0, 0), (size, size), (size, size), (0, 0)), mode="edge")
    crops = []
    for t, (x, y, _) in enumerate(track):
        cx, cy = int(round(x)) + size, int(round(y)) + size
        crops.append(padded[t, cy - size // 2: cy + size // 2, cx - size // 2: cx + size // 2])
    return np.stack(crops)


def motion_features(frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Translation-free trajectory: dx, dy, log area ratio, and how much the aligned object changes
    from frame to frame (rotation shows there even when the outline does not move)."""
    track = _track(mask)
    dx, dy = (track[:, 0] - track[0, 0]) / 10, (track[:, 1] - track[0, 1]) / 10
    area = np.log(np.maximum(track[:, 2], 1) / max(track[0, 2], 1)) / 0.5
    change = _turning(_crops(frames, track, size=24)) / 0.04
    # once per frame, so that it weighs as much against the trajectory as the per-frame values
    return np.concatenate([dx, dy, area, np.full(len(frames), change)])


def _turning(crops: np.ndarray) -> float:
    """How much the aligned object changes from frame to frame, beyond a shift of up to 2 px: the
    centroid's rounding and the object's sub-pixel position would otherwise show every move as a
    turn. The mean over the clip: one frame's change is too noisy to say anything."""
    inner = crops.shape[1] - 4
    now, before = crops[1:, 2:-2, 2:-2], crops[:-1]
    least = np.full(len(now), np.inf)
    for dy in range(5):
        for dx in range(5):
            shifted = before[:, dy: dy + inner, dx: dx + inner]
            least = np.minimum(least, np.abs(now - shifted).mean(axis=(1, 2, 3)))
    return float(least.mean())


def _with_things(scene: Scene, things: list) -> Scene:
    variant = copy.copy(scene)
    variant.things = things
    return variant


def _recoloured(scene: Scene, colour: str) -> Scene:
    return _with_things(scene, [replace(t, colour=colour) for t in scene.things])


def _rekinded(scene: Scene, kind: str) -> Scene:
    return _with_things(scene, [replace(t, kind=kind) for t in scene.things])


def _nearest(observed: np.ndarray, candidates: dict[str, np.ndarray]) -> str:
    return min(candidates, key=lambda name: float(np.sum((candidates[name] - observed) ** 2)))


def _features_of(scene: Scene, bg: np.ndarray, measure) -> np.ndarray:
    frames = render(scene, seed=0)
    return measure(frames, foreground(frames, bg))


def colour_of(frames, mask, scene, bg) -> str:
    def mean_colour(f, m):
        return f[m].mean(0) if m.any() else np.zeros(3)
    return _nearest(mean_colour(frames, mask), {c: _features_of(_recoloured(scene, c), bg, mean_colour)
                                                 for c in vocab.COLOURS})


def shape(frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return _crops(np.repeat(mask[..., None], 3, -1).astype(np.uint8) * 255, _track(mask))[..., 0].mean(0)


def kind_of(frames, mask, scene, bg) -> str:
    return _nearest(shape(frames, mask), {k: _features_of(_rekinded(scene, k), bg, shape) for k in vocab.OBJECTS})


def _motion_prototype(scene: Scene, motion: str, n: int, state: tuple[float, float, float, float]) -> Scene:
    """The scene's thing doing `motion` for n frames from `state` (x, y, scale, angle)."""
    thing = scene.things[0]
    walking = motion in ("left", "right") and bool(thing.walk.any())  # a figure walks as the scene's does
    states = scenes.motion_track(motion, n, *state)
    return _with_things(scene, [scenes.make_thing(thing.kind, thing.colour, states, walking)])


def _nearest_motion(frames, mask, bg, prototypes: dict[str, Scene], part: slice) -> str:
    """The motion whose prototype, rendered and seen over `part` of the clip, moves most like it."""
    candidates = {}
    for motion, proto in prototypes.items():
        f = render(proto, seed=0)[part]
        candidates[motion] = motion_features(f, foreground(f, bg[part]))
    return _nearest(motion_features(frames[part], mask[part]), candidates)


def motion_of(frames, mask, scene, bg, part: slice = slice(None)) -> str:
    """The motion over `part`: from a typical start for each motion when the part begins the clip,
    or from the thing's true state just before it (a sequence's second motion carries on from the
    first one's end: a shrunken star spins small)."""
    start, n = range(FRAMES)[part].start, len(range(FRAMES)[part])
    thing = scene.things[0]

    def state(motion: str) -> tuple[float, float, float, float]:
        if start == 0:
            return scenes.start_state(motion, random.Random(0))
        return thing.x[start - 1], thing.y[start - 1], thing.scale[start - 1], thing.angle[start - 1]

    prototypes = {m: _motion_prototype(scene, m, n, state(m)) for m in ANSWERS}
    return _nearest_motion(frames[part], mask[part], bg[part], prototypes, slice(None))


def sequence_halves(frames, mask, scene, bg) -> tuple[str, str]:
    """The motion seen in the first half of a sequence clip, and in the second."""
    half = FRAMES // 2
    return (motion_of(frames, mask, scene, bg, slice(0, half)),
            motion_of(frames, mask, scene, bg, slice(half, FRAMES)))


def _split_two(frames, mask, scene, bg) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the scene's two things, each pixel given to the nearer of their two colours."""
    refs = []
    for thing in scene.things[:2]:
        f = render(_with_things(scene, [thing]), seed=0)
        m = foreground(f, bg)
        refs.append(f[m].mean(0) if m.any() else np.zeros(3))
    d = [np.abs(frames.astype(float) - ref).sum(-1) for ref in refs]
    return mask & (d[0] <= d[1]), mask & (d[1] < d[0])


def relation_of(frames, mask, scene, bg) -> str:
    a, b = _split_two(frames, mask, scene, bg)
    if a.sum() < 10 or b.sum() < 10:
        return ONE_MISSING
    (ay, ax), (by, bx) = np.argwhere(a)[:, 1:].mean(0), np.argwhere(b)[:, 1:].mean(0)
    options = {"left of": bx - ax, "right of": ax - bx, "above": by - ay, "below": ay - by}
    return max(options, key=options.get)


def count_of(mask: np.ndarray) -> int:
    """Things in view, the median over frames; a 1-px closing first joins a thing that its own
    shading or marking cuts in two (a white cube against a pale sky)."""
    joined = (ndimage.binary_closing(m, structure=np.ones((3, 3))) for m in mask)
    return int(np.median([ndimage.label(m, structure=np.ones((3, 3)))[1] for m in joined]))


def _pair_tracks(frames, mask, scene, bg) -> np.ndarray:
    a, b = _split_two(frames, mask, scene, bg)
    ta, tb = _track(a), _track(b)
    return np.concatenate([(ta[:, 0] - ta[0, 0]) / 10, (tb[:, 0] - tb[0, 0]) / 10, (tb[:, 0] - ta[:, 0]) / 10])


def interaction_of(frames, mask, scene, bg) -> str:
    """The interaction whose prototype the two things' tracks are nearest, going either way: a caption names
    the interaction and its two things, not which way it goes (the world draws that at random)."""
    rng = random.Random(0)
    a, b = (scene.facts["colour"], scene.facts["object"]), (scene.facts["other_colour"], scene.facts["other_object"])
    candidates = {}
    for what in vocab.INTERACTIONS:
        for direction in ("right", "left"):
            for _ in range(20):
                things, _, facts = scenes.interaction(rng, a, b, what)
                if facts["direction"] == direction:
                    break
            proto = _with_things(scene, things)
            f = render(proto, seed=0)
            candidates[f"{what} {direction}"] = _pair_tracks(f, foreground(f, bg), proto, bg)
    return _nearest(_pair_tracks(frames, mask, scene, bg), candidates).rpartition(" ")[0]


def style_features(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(float)
    bars = f[:, list(range(6)) + list(range(58, 64))].mean() - f[:, 10:54].mean()
    blocks = f.reshape(len(f), 16, 4, 16, 4, 3).std(axis=(2, 4)).mean(-1)
    blocky = (blocks < 3).mean()
    paper = (np.abs(f - [242, 236, 222]).max(-1) < 25).mean()
    hi, lo = f.max(-1), f.min(-1)
    saturation = ((hi - lo) / np.maximum(hi, 1)).mean()
    dark = (hi < 25).mean()
    grain = np.abs(np.diff(f, axis=0)).mean()
    texture = np.abs(np.diff(f, axis=2)).mean()
    return np.array([bars / 40, blocky * 4, paper * 4, saturation * 4, dark * 10, grain / 3, texture / 3])


def style_of(frames, scene) -> str:
    candidates = {s: style_features(render(replace(scene, style=s), seed=0)) for s in vocab.STYLES}
    return _nearest(style_features(frames), candidates)


def flicker(frames: np.ndarray, mask: np.ndarray) -> float:
    """Mean change between consecutive frames where both are background (0-255)."""
    still = ~mask[1:] & ~mask[:-1]
    diffs = np.abs(np.diff(frames.astype(float), axis=0)).mean(-1)
    return float(diffs[still].mean()) if still.any() else 0.0


def seam_changes(frames: np.ndarray, seam: int) -> tuple[float, float]:
    """The mean change per pixel value (0-255) across the seam (frame `seam` is the first new one),
    and the median of the same between the clip's other neighbouring frames."""
    diffs = np.abs(np.diff(frames.astype(float), axis=0)).mean(axis=(1, 2, 3))
    return float(diffs[seam - 1]), float(np.median(np.delete(diffs, seam - 1)))


def seam_ratio(frames: np.ndarray, seam: int) -> float:
    """Change across the seam over the median change inside the clip."""
    across, inside = seam_changes(frames, seam)
    return across / max(inside, 1e-6)


def carries_on(frames: np.ndarray, scene: Scene, start: int) -> bool:
    """Whether frames `start`.. keep doing the scene's motion, in its phase (a jump half-way up goes
    on up and comes down): the test of an extension given the scene's first `start` frames. Each
    candidate motion runs the whole clip from the thing's first state and is compared from `start`."""
    bg, thing = background(scene), scene.things[0]
    first = (thing.x[0], thing.y[0], thing.scale[0], thing.angle[0])
    prototypes = {m: _motion_prototype(scene, m, FRAMES, first) for m in ANSWERS}
    mask = foreground(frames, bg)
    return _nearest_motion(frames, mask, bg, prototypes, slice(start, FRAMES)) == scene.facts["motion"]


def asked(scene: Scene) -> dict[str, str]:
    """The questions this scene can be checked on, each with the answer its caption asks for, in the
    words `seen` answers in."""
    facts = scene.facts
    worded = {"temporal order": f"{facts.get('motion')}, then {facts.get('then')}",
              "count": str(facts.get("count")), "style": scene.style}
    return {name: worded.get(name, facts.get(name)) for name in [*QUESTIONS[scene.kind], "style"]}


def setting_of(frames: np.ndarray, scene: Scene) -> tuple[str, np.ndarray]:
    """The background a clip shows, and its empty-scene render: the world's nearest to the clip's
    still parts (the median over time), drawn in the scene's style."""
    renders = {name: background(replace(scene, background=name)) for name in vocab.BACKGROUNDS}
    name = _nearest(np.median(frames, 0), {name: np.median(r, 0) for name, r in renders.items()})
    return name, renders[name]


def as_shown(frames: np.ndarray, scene: Scene) -> tuple[Scene, np.ndarray, np.ndarray]:
    """The scene a clip is read against, its background render and the clip's foreground there.
    Where the caption names no background any is right, so that is the one the clip shows, not the
    one the world happened to draw."""
    if "background" in scene.facts:
        bg = background(scene)
    else:
        name, bg = setting_of(frames, scene)
        scene = replace(scene, background=name)
    return scene, bg, foreground(frames, bg)


def seen(frames: np.ndarray, scene: Scene, only: Collection[str] | None = None) -> dict[str, object]:
    """What the scorer reads in the clip (against `as_shown`): an answer to each of `asked(scene)`'s
    questions (or those of them in `only`: each reader renders the world's variants of the scene, seconds
    a clip), and the flicker as a number."""
    scene, bg, mask = as_shown(frames, scene)
    readers = {
        "colour": lambda: colour_of(frames, mask, scene, bg),
        "object": lambda: kind_of(frames, mask, scene, bg),
        "motion": lambda: motion_of(frames, mask, scene, bg),
        "temporal order": lambda: ", then ".join(sequence_halves(frames, mask, scene, bg)),
        "relation": lambda: relation_of(frames, mask, scene, bg),
        "count": lambda: str(count_of(mask)),
        "interaction": lambda: interaction_of(frames, mask, scene, bg),
        "style": lambda: style_of(frames, scene),
    }
    questions = [name for name in asked(scene) if only is None or name in only]
    return {name: readers[name]() for name in questions} | {"flicker": flicker(frames, mask)}


def judge(scene: Scene, looked: dict[str, object]) -> dict[str, object]:
    """`seen`'s reading against the scene's truth: name -> True/False for each question read, plus the flicker."""
    return ({name: looked[name] == answer for name, answer in asked(scene).items() if name in looked}
            | {"flicker": looked["flicker"]})


def score(frames: np.ndarray, scene: Scene, only: Collection[str] | None = None) -> dict[str, object]:
    """The answers this scene can be checked on (or those in `only`): name -> True/False, plus flicker as a
    number."""
    return judge(scene, seen(frames, scene, only))
