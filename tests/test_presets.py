"""Style presets: every shipped one loads; a broken file is reported and skipped."""

from sora_core.engine import Engine
from sora_core.presets import DEFAULT_PRESETS, load_presets
from sora_core.request import parse_request

REQUIRED = {"cinematic", "animation", "realistic", "anime", "claymation", "documentary", "noir", "pixel-art",
            "watercolor", "sketch"}


def test_the_shipped_presets_all_load_and_use_words_sora_tiny_knows():
    presets, problems = load_presets(DEFAULT_PRESETS)
    assert problems == []
    assert REQUIRED <= set(presets)
    from sora_core.tiny.tokenizer import build_tokenizer, unknown_words

    tokenizer = build_tokenizer()
    for preset in presets.values():
        assert "{prompt}" in preset.template and preset.description
        assert unknown_words(tokenizer, preset.apply("a red ball jumps", "sora-tiny")) == [], preset.key


def test_a_broken_preset_is_reported_and_the_others_still_load(tmp_path, registry_file):
    (tmp_path / "good.toml").write_text('name = "Good"\ndescription = "fine"\ntemplate = "{prompt}, cinematic"\n')
    (tmp_path / "broken.toml").write_text('name = "Broken\ndescription = = \n')
    (tmp_path / "no-slot.toml").write_text('name = "No slot"\ndescription = "x"\ntemplate = "cinematic"\n')
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    presets, problems = load_presets(tmp_path)
    assert list(presets) == ["good"]
    assert len(problems) == 3
    assert any("broken.toml" in p for p in problems) and any("{prompt}" in p for p in problems)

    engine = Engine(registry=registry_file, presets=tmp_path, library=tmp_path / "out")
    assert engine.preset_problems == problems
    job = engine.start(parse_request(prompt="a red ball jumps", preset="good", steps=2))
    assert job.result().settings["final_prompts"] == ["a red ball jumps, cinematic"]
