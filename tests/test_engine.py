"""The engine, through the built-in model and tiny random LTX, Wan and CogVideoX pipelines."""

import json

import numpy as np
import pytest

from sora_core import video
from sora_core.engine import CancelledEvent, Done, Failed, Progress, Started
from sora_core.request import RequestError, parse_request
from tests.conftest import ALL_MODELS

FAST = {"sora-tiny": 4}  # steps for the built-in model in tests; tiny pipelines use their registry's 3


def generate(engine, model, **fields):
    fields.setdefault("steps", FAST.get(model))
    job = engine.start(parse_request(prompt=fields.pop("prompt", "a red ball rolls to the right"), model=model,
                                     **fields))
    events = list(job)
    return events, events[-1]


@pytest.mark.parametrize("model", ALL_MODELS)
def test_generate_streams_a_preview_every_step_and_writes_a_playable_clip(engine, model):
    spec = engine.models[model]
    events, done = generate(engine, model, seed=3)
    assert isinstance(done, Done), done
    steps = done.settings["steps"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, steps + 1))
    for p in progress:
        assert p.preview.dtype == np.uint8 and p.preview.ndim == 4 and p.preview.shape[-1] == 3
    assert done.frames.shape == (spec.frames, spec.height, spec.width, 3)

    # the file decodes back to the same number of frames and carries its settings twice
    decoded = video.read_video(done.path, spec.fps, (spec.width, spec.height))
    assert len(decoded) == spec.frames
    embedded = video.read_metadata(done.path)
    assert embedded["seed"] == 3 and embedded["model"] == model
    assert json.loads(done.path.with_suffix(".json").read_text())["prompt"] == "a red ball rolls to the right"


@pytest.mark.parametrize("model", ALL_MODELS)
def test_same_seed_same_frames_other_seed_other_frames(engine, model):
    first = generate(engine, model, seed=11)[1].frames
    again = generate(engine, model, seed=11)[1].frames
    other = generate(engine, model, seed=12)[1].frames
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("model", ALL_MODELS)
def test_extend_joins_the_source_and_the_continuation_without_repeating_frames(engine, model):
    spec = engine.models[model]
    source = generate(engine, model, seed=5)[1]
    job = engine.start(parse_request(mode="extend", video=source.path, prompts=["it jumps", "it spins"],
                                     model=model, seed=6, steps=FAST.get(model)))
    done = job.result()
    assert isinstance(done, Done), done
    decoded_source = video.read_video(source.path, spec.fps, (spec.width, spec.height))
    k = spec.extend_frames
    assert len(done.frames) == len(decoded_source) + 2 * (spec.frames - k)
    assert np.array_equal(done.frames[: len(decoded_source)], decoded_source)  # the source is kept as it was
    assert done.settings["final_prompts"] == ["it jumps", "it spins"]


@pytest.mark.parametrize("model", ALL_MODELS)
def test_cancel_stops_within_a_step_and_frees_the_model(engine, model):
    job = engine.start(parse_request(prompt="a blue cube falls", model=model, steps=12, seed=1))
    seen, ahead = [], None
    for event in job:
        if isinstance(event, Progress):
            seen.append(event.step)
            if ahead is None:
                job.cancel()
                # steps the worker finished before the cancel came, not yet read (a busy machine)
                ahead = job._events.qsize()
    assert isinstance(event, CancelledEvent)
    assert len(seen) <= 1 + ahead + 1  # after those, only the step that was running when cancel came
    assert isinstance(generate(engine, model, seed=2)[1], Done)  # the model serves the next job


def test_every_job_hands_its_freed_memory_back_before_its_final_event(engine, monkeypatch):
    # each job runs on its own thread, whose glibc arena keeps what it freed unless trimmed: a server
    # grew ~36 MB a round of load without it (bench/load.py prints the memory round after round)
    from sora_core import engine as engine_module

    trims = []

    class FakeLibc:
        def malloc_trim(self, pad: int) -> int:
            trims.append(pad)
            return 1

    monkeypatch.setattr(engine_module, "_LIBC", FakeLibc())
    done = engine.start(parse_request(prompt="a red ball jumps", steps=2, seed=1))
    assert isinstance(done.result(), Done) and trims == [0]  # result() returns on the final event
    cancelled = engine.start(parse_request(prompt="a red ball jumps", steps=12, seed=1))
    cancelled.cancel()
    assert isinstance(cancelled.result(), CancelledEvent) and trims == [0, 0]


def test_a_clip_longer_than_the_model_window_is_made_window_by_window(engine):
    events, done = generate(engine, "sora-tiny", frames=40, seed=4)
    assert isinstance(done, Done)
    assert len(done.frames) == 40
    assert {p.windows for p in events if isinstance(p, Progress)} == {3}


def test_image_to_video_starts_from_the_image(engine, tmp_path):
    from PIL import Image

    picture = np.zeros((96, 128, 3), dtype=np.uint8)
    picture[:, :, 0] = 200
    Image.fromarray(picture).save(tmp_path / "start.png")
    done = generate(engine, "sora-tiny", image=tmp_path / "start.png", seed=1)[1]
    assert isinstance(done, Done)
    assert np.abs(done.frames[0].astype(int) - [200, 0, 0]).max() <= 1  # the first frame is the image


def test_presets_apply_their_template_and_defaults(engine):
    job = engine.start(parse_request(prompt="a red ball jumps", preset="cinematic", steps=2))
    started = next(iter(job))
    assert isinstance(started, Started)
    assert started.settings["final_prompts"] == ["a red ball jumps, cinematic"]
    assert started.settings["guidance"] == engine.presets["cinematic"].guidance
    assert started.settings["fps"] == engine.models["sora-tiny"].fps  # its motion is learned at 8 fps
    assert isinstance(job.result(), Done)


def test_sora_tiny_paints_the_pixel_art_preset_in_flat_blocks_and_the_other_styles_not(engine):
    def flat_blocks(**preset) -> float:  # the share of 4x4 blocks of one colour, over the clip
        done = engine.start(parse_request(prompt="a red ball rolls to the right", steps=4, **preset)).result()
        frames = done.frames.astype(float)
        return float((frames.reshape(len(frames), 16, 4, 16, 4, 3).std(axis=(2, 4)).max(-1) < 1).mean())

    assert flat_blocks(preset="pixel-art") > 0.99  # its decoder's cells, opened by the prompt
    assert all(flat_blocks(**preset) < 0.8 for preset in ({}, {"preset": "cinematic"}, {"preset": "sketch"}))


def test_unknown_words_are_named(engine):
    job = engine.start(parse_request(prompt="a red dragon flies over the castle", steps=2))
    started = next(iter(job))
    assert any("dragon" in n and "castle" in n and "flies" in n for n in started.notices)
    assert not any("red" in n.split(":")[-1].split(", ") for n in started.notices)
    job.result()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   \n\t "}, "prompt"),
        ({"prompt": "x" * 100_000}, "prompt"),
        ({"frames": -3}, "frames"),
        ({"frames": 100_000}, "frames"),
        ({"fps": 0}, "fps"),
        ({"steps": 0}, "steps"),
        ({"steps": 10_000}, "steps"),
        ({"guidance": float("nan")}, "guidance"),
        ({"guidance": -1.0}, "guidance"),
        ({"width": 100}, "width"),
        ({"width": 5000}, "width"),
        ({"seed": -1}, "seed"),
        ({"model": "no-such-model"}, "model"),
        ({"preset": "no-such-preset"}, "preset"),
        ({"mode": "extend"}, "video"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(engine, fields, field):
    fields = {"prompt": "a red ball jumps"} | fields
    with pytest.raises(RequestError) as err:
        engine.start(parse_request(**fields))
    assert err.value.field == field
    assert len(str(err.value).splitlines()) == 1 and len(str(err.value)) < 300


def test_a_model_that_needs_a_gpu_says_so_on_a_cpu(registry_file, tmp_path):
    from sora_core.engine import Engine

    engine = Engine(library=tmp_path / "out")  # the real registry: hub models, this CPU machine
    done = engine.start(parse_request(prompt="a cat", model="ltx-video")).result()
    assert isinstance(done, Failed)
    assert "GPU" in done.message and "sora-tiny" in done.message


def test_a_model_not_in_the_cache_offline_says_so(tmp_path):
    from sora_core.engine import Engine
    from tests.tiny_pipelines import write_registry

    entry = dict(label="x", family="wan", source="nobody-here/no-such-model", pipeline="WanPipeline", width=16,
                 height=16, frames=9, window_frames=9, fps=8, steps=2, guidance=1.0, frame_multiple=4,
                 size_multiple=16, extend_frames=5, output_scale=1, needs_gpu=False, can=["text-to-video"])
    engine = Engine(registry=write_registry(tmp_path / "m.toml", {"ghost": entry}), library=tmp_path / "out")
    done = engine.start(parse_request(prompt="a cat", model="ghost")).result()
    assert isinstance(done, Failed)
    assert "not in the Hugging Face cache" in done.message and "sora-tiny" in done.message


class RecordingPipeline:
    """Stands in for a loaded pipeline: records how the backend places it."""

    def __init__(self):
        self.calls, self.vae = [], self

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args))


@pytest.mark.parametrize("device, free_gb, placed", [
    ("cuda", 80, [("to", "cuda")]),
    ("cuda", 12, [("enable_model_cpu_offload", None), ("enable_tiling", None)]),
    ("mps", None, [("to", "mps")]),
    ("cpu", None, [("to", "cpu")]),
])
def test_models_are_placed_by_device_and_free_gpu_memory(monkeypatch, device, free_gb, placed):
    """bf16 on CUDA, float32 elsewhere; offload and VAE tiling only when the GPU is short of memory.
    (No GPU here: CUDA's free-memory query is faked, and nothing is moved.)"""
    import torch

    from sora_core.backends.base import Backend
    from sora_core.registry import load_registry

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (free_gb * 2**30, 80 * 2**30))
    backend = Backend(load_registry()["ltx-video"], device=torch.device(device))
    assert backend.dtype == (torch.bfloat16 if device == "cuda" else torch.float32)
    pipe = RecordingPipeline()
    backend._place(pipe)
    calls = [(name, str(args[0]) if args else None) for name, args in pipe.calls if name != "set_progress_bar_config"]
    assert calls == placed
