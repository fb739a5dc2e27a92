"""Scenes of the procedural world: what happens in a clip, frame by frame, and the caption that says it.

A `Scene` is pure data (positions per frame plus the facts behind the caption); `render.py` turns it
into pixels. Keeping the two apart lets the evaluator score generated clips against the same facts.
"""

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import vocab

FRAMES = 16
SIZE = 64
RADIUS = 7.0  # an object's half-size at scale 1, in pixels of the 64-px frame
GROUND = 56.0  # y of the ground line; resting objects sit on it


@dataclass
class Thing:
    kind: str
    colour: str
    x: np.ndarray  # (T,) centre, pixels
    y: np.ndarray  # (T,)
    scale: np.ndarray  # (T,)
    angle: np.ndarray  # (T,) degrees
    walk: np.ndarray  # (T,) leg phase of the person; 0 when standing

    def box(self, t: int) -> tuple[float, float, float, float]:
        r = RADIUS * float(self.scale[t])
        return (float(self.x[t]) - r, float(self.y[t]) - r, float(self.x[t]) + r, float(self.y[t]) + r)


@dataclass
class Scene:
    kind: str  # single | sequence | relation | count | interaction
    background: str
    style: str
    things: list[Thing]
    caption: str = ""
    facts: dict = field(default_factory=dict)  # the ground truth the caption states

    def box_mask(self, size: int) -> np.ndarray:
        """(T, size, size) bool: the cells of a size x size grid over the frame that a thing's box covers,
        with a pixel's margin (anti-aliased edges, the width of a figure's strokes)."""
        cell = SIZE / size
        mask = np.zeros((len(self.things[0].x) if self.things else FRAMES, size, size), dtype=bool)
        for thing in self.things:
            for t in range(len(mask)):
                x0, y0, x1, y1 = thing.box(t)
                top, left = max(0, int((y0 - 1) // cell)), max(0, int((x0 - 1) // cell))
                mask[t, top: math.ceil((y1 + 1) / cell), left: math.ceil((x1 + 1) / cell)] = True
        return mask


def is_held_out(colour: str, kind: str, motion: str) -> bool:
    """About one in ten colour x object x motion triples never appears in training, so evaluation
    can ask for combinations the model has never seen. A hash keeps the split stable and seedless."""
    return zlib.crc32(f"{colour}|{kind}|{motion}".encode()) % 10 == 0


def holds_held_out_triple(facts: dict) -> bool:
    """Whether a scene's main thing does something held out: its motion, or either of a sequence's two."""
    motions = [facts.get("motion", "still")] + ([facts["then"]] if "then" in facts else [])
    return any(is_held_out(facts["colour"], facts["object"], m) for m in motions)


def rest_y(scale: float) -> float:
    return GROUND - RADIUS * scale


# ---------------------------------------------------------------------------------------------
# Motion tracks: each continues from a state (x, y, scale, angle) for n frames.


def motion_track(motion: str, n: int, x: float, y: float, s: float, a: float) -> np.ndarray:
    """Returns (n, 4) states [x, y, scale, angle] for `motion`, starting one step after the state."""
    p = np.arange(1, n + 1) / n  # progress, ends at 1
    xs, ys, ss, angs = np.full(n, x), np.full(n, y), np.full(n, s), np.full(n, a)
    dist = 28.0 if n >= 12 else 18.0
    if motion == "left":
        xs = x - dist * p
    elif motion == "right":
        xs = x + dist * p
    elif motion == "up":
        ys = y - dist * p
    elif motion == "down":
        ys = y + dist * p
    elif motion == "grow":
        ss = s + (1.6 - s) * p
        ys = np.array([min(y, rest_y(v)) if y >= rest_y(s) - 0.5 else y for v in ss])
    elif motion == "shrink":
        ss = s + (0.6 - s) * p
        ys = np.array([rest_y(v) if y >= rest_y(s) - 0.5 else y for v in ss])
    elif motion == "spin":
        angs = a + 360.0 * p * (1.0 if n >= 12 else 0.6)
    elif motion == "jump":
        height = 22.0
        ys = y - height * 4 * p * (1 - p)  # one parabola, back where it started
    elif motion == "fall":
        ys = _fall_and_bounce(n, y, rest_y(s))
    elif motion != "still":
        raise ValueError(f"unknown motion {motion!r}")
    return np.stack([xs, ys, ss, angs], axis=1)


def _fall_and_bounce(n: int, y: float, floor: float) -> np.ndarray:
    ys, vy, g = [], 0.0, 1.6
    for _ in range(n):
        vy += g
        y += vy
        if y > floor:  # bounce, losing energy
            y = floor - (y - floor) * 0.5
            vy = -vy * 0.55
        ys.append(y)
    return np.array(ys)


def make_thing(kind: str, colour: str, states: np.ndarray, walking: bool) -> Thing:
    t = np.arange(len(states))
    walk = np.where(walking, t * 0.9, 0.0) if kind == "person" else np.zeros(len(states))
    return Thing(kind, colour, states[:, 0], states[:, 1], states[:, 2], states[:, 3], walk)


def start_state(motion: str, rng: random.Random) -> tuple[float, float, float, float]:
    x = rng.uniform(22, 42)
    s = 1.0
    if motion == "left":
        x = rng.uniform(44, 50)
    elif motion == "right":
        x = rng.uniform(14, 20)
    elif motion == "shrink":
        s = 1.6
    elif motion == "grow":
        s = 0.6
    y = rest_y(s)
    if motion == "down":
        y = rng.uniform(12, 18)
    elif motion == "fall":
        y = rng.uniform(10, 16)
    elif motion in ("spin", "grow", "shrink", "left", "right") and rng.random() < 0.3:
        y = rng.uniform(20, rest_y(s))  # floating in mid-air now and then
    return x, y, s, 0.0


# ---------------------------------------------------------------------------------------------
# Caption pieces.


def _subject(colour: str, kind: str, rng: random.Random, article: str | None = None) -> str:
    colour_word = rng.choice(vocab.COLOUR_WORDS[colour])
    article = article or rng.choice(["a", "a", "the"])
    if article == "a" and colour_word[0] in "aeiou":
        article = "an"
    return f"{article} {colour_word} {rng.choice(vocab.OBJECT_WORDS[kind])}"


def _dress(core: str, background: str, style: str, rng: random.Random) -> tuple[str, bool]:
    """Adds the background and style phrases around the core sentence, in varied order; says
    whether the background was named (three captions in ten leave it to the model)."""
    text, named = core, rng.random() < 0.7
    if named:
        bg = rng.choice(vocab.BACKGROUNDS[background])
        text = f"{bg}, {core}" if rng.random() < 0.3 else f"{core} {bg}"
    if vocab.STYLE_WORDS[style]:
        style_word = rng.choice(vocab.STYLE_WORDS[style])
        text = f"{style_word}: {text}" if rng.random() < 0.25 else f"{text}, {style_word}"
    return text, named


# ---------------------------------------------------------------------------------------------
# Scene kinds.


def single(rng: random.Random, colour: str, kind: str, motion: str) -> tuple[list[Thing], str, dict]:
    states = motion_track(motion, FRAMES, *start_state(motion, rng))
    thing = make_thing(kind, colour, states, motion in ("left", "right"))
    core = rng.choice(vocab.MOTION_WORDS[motion]).format(s=_subject(colour, kind, rng))
    return [thing], core, {"colour": colour, "object": kind, "motion": motion}


def sequence(rng: random.Random, colour: str, kind: str, first: str, then: str):
    half = FRAMES // 2
    a = motion_track(first, half, *start_state(first, rng))
    b = motion_track(then, FRAMES - half, *a[-1])
    thing = make_thing(kind, colour, np.concatenate([a, b]), False)
    subject = _subject(colour, kind, rng)
    form = rng.choice(vocab.SEQUENCE_FORMS)
    first_phrase = rng.choice(vocab.MOTION_WORDS[first]).format(s="").strip()
    if first_phrase.startswith(("to the", "upward", "downward")):
        first_phrase = vocab.THEN_WORDS[first][0]
    core = form.format(s=subject, a=first_phrase, b=rng.choice(vocab.THEN_WORDS[then]))
    return [thing], core, {"colour": colour, "object": kind, "motion": first, "then": then}


def relation(rng: random.Random, a: tuple[str, str], b: tuple[str, str], rel: str):
    bx, by = rng.uniform(20, 44), rng.uniform(22, rest_y(1.0))
    dx, dy = {"left of": (-26, 0), "right of": (26, 0), "above": (0, -24), "below": (0, 24)}[rel]
    if rel == "above":
        by = max(by, 36.0)
    if rel == "below":
        by = min(by, 24.0)
    bx = min(max(bx, 12 - dx), 52 - dx)
    still = np.zeros((FRAMES, 4)) + [bx, by, 1.0, 0.0]
    things = [make_thing(a[1], a[0], still + [dx, dy, 0, 0], False), make_thing(b[1], b[0], still, False)]
    core = rng.choice(vocab.RELATION_WORDS[rel]).format(
        a=_subject(*a, rng), b=_subject(*b, rng, article=rng.choice(["a", "the"])))
    return things, core, {"colour": a[0], "object": a[1], "relation": rel,
                          "other_colour": b[0], "other_object": b[1]}


def count(rng: random.Random, colour: str, kind: str, n: int, motion: str):
    xs = {1: [32.0], 2: [22.0, 42.0], 3: [14.0, 32.0, 50.0]}[n]
    _, y, s, a = start_state(motion, rng)
    things = [make_thing(kind, colour, motion_track(motion, FRAMES, x, y, 0.8 * s, a), False) for x in xs]
    colour_word = rng.choice(vocab.COLOUR_WORDS[colour])
    noun = rng.choice(vocab.OBJECT_PLURALS[kind]) if n > 1 else rng.choice(vocab.OBJECT_WORDS[kind])
    number = rng.choice(vocab.COUNT_WORDS[n]) if n > 1 else ("one" if rng.random() < 0.5 else "a")
    verb = rng.choice(vocab.COUNT_MOTION_WORDS[motion])
    if n == 1:
        verb = verb.split()[0] + "s" + verb[len(verb.split()[0]):]  # "rise" -> "rises"
    core = f"{number} {colour_word} {noun} {verb}"
    return things, core, {"colour": colour, "object": kind, "count": n, "motion": motion}


def interaction(rng: random.Random, a: tuple[str, str], b: tuple[str, str], what: str):
    t = np.arange(FRAMES, dtype=float)
    sign = rng.choice([1.0, -1.0])  # mirror: the action goes right (1) or left (-1)
    y = rest_y(1.0)
    if what == "collide":
        meet = 6.0  # frame at which they touch
        ax = np.where(t <= meet, 10 + 2.6 * t, 10 + 2.6 * meet - 2.0 * (t - meet))
        bx = 64 - ax
    elif what == "push":
        bx0, contact = 34.0, (34.0 - 2 * RADIUS - 8.0) / 2.4
        ax = np.where(t <= contact, 8 + 2.4 * t, 8 + 2.4 * contact + 1.3 * (t - contact))
        bx = np.maximum(bx0, ax + 2 * RADIUS)
    elif what == "chase":
        bx = 26 + 1.5 * t
        ax = 6 + 1.8 * t
    else:
        raise ValueError(what)
    if sign < 0:
        ax, bx = 64 - ax, 64 - bx
    ones = np.ones(FRAMES)
    things = [
        make_thing(a[1], a[0], np.stack([ax, y * ones, ones, 0 * ones], 1), True),
        make_thing(b[1], b[0], np.stack([bx, y * ones, ones, 0 * ones], 1), what != "push"),
    ]
    core = rng.choice(vocab.INTERACTION_WORDS[what]).format(
        a=_subject(*a, rng), b=_subject(*b, rng, article=rng.choice(["a", "the"])))
    return things, core, {"colour": a[0], "object": a[1], "interaction": what,
                          "direction": "right" if sign > 0 else "left",
                          "other_colour": b[0], "other_object": b[1]}


KIND_WEIGHTS = {"single": 0.35, "sequence": 0.15, "relation": 0.15, "count": 0.15, "interaction": 0.2}
SEQUENCE_FIRST = ["left", "right", "up", "grow", "shrink", "spin", "jump"]
SEQUENCE_THEN = ["left", "right", "jump", "grow", "shrink", "spin"]


def two_things(rng: random.Random) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two things of different colours (a relation, an interaction: the scorer tells them apart by colour)."""
    c1, c2 = rng.sample(list(vocab.COLOURS), 2)
    return (c1, rng.choice(vocab.OBJECTS)), (c2, rng.choice(vocab.OBJECTS))


def sample_scene(rng: random.Random, held_out: bool = False) -> Scene:
    """A random scene. With held_out=False no thing in it has a held-out (colour, object, motion)
    triple; with held_out=True the main thing always has one (the evaluation's prompts)."""
    while True:
        kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        background, style = rng.choice(list(vocab.BACKGROUNDS)), rng.choice(vocab.STYLES)
        colour, obj = rng.choice(list(vocab.COLOURS)), rng.choice(vocab.OBJECTS)
        if kind == "single":
            things, core, facts = single(rng, colour, obj, rng.choice(vocab.MOTIONS))
        elif kind == "sequence":
            first = rng.choice(SEQUENCE_FIRST)
            then = rng.choice([m for m in SEQUENCE_THEN if m != first] + (["fall"] if first == "up" else []))
            things, core, facts = sequence(rng, colour, obj, first, then)
        elif kind == "relation":
            things, core, facts = relation(rng, *two_things(rng), rng.choice(vocab.RELATIONS))
        elif kind == "count":
            things, core, facts = count(rng, colour, obj, rng.choice([1, 2, 3]),
                                        rng.choice(list(vocab.COUNT_MOTION_WORDS)))
        else:
            things, core, facts = interaction(rng, *two_things(rng), rng.choice(vocab.INTERACTIONS))
        if holds_held_out_triple(facts) == held_out:
            caption, named = _dress(core, background, style, rng)
            facts |= {"kind": kind, "style": style} | ({"background": background} if named else {})
            return Scene(kind, background, style, things, caption, facts)


def held_out_scenes(rng: random.Random, n: int, keep: Callable[[Scene], bool]) -> list[Scene]:
    """The first n held-out scenes that `keep` accepts."""
    found = []
    while len(found) < n:
        scene = sample_scene(rng, held_out=True)
        if keep(scene):
            found.append(scene)
    return found


def single_motion_scenes(rng: random.Random, n: int) -> list[Scene]:
    """n held-out scenes of one thing doing one motion that changes it over the whole clip."""
    return held_out_scenes(rng, n, lambda scene: scene.kind == "single" and scene.facts["motion"] != "still")


def evaluation_scenes(seed: int, prompts: int, continuations: int) -> tuple[list[Scene], list[Scene]]:
    """What the model is scored on, the same for every scorer (`bench quality`, bench/recipe_sweep.py):
    `prompts` held-out scenes, and `continuations` single-motion ones whose first frames it extends."""
    rng = random.Random(seed)
    held_out = [sample_scene(rng, held_out=True) for _ in range(prompts)]
    return held_out, single_motion_scenes(random.Random(seed + 1), continuations)
