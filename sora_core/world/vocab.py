"""The words of the procedural world: every thing, colour, motion and style it can show, with the
synonyms its captions use. The tokenizer's vocabulary and the UI's "what this model knows" list are
both read from here, so adding a synonym here teaches it to the whole system."""

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 38, 38),
    "orange": (245, 140, 20),
    "yellow": (240, 215, 30),
    "green": (40, 170, 60),
    "blue": (40, 90, 235),
    "purple": (140, 55, 200),
    "pink": (250, 115, 190),
    "white": (245, 245, 245),
}
COLOUR_WORDS: dict[str, list[str]] = {
    "red": ["red", "crimson", "scarlet"],
    "orange": ["orange", "tangerine"],
    "yellow": ["yellow", "golden"],
    "green": ["green", "emerald"],
    "blue": ["blue", "azure"],
    "purple": ["purple", "violet"],
    "pink": ["pink", "rosy"],
    "white": ["white", "snowy"],
}

OBJECTS = ["ball", "cube", "triangle", "star", "person"]
OBJECT_WORDS: dict[str, list[str]] = {
    "ball": ["ball", "sphere", "orb"],
    "cube": ["cube", "box", "block"],
    "triangle": ["triangle", "wedge"],
    "star": ["star"],
    "person": ["person", "figure", "man", "character"],
}
OBJECT_PLURALS: dict[str, list[str]] = {
    "ball": ["balls", "spheres", "orbs"],
    "cube": ["cubes", "boxes", "blocks"],
    "triangle": ["triangles", "wedges"],
    "star": ["stars"],
    "person": ["people", "figures", "men", "characters"],
}

BACKGROUNDS: dict[str, list[str]] = {
    "sky": ["in the sky", "under a blue sky", "against the sky"],
    "grass": ["on the grass", "in a meadow", "on a green field"],
    "night": ["at night", "under the night sky", "in the dark night"],
    "studio": ["in a studio", "on a grey stage", "in a photo studio"],
}

# Single-object motions; "{s}" is filled with the subject's phrase.
MOTION_WORDS: dict[str, list[str]] = {
    "left": ["{s} moves left", "{s} moves to the left", "{s} rolls to the left",
             "{s} slides left", "to the left moves {s}", "{s} goes left"],
    "right": ["{s} moves right", "{s} moves to the right", "{s} rolls to the right",
              "{s} slides right", "to the right moves {s}", "{s} goes right"],
    "up": ["{s} moves up", "{s} rises", "{s} floats up", "upward floats {s}", "{s} goes up"],
    "down": ["{s} moves down", "{s} sinks", "{s} goes down", "downward sinks {s}", "{s} descends"],
    "fall": ["{s} falls and bounces", "{s} drops and bounces", "{s} falls to the ground and bounces"],
    "jump": ["{s} jumps", "{s} hops", "{s} leaps", "{s} jumps up"],
    "grow": ["{s} grows", "{s} gets bigger", "{s} expands", "{s} grows larger"],
    "shrink": ["{s} shrinks", "{s} gets smaller", "{s} contracts", "{s} shrinks down"],
    "spin": ["{s} spins", "{s} rotates", "{s} twirls", "{s} spins around"],
}
MOTIONS = list(MOTION_WORDS)
# The second half of "X does A, then B": a verb phrase with no subject.
THEN_WORDS: dict[str, list[str]] = {
    "left": ["moves left", "rolls to the left"],
    "right": ["moves right", "rolls to the right"],
    "up": ["moves up", "rises"],
    "down": ["moves down", "sinks"],
    "fall": ["falls and bounces"],
    "jump": ["jumps", "hops"],
    "grow": ["grows", "gets bigger"],
    "shrink": ["shrinks", "gets smaller"],
    "spin": ["spins", "rotates"],
}
SEQUENCE_FORMS = ["{s} {a}, then {b}", "first {s} {a}, then it {b}", "{s} {a} and then {b}"]

RELATION_WORDS: dict[str, list[str]] = {
    "left of": ["{a} to the left of {b}", "{a} left of {b}", "{a} is left of {b}"],
    "right of": ["{a} to the right of {b}", "{a} right of {b}", "{a} is right of {b}"],
    "above": ["{a} above {b}", "{a} over {b}", "{a} is above {b}"],
    "below": ["{a} below {b}", "{a} under {b}", "{a} beneath {b}"],
}
RELATIONS = list(RELATION_WORDS)

INTERACTION_WORDS: dict[str, list[str]] = {
    "collide": ["{a} and {b} collide and bounce apart", "{a} crashes into {b}",
                "{a} and {b} bump into each other"],
    "push": ["{a} pushes {b}", "{a} shoves {b}", "{a} pushes {b} along"],
    "chase": ["{a} chases {b}", "{a} follows {b}", "{a} runs after {b}"],
}
INTERACTIONS = list(INTERACTION_WORDS)

COUNT_WORDS: dict[int, list[str]] = {2: ["two", "2", "a pair of"], 3: ["three", "3"]}

# Styles change the rendering. "plain" has no words: a prompt without a style word gets it.
STYLE_WORDS: dict[str, list[str]] = {
    "plain": [],
    "animation": ["in animation style", "as a cartoon", "animated cartoon"],
    "realistic": ["realistic", "photorealistic", "in realistic style"],
    "cinematic": ["cinematic", "in cinematic style", "like a movie scene"],
    "sketch": ["as a sketch", "pencil sketch", "drawn in pencil"],
    "pixel art": ["in pixel art", "as pixel art", "retro pixel art"],
}
STYLES = list(STYLE_WORDS)

EXAMPLE_PROMPTS = [
    "a red ball rolls to the right",
    "a blue cube falls and bounces on the grass",
    "a yellow star spins at night, cinematic",
    "a green person jumps in a meadow, as pixel art",
    "a purple triangle grows, pencil sketch",
    "two white balls move up in the sky",
    "a pink ball to the left of an orange cube, in animation style",
    "a red cube chases a blue ball in a studio",
    "a yellow ball and a green cube collide and bounce apart",
    "first the orange star grows, then it falls and bounces",
]

# Plural verb phrases for counted groups ("three red balls jump").
COUNT_MOTION_WORDS: dict[str, list[str]] = {
    "still": ["rest", "sit still", "stand still"],
    "up": ["move up", "rise"],
    "down": ["move down", "sink"],
    "jump": ["jump", "hop"],
    "spin": ["spin", "rotate"],
}
