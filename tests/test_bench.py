"""`python -m sora_core.bench quality` (its table, misses and contact sheet) and the one-kind benches beside it."""

import random
import sys
from dataclasses import replace

import numpy as np
from PIL import Image

from bench import layout_oracle
from bench.objects import asked_and_read
from bench.relations import things_and_side
from bench.sequences import halves_right
from bench.things import drawn
from sora_core import bench
from sora_core.tiny.pipeline import SoraTinyPipeline
from sora_core.world import render
from sora_core.world.scenes import held_out_scenes


def test_the_misses_table_says_how_a_row_fails():
    readings = {"relation": [("below", "below"), ("below", "one of the two colours missing"),
                             ("below", "one of the two colours missing"), ("left of", "above"), ("above", "above")],
                "style": [("sketch", "sketch")]}
    table = bench.misses_table(readings)
    assert ("| relation | 2 of 5 | below (1 of 3) -> one of the two colours missing 2; left of (0 of 1) -> above 1 |"
            in table)
    assert "| style | 1 of 1 | - |" in table


def test_quality_writes_its_table_misses_and_contact_sheet(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bench", "quality", "--prompts", "2", "--extensions", "1",
                                      "--continuations", "1", "--sheet-rows", "4", "--out", str(tmp_path)])
    bench.main()
    written = (tmp_path / "quality.md").read_text()
    assert written.startswith("Command: `python -m sora_core.bench quality --prompts 2 --steps 20 --extensions 1")
    for row in ("| style | 2 |", "| motion carried on (extension) | 1 |", "| extension seam ratio (median) | 1 |",
                "sora-tiny's misses:", "| style | "):
        assert row in written, row
    assert written.split("Command:")[1].split("\n", 1)[1].strip() in capsys.readouterr().out  # printed too
    sheet = Image.open(tmp_path / "contact-sheet.png")
    assert sheet.width == 8 * 64 * 2 and sheet.height >= 5 * 64 * 2  # 2 clips, their truths, 1 extension


def test_relations_tells_one_blob_from_two_things_placed_wrong():
    scene = held_out_scenes(random.Random(5), 1, lambda s: s.kind == "relation")[0]
    a, b = scene.things[:2]
    assert things_and_side(render(scene, seed=0), scene) == (2, True)
    swapped = replace(scene, things=[replace(a, x=b.x, y=b.y), replace(b, x=a.x, y=a.y)])
    assert things_and_side(render(swapped, seed=0), scene) == (2, False)
    touching = replace(scene, things=[a, replace(b, x=(a.x + b.x) / 2 + (b.x - a.x) * 0.1,
                                               y=(a.y + b.y) / 2 + (b.y - a.y) * 0.1)])
    assert things_and_side(render(touching, seed=0), scene) == (1, True)  # one blob, colours on the asked sides


def test_sequences_reads_a_clip_on_the_background_it_shows_when_the_caption_names_none():
    scene = held_out_scenes(random.Random(5), 1, lambda s: s.kind == "sequence" and "background" not in s.facts)[0]
    other = next(name for name in ("sky", "grass", "night", "studio") if name != scene.background)
    drawn_elsewhere = render(replace(scene, background=other), seed=0)  # any background is right here
    assert halves_right(drawn_elsewhere, scene) == (True, True)
    still = drawn_elsewhere.copy()
    still[:] = drawn_elsewhere[0]
    assert halves_right(still, scene) != (True, True)


def test_things_tells_a_thing_too_many_from_as_many_as_asked():
    single = held_out_scenes(random.Random(5), 1, lambda s: s.kind == "single")[0]
    thing = single.things[0]
    assert drawn(render(single, seed=0), single) == "as asked"
    ghost = replace(thing, y=thing.y - 24 if thing.y[0] > 32 else thing.y + 24)  # the same thing, above or below
    assert drawn(render(replace(single, things=[thing, ghost]), seed=0), single) == "more"
    relation = held_out_scenes(random.Random(5), 1, lambda s: s.kind == "relation")[0]
    assert drawn(render(relation, seed=0), relation) == "as asked"
    assert drawn(render(replace(relation, things=relation.things[:1]), seed=0), relation) == "fewer"


def test_objects_reads_the_kind_and_motion_the_clip_draws_not_the_ones_its_caption_names():
    scene = held_out_scenes(random.Random(5), 1, lambda s: s.kind == "single" and s.facts["object"] == "star"
                            and s.facts["motion"] in ("left", "right"))[0]
    assert asked_and_read(render(scene, seed=0), scene, "object") == ("star", "star")
    drawn_round = replace(scene, things=[replace(thing, kind="ball") for thing in scene.things])
    assert asked_and_read(render(drawn_round, seed=0), scene, "object") == ("star", "ball")
    motion = scene.facts["motion"]
    assert asked_and_read(render(scene, seed=0), scene, "motion") == (motion, motion)
    held = [replace(thing, x=np.full_like(thing.x, thing.x[0])) for thing in scene.things]  # it never moves
    assert asked_and_read(render(replace(scene, things=held), seed=0), scene, "motion") == (motion, "still")


def test_layout_oracle_head_only_samples_each_prompt_once_with_the_heads_layout(monkeypatch, capsys):
    sampled_with = []
    call = SoraTinyPipeline.__call__

    def counting(pipe, *args, **kwargs):
        sampled_with.append(type(pipe.unet.place_head).__name__)
        return call(pipe, *args, **kwargs)

    monkeypatch.setattr(SoraTinyPipeline, "__call__", counting)
    argv = ["layout_oracle", "assets/sora-tiny", "--prompts", "2", "--steps", "2", "--draws", "1", "--kind", "relation"]
    monkeypatch.setattr(sys, "argv", argv)
    layout_oracle.main()
    assert sampled_with.count("TruthHead") == 2 and len(sampled_with) == 4  # both layouts, each prompt
    assert "with the truth's" in capsys.readouterr().out
    sampled_with.clear()
    monkeypatch.setattr(sys, "argv", [*argv, "--head-only"])
    layout_oracle.main()
    assert len(sampled_with) == 2 and "TruthHead" not in sampled_with
    printed = capsys.readouterr().out
    assert "relation right with the head's layout" in printed and "truth" not in printed
    assert "interaction" not in printed  # --kind keeps to the one asked
