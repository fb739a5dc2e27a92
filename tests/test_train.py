"""The training script, at toy size: it checkpoints, exports a pipeline that loads, resumes
exactly where it stopped, and restarts its learning rate where the config says."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sora_core.tiny.pipeline import SoraTinyPipeline
from sora_core.train import TrainConfig, lr_at, train


def toy_config(steps: int) -> TrainConfig:
    return TrainConfig(pool_clips=6, ae_steps=2, ae_batch=4, ae_stats_frames=64, steps=steps, batch=2, warmup=1,
                       restarts=(2,), high_noise_from=1, checkpoint_every=2, threads=torch.get_num_threads())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    train(toy_config(steps=4), root / "run", root / "out")
    return root


def test_training_exports_a_pipeline_that_makes_a_clip(uninterrupted):
    out = uninterrupted / "out"
    assert json.loads((out / "training.json").read_text())["step"] == 4
    assert (uninterrupted / "run" / "checkpoint.pt").exists()
    pipe = SoraTinyPipeline.from_pretrained(out)
    frames = pipe("a red ball rolls to the right", num_inference_steps=2,
                  generator=torch.Generator().manual_seed(0)).frames[0]
    assert frames.shape == (16, 64, 64, 3)
    assert np.isfinite(frames).all()


def test_a_stopped_run_resumes_to_the_same_weights(uninterrupted, tmp_path):
    train(toy_config(steps=2), tmp_path / "run", tmp_path / "out")  # stops at 2 (its checkpoint)
    assert json.loads((tmp_path / "out" / "training.json").read_text())["step"] == 2
    train(toy_config(steps=4), tmp_path / "run", tmp_path / "out")  # picks the checkpoint up
    resumed = load_file(tmp_path / "out" / "unet" / "diffusion_pytorch_model.safetensors")
    straight = load_file(uninterrupted / "out" / "unet" / "diffusion_pytorch_model.safetensors")
    assert resumed.keys() == straight.keys()
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)


def test_each_cycle_warms_up_and_decays_to_a_tenth():
    cfg = TrainConfig(steps=3000, warmup=100, restarts=(1000, 2000), lr=1e-3)
    for start, end in [(0, 1000), (1000, 2000), (2000, 3000)]:
        assert lr_at(start, cfg) == pytest.approx(1e-5)  # warm-up begins again at every restart
        assert lr_at(start + 99, cfg) == pytest.approx(1e-3)
        assert lr_at(end - 1, cfg) == pytest.approx(1e-4, rel=1e-3)
