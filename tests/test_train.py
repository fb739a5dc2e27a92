"""The training script, at toy size: it checkpoints, exports a pipeline that loads, resumes
exactly where it stopped, restarts its learning rate where the config says, and grows a trained
network by the modules that shorten the path from given frames to new ones."""

import itertools
import json
import random
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from sora_core.registry import PROJECT_ROOT
from sora_core.tiny.model import (
    AttentionBlock,
    ClauseFilm,
    TinyFrameAutoencoder,
    TinyVideoUNet,
    attend,
    carry_last_given,
    clause_ids,
    snap_to_levels,
)
from sora_core.tiny.pipeline import SoraTinyPipeline, encode_text
from sora_core.tiny.tokenizer import build_tokenizer
from sora_core.train import (
    LatentPool,
    TrainConfig,
    block_spread,
    clip_stream,
    clip_weights,
    draw_clips,
    encode_pool,
    fit_frames,
    load_grown,
    lr_at,
    parse_args,
    place_loss,
    place_targets,
    pool_boxes,
    pool_scenes,
    reconstruction_loss,
    remake_latents,
    render_pool,
    restyled_frames,
    to_pixels,
    train,
    word_places,
)
from sora_core.world import render, sample_scene
from sora_core.world.score import background, foreground
from sora_core.world.vocab import STYLES


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


def test_a_run_stopped_at_a_step_resumes_to_the_same_weights(uninterrupted, tmp_path):
    train(toy_config(steps=4), tmp_path / "run", tmp_path / "out", stop_at_step=3)
    assert json.loads((tmp_path / "out" / "training.json").read_text())["step"] == 3
    train(toy_config(steps=4), tmp_path / "run", tmp_path / "out")
    resumed = load_file(tmp_path / "out" / "unet" / "diffusion_pytorch_model.safetensors")
    straight = load_file(uninterrupted / "out" / "unet" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)


def unet_inputs(given: int) -> tuple:
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(1, 8, 16, 16, 16, generator=generator)
    cond_mask = torch.zeros(1, 16)
    cond_mask[:, :given] = 1
    cond = latents * cond_mask[:, None, :, None, None]
    text = torch.randn(1, 5, 96, generator=generator)
    return latents, torch.full((1, 16), 0.7), cond, cond_mask, text, torch.ones(1, 5), text.mean(1)


def trained_looking_unet(**config) -> TinyVideoUNet:
    torch.manual_seed(0)
    unet = TinyVideoUNet(**config).eval()
    torch.nn.init.normal_(unet.conv_out.weight, std=0.05)  # zero at first: every output would be 0
    return unet


@torch.no_grad()
def test_a_grown_network_does_what_it_did_until_its_new_modules_learn():
    old = trained_looking_unet()
    grown = TinyVideoUNet(temporal_attention=True, clause_attention=True, clause_film=True).eval()
    assert load_grown(grown, old.state_dict()) == ["attn1.clause_bias", "attn_mid.clause_bias", "attn_up1.clause_bias",
                                                   "frame_text", "time_attn0", "time_attn_up0"]
    inputs = unet_inputs(given=4)
    clauses = torch.tensor([[0, 0, 1, 1, 1]])
    assert torch.allclose(grown(*inputs, clauses), old(*inputs), atol=1e-5)
    torch.nn.init.normal_(grown.time_attn0.attn.out_proj.weight, std=0.1)  # as training would move it
    assert not torch.allclose(grown(*inputs, clauses), old(*inputs), atol=1e-3)
    with pytest.raises(ValueError, match="does not fit"):
        load_grown(TinyVideoUNet(), grown.state_dict())


def test_tokens_from_the_first_then_on_are_the_second_clause():
    tokenizer = build_tokenizer()
    then = tokenizer.convert_tokens_to_ids("then")
    prompts = ["a red ball rolls to the right, then jumps", "first the cube grows, then it falls", "a ball rolls"]
    ids = tokenizer(prompts, padding=True, return_tensors="pt").input_ids
    clauses = clause_ids(ids, then)
    for row, clause in zip(ids[:2], clauses[:2], strict=True):
        first_then = (row == then).nonzero()[0, 0].item()
        assert (clause[:first_then] == 0).all() and (clause[first_then:] == 1).all()
    assert (clauses[2] == 0).all()


@torch.no_grad()
def test_a_clause_bias_decides_which_frames_hear_which_clause():
    torch.manual_seed(0)
    block = AttentionBlock(32, text_dim=16, max_frames=4).eval()
    block.clause_bias[:, :2, 1] = -50.0  # the first two frames do not listen to the second clause
    x, pos = torch.randn(4, 32, 2, 2), torch.zeros(1, 16, 32)
    text, mask, clauses = torch.randn(1, 6, 16), torch.ones(1, 6, dtype=torch.bool), torch.tensor([[0, 0, 0, 1, 1, 1]])
    changed = text.clone()
    changed[:, 3:] = torch.randn(1, 3, 16)  # another second clause ("then jumps" -> "then spins")
    before = block(x, text, mask, 4, pos, clauses)
    after = block(x, changed, mask, 4, pos, clauses)
    assert torch.allclose(before[:2], after[:2], atol=1e-6)  # frames 0-1: the same
    assert not torch.allclose(before[2:], after[2:], atol=1e-3)  # frames 2-3: follow the new clause


@torch.no_grad()
def test_the_clause_film_gives_each_frame_its_clause():
    torch.manual_seed(0)
    film = ClauseFilm(text_dim=16, emb_dim=8, max_frames=4)
    torch.nn.init.normal_(film.proj.weight)  # zero at first, as a grown network needs
    film.clause_bias.data[:2] = torch.tensor([50.0, 0.0])  # frames 0-1 hear the first clause,
    film.clause_bias.data[2:] = torch.tensor([0.0, 50.0])  # frames 2-3 the second
    text, mask = torch.randn(2, 6, 16), torch.ones(2, 6)
    clauses = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]])  # "A, then B" and a plain prompt
    changed = text.clone()
    changed[0, 3:] = torch.randn(3, 16)  # another second clause
    before, after = film(text, mask, clauses, 4), film(changed, mask, clauses, 4)
    assert torch.allclose(before[0, :2], after[0, :2], atol=1e-6)  # frames 0-1: the same
    assert not torch.allclose(before[0, 2:], after[0, 2:], atol=1e-3)  # frames 2-3: the new clause
    plain = film.proj(text[1].mean(0))  # one clause: every frame gets the whole prompt
    assert torch.allclose(before[1], plain.expand(4, -1), atol=1e-5)
    with torch.enable_grad():  # a dropped caption (no tokens at all) trains without NaNs
        film(text, torch.tensor([[1.0] * 6, [0.0] * 6]), clauses, 4).square().sum().backward()
    assert torch.isfinite(film.clause_bias.grad).all() and film.clause_bias.grad.abs().sum() > 0


def test_frames_to_make_see_the_last_given_frame():
    cond, mask = torch.randn(2, 8, 16, 4, 4), torch.zeros(2, 16)
    mask[0, :3] = 1
    cond = cond * mask[:, None, :, None, None]  # only given frames have a condition
    filled = carry_last_given(cond, mask)
    assert torch.equal(filled[0, :, :3], cond[0, :, :3])
    assert all(torch.equal(filled[0, :, t], cond[0, :, 2]) for t in range(3, 16))
    assert torch.equal(filled[1], cond[1])  # text-to-video: nothing given, nothing carried


@torch.no_grad()
def test_carrying_the_condition_changes_extension_only():
    plain, carrying = trained_looking_unet(), trained_looking_unet(carry_condition=True)
    assert torch.equal(plain(*unet_inputs(given=0)), carrying(*unet_inputs(given=0)))
    assert not torch.allclose(plain(*unet_inputs(given=4)), carrying(*unet_inputs(given=4)), atol=1e-3)


def test_an_old_checkpoint_trains_on_in_a_grown_network(uninterrupted, tmp_path):
    cfg = replace(toy_config(steps=6), temporal_attention=True, carry_condition=True, clause_attention=True,
                  clause_film=True)
    train(cfg, tmp_path / "run", tmp_path / "out", resume_from=uninterrupted / "run" / "checkpoint.pt")
    assert json.loads((tmp_path / "out" / "training.json").read_text())["step"] == 6
    pipe = SoraTinyPipeline.from_pretrained(tmp_path / "out")
    config = pipe.unet.config
    assert config.temporal_attention and config.carry_condition and config.clause_attention and config.clause_film
    trained = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["unet"]
    assert trained["attn1.clause_bias"].abs().max() > 1e-3  # learned at its own rate: at the base rate < 1e-4
    assert trained["frame_text.proj.weight"].abs().max() > 0  # the clause FiLM starts at zero and learns
    given = np.full((4, 64, 64, 3), 0.5, dtype=np.float32)
    frames = pipe("it rolls to the right", num_inference_steps=2, condition_frames=given,
                  generator=torch.Generator().manual_seed(0)).frames[0]
    assert frames.shape == (16, 64, 64, 3) and np.isfinite(frames).all()


def test_training_starts_from_an_exported_pipeline(uninterrupted, tmp_path):
    export = uninterrupted / "out"
    train(toy_config(steps=4), tmp_path / "same", tmp_path / "same-out", init_from=export)  # nothing left to do
    again = load_file(tmp_path / "same-out" / "unet" / "diffusion_pytorch_model.safetensors")
    shipped = load_file(export / "unet" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(again[k], shipped[k]) for k in shipped)
    train(toy_config(steps=6), tmp_path / "on", tmp_path / "on-out", init_from=export)
    assert json.loads((tmp_path / "on-out" / "training.json").read_text())["step"] == 6
    assert "_name_or_path" not in json.loads((tmp_path / "on-out" / "vae" / "config.json").read_text())
    trained = load_file(tmp_path / "on-out" / "unet" / "diffusion_pytorch_model.safetensors")
    assert not all(torch.equal(trained[k], shipped[k]) for k in shipped)


def test_tuning_the_decoder_keeps_the_encoder_and_the_video_model(uninterrupted, tmp_path):
    def weights(out, part):
        return load_file(out / part / "diffusion_pytorch_model.safetensors")

    cfg = replace(toy_config(steps=4), decoder_steps=3, decoder_clips=2)
    train(cfg, tmp_path / "run", tmp_path / "out", resume_from=uninterrupted / "run" / "checkpoint.pt")
    before, after = weights(uninterrupted / "out", "vae"), weights(tmp_path / "out", "vae")
    assert all(torch.equal(after[k], before[k]) for k in before if k.startswith("encoder."))
    assert not all(torch.equal(after[k], before[k]) for k in before if k.startswith("decoder."))
    shipped_unet, unet = weights(uninterrupted / "out", "unet"), weights(tmp_path / "out", "unet")
    assert all(torch.equal(unet[k], shipped_unet[k]) for k in shipped_unet)  # the step it was at: no step more
    assert json.loads((tmp_path / "out" / "training.json").read_text())["config"]["decoder_steps"] == 3
    assert not (tmp_path / "run" / "pool_latents.pt").exists()  # no diffusion step to take: no pool made
    train(replace(cfg, steps=6), tmp_path / "run", tmp_path / "on")  # resumed: tuned once, not again
    assert all(torch.equal(weights(tmp_path / "on", "vae")[k], after[k]) for k in after)
    train(replace(cfg, steps=8, decoder_steps=0), tmp_path / "run", tmp_path / "on")  # without the option
    assert json.loads((tmp_path / "on" / "training.json").read_text())["config"]["decoder_steps"] == 3
    assert not all(torch.equal(weights(tmp_path / "on", "unet")[k], unet[k]) for k in unet)
    # a second tune goes on from the first, with the texture term, to 5 steps in all
    train(replace(cfg, steps=8, decoder_steps=5, texture_weight=5.0, decoder_jitter=0.5), tmp_path / "run",
          tmp_path / "more")
    assert json.loads((tmp_path / "more" / "training.json").read_text())["config"]["decoder_steps"] == 5
    more, on = weights(tmp_path / "more", "vae"), weights(tmp_path / "on", "vae")
    assert not all(torch.equal(more[k], on[k]) for k in on if k.startswith("decoder."))
    assert all(torch.equal(more[k], on[k]) for k in on if k.startswith("encoder."))


def test_the_texture_term_asks_for_as_much_texture_wherever_the_grains_fall():
    gen = torch.Generator().manual_seed(0)
    truth = 0.1 * torch.randn(2, 3, 64, 64, generator=gen)  # a grainy texture
    smooth, other_grains = torch.zeros_like(truth), 0.1 * torch.randn(2, 3, 64, 64, generator=gen)
    # on pixels alone the smooth average wins; with the texture term, grains of the same spread do
    assert reconstruction_loss(smooth, truth) < reconstruction_loss(other_grains, truth)
    with_texture = [reconstruction_loss(guess, truth, texture_weight=5) for guess in (smooth, other_grains)]
    assert with_texture[0] > with_texture[1]


def test_the_decoder_can_be_tuned_on_jittered_latents():
    frames = np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    tuned = []
    for jitter in (0.0, 0.5):
        torch.manual_seed(0)
        ae = TinyFrameAutoencoder(width=16)
        ae.requires_grad_(False).decoder.requires_grad_(True)
        fit_frames(ae, frames, 1, 1e-3, toy_config(steps=1), np.random.default_rng(0), jitter=jitter)
        tuned.append(ae.decoder.state_dict())
    # one step from the same weights on the same batch: only the noise on the latents differs
    assert not all(torch.equal(tuned[0][k], tuned[1][k]) for k in tuned[0])


def test_a_run_stopped_at_step_0_is_its_new_autoencoder_and_trains_on_from_it(tmp_path):
    def vae(out):
        return load_file(out / "vae" / "diffusion_pytorch_model.safetensors")

    cfg = replace(toy_config(steps=2), latent_channels=12, ae_edge_weight=1.0)
    train(cfg, tmp_path / "run", tmp_path / "ae", stop_at_step=0)
    assert json.loads((tmp_path / "ae" / "training.json").read_text())["step"] == 0
    pipe = SoraTinyPipeline.from_pretrained(tmp_path / "ae")
    assert pipe.vae.config.latent_channels == pipe.unet.config.latent_channels == 12
    assert torch.load(tmp_path / "run" / "pool_latents.pt")["latents"].shape[1] == 12
    train(replace(cfg, ae_edge_weight=0.0), tmp_path / "plain", tmp_path / "plain-ae", stop_at_step=0)
    edged, plain = vae(tmp_path / "ae"), vae(tmp_path / "plain-ae")
    assert not all(torch.equal(edged[k], plain[k]) for k in plain)  # the edge term is in the first stage's loss
    train(replace(cfg, ae_texture_weight=5.0), tmp_path / "textured", tmp_path / "textured-ae", stop_at_step=0)
    textured = vae(tmp_path / "textured-ae")
    assert not all(torch.equal(edged[k], textured[k]) for k in edged)  # and so is the texture term
    train(cfg, tmp_path / "run", tmp_path / "out")  # the video model, on the new latents
    assert json.loads((tmp_path / "out" / "training.json").read_text())["step"] == 2
    assert all(torch.equal(vae(tmp_path / "out")[k], edged[k]) for k in edged)
    frames = SoraTinyPipeline.from_pretrained(tmp_path / "out")(
        "a red ball rolls to the right", num_inference_steps=2, generator=torch.Generator().manual_seed(0)).frames[0]
    assert frames.shape == (16, 64, 64, 3) and np.isfinite(frames).all()


def test_a_bigger_pool_starts_with_the_smaller_one():
    small, big = pool_scenes(TrainConfig(pool_clips=50)), pool_scenes(TrainConfig(pool_clips=100))
    assert [s.caption for s in big[:50]] == [s.caption for s in small]
    assert len({s.caption for s in big}) > 90  # the other 50 are new clips


def test_draw_weights_draw_a_kind_that_much_more_often():
    scenes = pool_scenes(TrainConfig(pool_clips=600))
    kinds = [s.kind for s in scenes]
    is_sequence = torch.tensor([kind == "sequence" for kind in kinds])
    share = is_sequence.float().mean().item()
    gen = torch.Generator().manual_seed(0)
    uniform = is_sequence[draw_clips(None, 600, 20000, gen)].float().mean().item()
    weights = clip_weights(TrainConfig(pool_clips=600, draw_weights={"sequence": 3.0}), kinds)
    weighted = is_sequence[draw_clips(weights, 600, 20000, gen)].float().mean().item()
    assert uniform == pytest.approx(share, abs=0.02)
    assert weighted == pytest.approx(3 * share / (3 * share + 1 - share), abs=0.02)
    assert clip_weights(TrainConfig(pool_clips=600), kinds) is None  # no weights: the runs before them draw the same
    with pytest.raises(ValueError, match="no scene kind"):
        clip_weights(TrainConfig(pool_clips=600, draw_weights={"sequense": 3.0}), kinds)


def test_the_command_line_sets_the_recipe_of_the_shipped_weights(tmp_path):
    # the options of docs/TRAINING.md's GPU stage end in the config every step reads
    args, cfg = parse_args(["--run", str(tmp_path / "new"), "--pool-clips", "12000", "--draw-weight", "sequence=3",
                            "--temporal-attention", "--carry-condition", "--clause-attention",
                            "--restarts", "28000,31100", "--steps", "33100", "--batch", "64", "--threads", "16",
                            "--device", "cuda",
                            "--refresh", "16", "--refresh-from", "31100", "--clause-film", "--latent-channels", "16",
                            "--ae-steps", "6000", "--ae-edge-weight", "0.5", "--tune-decoder", "3000",
                            "--texture-weight", "5", "--ae-texture-weight", "2", "--decoder-jitter", "0.5",
                            "--decoder-box-weight", "4", "--decoder-text", "--decoder-cells", "--cell-levels", "4"])
    assert (cfg.pool_clips, cfg.batch, cfg.threads, cfg.steps) == (12000, 64, 16, 33100)
    assert (cfg.refresh, cfg.refresh_from) == (16, 31100) and cfg.clause_film
    assert (cfg.latent_channels, cfg.ae_steps, cfg.ae_edge_weight) == (16, 6000, 0.5)
    assert (cfg.decoder_steps, cfg.texture_weight, cfg.ae_texture_weight, cfg.decoder_jitter) == (3000, 5.0, 2.0, 0.5)
    assert cfg.decoder_box_weight == 4.0 and cfg.decoder_text and cfg.decoder_cells and cfg.decoder_cell_levels == 4
    assert cfg.draw_weights == {"sequence": 3.0} and cfg.restarts == (28000, 31100)
    assert cfg.temporal_attention and cfg.carry_condition and cfg.clause_attention and args.device == "cuda"
    defaults = parse_args(["--run", str(tmp_path / "new")])[1]  # a new run: the defaults
    assert (defaults.batch, defaults.threads, defaults.steps) == (8, 2, 14000)  # the CPU recipe, unchanged
    assert (defaults.refresh, defaults.clause_film) == (0, False)
    assert (defaults.latent_channels, defaults.ae_steps, defaults.ae_edge_weight) == (8, 3000, 0.0)
    assert (defaults.decoder_steps, defaults.texture_weight, defaults.ae_texture_weight) == (0, 0.0, 0.0)
    assert defaults.decoder_jitter == defaults.decoder_box_weight == 0.0
    with pytest.raises(SystemExit):
        parse_args(["--draw-weight", "sequence"])


def test_a_resumed_run_goes_on_with_the_recipe_its_weights_were_trained_with(tmp_path):
    # session 32 resumed a stage with its options but one, and its export lost pixel art's snapped cells:
    # the checkpoint keeps the recipe, and the command line names only what changes
    cfg = replace(toy_config(steps=2), box_weight=2.0, box_kinds=("sequence",), temporal_attention=True,
                  place_context=True, draw_weights={"sequence": 3.0})
    train(cfg, tmp_path / "run", tmp_path / "out")
    resumed = parse_args(["--run", str(tmp_path / "run"), "--steps", "4", "--box-weight", "0"])[1]
    machine = TrainConfig().threads  # the threads are this machine's, not the recipe's
    assert resumed == replace(cfg, steps=4, box_weight=0.0, threads=machine)
    # a switch the recipe has on turns off by its --no- form, and an empty --box-kinds weighs every kind
    turned = parse_args(["--run", str(tmp_path / "run"), "--no-place-context", "--box-kinds", ""])[1]
    assert turned == replace(cfg, place_context=False, box_kinds=(), threads=machine)
    # so does an exported pipeline's training.json, the shipped one's too
    shipped = json.loads((PROJECT_ROOT / "assets/sora-tiny/training.json").read_text())["config"]
    started = parse_args(["--run", str(tmp_path / "new"), "--init-from", str(PROJECT_ROOT / "assets/sora-tiny")])[1]
    assert asdict(started) == {**shipped, "restarts": tuple(shipped["restarts"]), "box_kinds": (), "threads": machine}
    # a checkpoint from before checkpoints kept it: the command line is the whole recipe, as it was
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    del state["config"]
    torch.save(state, tmp_path / "old.pt")
    old = parse_args(["--run", str(tmp_path / "new"), "--resume-from", str(tmp_path / "old.pt"), "--steps", "46000"])[1]
    assert old == replace(TrainConfig(), steps=46000)


def test_a_checkpoint_trains_on_a_bigger_pool_with_weighted_draws(uninterrupted, tmp_path):
    cfg = replace(toy_config(steps=6), pool_clips=9, draw_weights={"sequence": 3.0})
    train(cfg, tmp_path / "run", tmp_path / "out", resume_from=uninterrupted / "run" / "checkpoint.pt")
    assert len(torch.load(tmp_path / "run" / "pool_latents.pt")["captions"]) == 9
    assert json.loads((tmp_path / "out" / "training.json").read_text())["config"]["draw_weights"] == {"sequence": 3.0}
    with pytest.raises(ValueError, match="holds 9 clips"):  # a cached pool of another size is not used
        train(replace(cfg, pool_clips=12, steps=8), tmp_path / "run", tmp_path / "out")


@torch.no_grad()
def test_attention_is_the_modules_own_with_its_weights():
    torch.manual_seed(0)
    self_attn = torch.nn.MultiheadAttention(32, 4, batch_first=True).eval()
    cross_attn = torch.nn.MultiheadAttention(32, 4, kdim=24, vdim=24, batch_first=True).eval()
    for mha in (self_attn, cross_attn):
        torch.nn.init.normal_(mha.in_proj_bias)  # zero at first: the biases would go untested
    x, text = torch.randn(2, 50, 32), torch.randn(2, 7, 24)
    keep = torch.ones(2, 7, dtype=torch.bool)
    keep[1, 3:] = False  # a shorter prompt: its padding must not be attended to
    assert torch.allclose(attend(self_attn, x, x), self_attn(x, x, x)[0], atol=1e-5)
    expected = cross_attn(x, text, text, key_padding_mask=~keep)[0]
    assert torch.allclose(attend(cross_attn, x, text, keep), expected, atol=1e-5)
    assert not torch.allclose(attend(cross_attn, x, text), expected, atol=1e-3)  # the mask matters


def test_the_box_weight_can_be_kept_to_some_kinds_of_clip():
    cfg = TrainConfig(pool_clips=40, box_weight=3.0, box_kinds=("sequence", "count"))
    scenes = pool_scenes(cfg)
    pool = LatentPool(cfg, torch.zeros(40, 8, 16, 16, 16), [s.caption for s in scenes], None, step=0, device="cpu")
    weighted = [bool(pool.boxes[i].any()) for i in range(40)]
    assert weighted == [scene.kind in ("sequence", "count") for scene in scenes]
    assert {scene.kind for scene in scenes} - {"sequence", "count"}  # the others are there, and left out
    for i, scene in enumerate(scenes):
        if weighted[i]:
            assert torch.equal(pool.boxes[i], torch.from_numpy(scene.box_mask(16)))
    assert parse_args(["--run", "none", "--box-weight", "3", "--box-kinds", "sequence,count"])[1].box_kinds == (
        "sequence", "count")
    with pytest.raises(ValueError, match="sequense"):
        LatentPool(replace(cfg, box_kinds=("sequense",)), torch.zeros(40, 8, 16, 16, 16), [], None, 0, "cpu")


@torch.no_grad()
def test_a_refreshing_pool_holds_the_newest_clips_however_it_got_there():
    cfg = TrainConfig(pool_clips=4, refresh=3, refresh_from=2, threads=1, draw_weights={"sequence": 3.0},
                      box_weight=3.0, layout_channels=4)
    torch.manual_seed(0)
    ae = TinyFrameAutoencoder().eval()
    frames, captions = render_pool(cfg)
    latents = encode_pool(ae, frames)
    stepped = LatentPool(cfg, latents.clone(), list(captions), ae, step=0, device="cpu")
    for step in range(6):
        stepped.advance(step)
        if step <= 2:  # nothing is swapped before (and at) the step the refreshing starts
            assert stepped.captions == captions and torch.equal(stepped.latents, latents)
    resumed = LatentPool(cfg, latents.clone(), list(captions), ae, step=5, device="cpu")
    stepped.close()
    resumed.close()
    # by step 5, 3 x 3 new clips were made: clips 9-12 of the stream, clip k in slot k % 4
    stream = [scene for scene, _ in itertools.islice(clip_stream(cfg), 13)]
    newest = [stream[k] for k in (12, 9, 10, 11)]
    for pool in (stepped, resumed):
        assert pool.made == 13
        assert pool.captions == [scene.caption for scene in newest]
        assert pool.weights.tolist() == [3.0 if scene.kind == "sequence" else 1.0 for scene in newest]
        assert torch.equal(pool.boxes, torch.from_numpy(np.stack([scene.box_mask(16) for scene in newest])))
        assert torch.equal(pool.places, torch.from_numpy(np.stack([word_places(s)[0] for s in newest])))
        assert pool.two.tolist() == [scene.kind in ("relation", "interaction") for scene in newest]
    assert torch.equal(stepped.latents, resumed.latents)
    assert not torch.equal(resumed.latents[1], latents[1])


def test_a_refreshing_run_resumes_to_the_same_weights(uninterrupted, tmp_path):
    start = uninterrupted / "run" / "checkpoint.pt"
    refreshing = replace(toy_config(steps=7), refresh=2, refresh_from=4)
    train(refreshing, tmp_path / "straight", tmp_path / "straight-out", resume_from=start)
    train(refreshing, tmp_path / "resumed", tmp_path / "resumed-out", resume_from=start, stop_at_step=5)
    train(refreshing, tmp_path / "resumed", tmp_path / "resumed-out")
    train(toy_config(steps=7), tmp_path / "kept", tmp_path / "kept-out", resume_from=start)
    weights = {name: load_file(tmp_path / f"{name}-out" / "unet" / "diffusion_pytorch_model.safetensors")
               for name in ("straight", "resumed", "kept")}
    assert all(torch.equal(weights["resumed"][k], weights["straight"][k]) for k in weights["straight"])
    assert not all(torch.equal(weights["kept"][k], weights["straight"][k]) for k in weights["straight"])


def test_a_decoder_that_hears_text_decodes_as_before_until_it_learns_then_by_the_prompt():
    torch.manual_seed(0)
    plain, hearing = TinyFrameAutoencoder(width=16), TinyFrameAutoencoder(width=16, text_dim=8)
    hearing.load_state_dict(plain.state_dict(), strict=False)  # its FiLM starts at zero
    latents, texts = torch.randn(2, 8, 16, 16), torch.randn(2, 8)
    assert torch.allclose(hearing.decode(latents, texts), plain.decode(latents))
    with pytest.raises(ValueError, match="pass `text`"):
        hearing.decode(latents)
    torch.nn.init.normal_(hearing.decoder_text.weight)
    one, other = hearing.decode(latents[:1].expand(2, -1, -1, -1), texts)
    assert not torch.allclose(one, other)  # the same latents, two prompts: two frames


def test_a_decoder_that_paints_cells_paints_flat_blocks_where_the_prompt_opens_its_gate():
    torch.manual_seed(0)
    hearing, painting = TinyFrameAutoencoder(width=16, text_dim=8), TinyFrameAutoencoder(width=16, text_dim=8,
                                                                                         cell_paint=True)
    torch.nn.init.normal_(hearing.decoder_text.weight, std=0.1)
    painting.load_state_dict(hearing.state_dict(), strict=False)
    latents, texts = torch.randn(2, 8, 16, 16), torch.randn(2, 8)
    assert torch.allclose(painting.decode(latents, texts), hearing.decode(latents, texts), atol=0.01)  # almost closed

    torch.nn.init.normal_(painting.cell_gate.weight)
    open_text = texts[0] * painting.cell_gate.weight[0].sign() * 20 / texts[0].abs().min()  # logit far above 0
    frames = painting.decode(latents[:1].expand(2, -1, -1, -1), torch.stack([open_text, -open_text]))
    one, other = block_spread(frames).amax(dim=(1, 2, 3))  # each frame's largest spread inside a 4x4 block
    assert one < 1e-3 < other  # the same latents: blocks where it opened
    fine, cells, gate = painting.paint(latents, texts)
    assert cells.shape == (2, 3, 16, 16) and gate.shape == (2, 1)
    with pytest.raises(ValueError, match="give it text_dim"):
        TinyFrameAutoencoder(width=16, cell_paint=True)


def test_snapped_colours_take_the_nearest_of_the_levels_and_pass_the_gradient_straight_through():
    colours = torch.tensor([-1.2, -0.9, -0.4, 0.1, 0.2, 0.9], requires_grad=True)
    snapped = snap_to_levels(colours, 4)
    third = 1 / 3
    assert torch.allclose(snapped, torch.tensor([-1, -1, -third, third, third, 1]))  # 0, 85, 170, 255 of 255
    snapped.sum().backward()
    assert torch.equal(colours.grad, torch.ones(6))  # as if not rounded: the cells still learn


def test_cells_snapped_to_levels_hold_a_block_still_where_the_latents_waver():
    torch.manual_seed(0)
    painting = TinyFrameAutoencoder(width=16, text_dim=8, cell_paint=True)
    snapping = TinyFrameAutoencoder(width=16, text_dim=8, cell_paint=True, cell_levels=4)
    torch.nn.init.constant_(painting.cell_gate.bias, 50.0)  # open: the frames are the cells
    snapping.load_state_dict(painting.state_dict())
    latents, texts = torch.randn(1, 8, 16, 16), torch.randn(1, 8).expand(2, -1)
    wavering = torch.cat([latents, latents + 1e-3 * torch.randn_like(latents)])  # a still frame, then the next
    with torch.no_grad():
        unsnapped, snapped = painting.decode(wavering, texts), snapping.decode(wavering, texts)
    assert (unsnapped[0] - unsnapped[1]).abs().max() > 1e-3  # regressed, the colours waver with the latents
    assert torch.allclose(snapped[0], snapped[1], atol=1e-6)  # the same colours in both frames
    levels = (snapped + 1) / 2 * 3
    assert torch.allclose(levels, levels.round(), atol=1e-5)  # every pixel on one of the 4 levels
    with pytest.raises(ValueError, match="give cell_paint"):
        TinyFrameAutoencoder(width=16, text_dim=8, cell_levels=4)


def test_a_tune_fits_the_cells_to_each_blocks_mean_even_with_their_gate_shut():
    torch.manual_seed(0)
    ae = TinyFrameAutoencoder(width=16, text_dim=8, cell_paint=True)
    torch.nn.init.constant_(ae.cell_gate.bias, -50.0)  # shut: the frames' loss alone would not move the cells
    frames = render_pool(toy_config(steps=1))[0].reshape(-1, 64, 64, 3)
    x, texts = to_pixels(frames), torch.zeros(len(frames), 8)

    def cells_error() -> float:
        with torch.no_grad():
            return F.l1_loss(ae.paint(ae.encoder(x), texts)[1], F.avg_pool2d(x, 4)).item()

    before = cells_error()
    ae.requires_grad_(True).encoder.requires_grad_(False)
    fit_frames(ae, frames, 100, 3e-3, toy_config(steps=1), np.random.default_rng(0), texts=texts)
    assert cells_error() < before / 2


def test_the_gate_learns_from_the_pixels_to_open_for_the_prompt_whose_frames_are_blocks():
    torch.manual_seed(0)
    rng = random.Random(0)
    scenes = [sample_scene(rng) for _ in range(4)]
    frames = np.concatenate([render(replace(scene, style=style))[::4] for scene in scenes
                             for style in ("pixel art", "realistic")])  # 4 frames of each clip
    prompts = torch.randn(2, 8)  # one per style
    texts = prompts.repeat_interleave(4, dim=0).repeat(4, 1)
    ae = TinyFrameAutoencoder(width=16, text_dim=8, cell_paint=True)
    ae.requires_grad_(True).encoder.requires_grad_(False)
    fit_frames(ae, frames, 100, 3e-3, replace(toy_config(steps=1), ae_batch=8), np.random.default_rng(0), texts=texts)
    gate = torch.sigmoid(ae.cell_gate(prompts))[:, 0]
    assert gate[0] > 0.8 and gate[1] < 0.2  # open for pixel art, shut for realistic: nobody said which is which


def test_tuning_a_decoder_with_cells_grows_them_and_their_gate(uninterrupted, tmp_path):
    cfg = replace(toy_config(steps=4), decoder_steps=3, decoder_clips=2, decoder_text=True, decoder_cells=True)
    train(cfg, tmp_path / "run", tmp_path / "out", resume_from=uninterrupted / "run" / "checkpoint.pt")
    vae = SoraTinyPipeline.from_pretrained(tmp_path / "out").vae
    assert vae.config.cell_paint and vae.config.text_dim
    assert vae.cell_gate.weight.abs().sum() > 0  # the gate learned to hear the prompt
    with pytest.raises(ValueError, match="give --decoder-text too"):
        train(replace(cfg, decoder_text=False), tmp_path / "deaf", tmp_path / "deaf-out",
              resume_from=uninterrupted / "run" / "checkpoint.pt")
    with pytest.raises(ValueError, match="give --decoder-cells too"):
        train(replace(cfg, decoder_cells=False, decoder_cell_levels=4), tmp_path / "unpainted",
              tmp_path / "unpainted-out", resume_from=uninterrupted / "run" / "checkpoint.pt")
    with pytest.raises(ValueError, match="this one has none"):  # no cells yet, and no tune to grow them
        train(replace(cfg, decoder_steps=0, decoder_cell_levels=4), tmp_path / "cell-less",
              tmp_path / "cell-less-out", resume_from=uninterrupted / "run" / "checkpoint.pt")

    # the decoder as it is, its cells' colours snapped from now on: a setting, no step, the same weights
    train(replace(cfg, decoder_cell_levels=4), tmp_path / "run", tmp_path / "snapped")
    snapped = SoraTinyPipeline.from_pretrained(tmp_path / "snapped").vae
    assert vae.config.cell_levels == 0 and snapped.config.cell_levels == 4
    assert all(torch.equal(a, b) for a, b in zip(vae.state_dict().values(), snapped.state_dict().values(), strict=True))
    assert json.loads((tmp_path / "snapped" / "training.json").read_text())["config"]["decoder_cell_levels"] == 4


def test_restyled_clips_are_the_worlds_render_of_the_same_clips_in_another_style():
    cfg = toy_config(steps=1)
    restyled = restyled_frames(cfg, 2, 3)
    for frames, (scene, seed) in zip(restyled, itertools.islice(clip_stream(cfg), 2, 5), strict=True):
        styles = [style for style in STYLES if np.array_equal(render(replace(scene, style=style), seed), frames)]
        assert len(styles) == 1 and styles[0] != scene.style


def test_a_tune_with_restyled_clips_learns_otherwise_and_records_it(uninterrupted, tmp_path):
    cfg = replace(toy_config(steps=4), decoder_steps=3, decoder_clips=2, decoder_text=True)
    for name, share in (("plain", 0.0), ("restyled", 1.0)):
        train(replace(cfg, decoder_restyled=share), tmp_path / name, tmp_path / f"{name}-out",
              resume_from=uninterrupted / "run" / "checkpoint.pt")
    plain, restyled = (load_file(tmp_path / f"{name}-out" / "vae" / "diffusion_pytorch_model.safetensors")
                       for name in ("plain", "restyled"))
    assert not all(torch.equal(plain[k], restyled[k]) for k in plain)
    assert json.loads((tmp_path / "restyled-out" / "training.json").read_text())["config"]["decoder_restyled"] == 1.0


def test_tuning_a_decoder_that_hears_text_grows_it_from_the_trained_text_encoder(uninterrupted, tmp_path):
    cfg = replace(toy_config(steps=4), decoder_steps=3, decoder_clips=2, decoder_text=True, texture_weight=5.0)
    train(cfg, tmp_path / "run", tmp_path / "out", resume_from=uninterrupted / "run" / "checkpoint.pt")
    pipe = SoraTinyPipeline.from_pretrained(tmp_path / "out")
    assert pipe.vae.config.text_dim == pipe.text_encoder.config.width
    shipped = SoraTinyPipeline.from_pretrained(uninterrupted / "out")
    pairs = zip(pipe.vae.encoder.parameters(), shipped.vae.encoder.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert pipe.vae.decoder_text.weight.abs().sum() > 0  # it learned to use what it hears
    latents = torch.randn(1, 8, 3, 16, 16)
    assert not np.allclose(pipe.decode_latents(latents, "a red ball, realistic"), pipe.decode_latents(latents, ""))
    # the pipeline's decoder hears the prompt, not the negative prompt of guidance
    def make(**kwargs):
        return pipe("a red ball, realistic", num_frames=4, num_inference_steps=2,
                    generator=torch.Generator().manual_seed(0), **kwargs).frames
    frames = make()
    assert frames.shape == (1, 4, 64, 64, 3)
    assert np.allclose(frames, pipe.decode_latents(make(output_type="latent"), "a red ball, realistic"), atol=1e-6)
    # resumed, it trains on with the decoder it grew; a new run has no trained text encoder to hear
    train(replace(cfg, steps=6), tmp_path / "run", tmp_path / "on")
    assert SoraTinyPipeline.from_pretrained(tmp_path / "on").vae.config.text_dim == pipe.vae.config.text_dim
    with pytest.raises(ValueError, match="trained text encoder"):
        train(cfg, tmp_path / "new", tmp_path / "new-out")
    # tuned before more video steps, it would hear a text encoder that then moves on
    with pytest.raises(ValueError, match="train to --steps 6 first"):
        train(replace(cfg, steps=6), tmp_path / "early", tmp_path / "early-out",
              resume_from=uninterrupted / "run" / "checkpoint.pt")


def test_the_box_weight_changes_what_a_run_learns(uninterrupted, tmp_path):
    start = uninterrupted / "run" / "checkpoint.pt"
    for name, cfg in (("plain", toy_config(steps=6)), ("boxed", replace(toy_config(steps=6), box_weight=3.0))):
        train(cfg, tmp_path / name, tmp_path / f"{name}-out", resume_from=start)
    plain, boxed = (load_file(tmp_path / f"{name}-out" / "unet" / "diffusion_pytorch_model.safetensors")
                    for name in ("plain", "boxed"))
    assert not all(torch.equal(plain[k], boxed[k]) for k in plain)
    assert json.loads((tmp_path / "boxed-out" / "training.json").read_text())["config"]["box_weight"] == 3.0


def test_the_video_model_remakes_the_truth_in_its_own_way_and_a_tune_decodes_its_remakes(uninterrupted, tmp_path):
    pipe = SoraTinyPipeline.from_pretrained(uninterrupted / "out")
    frames, captions = render_pool(toy_config(steps=1))
    truth = encode_pool(pipe.vae, frames[:2]).float()

    def remake(prompts, level):
        return remake_latents(pipe.unet, pipe.text_encoder, pipe.tokenizer, truth, prompts, seed=0,
                              lowest=level, highest=level).float()

    assert torch.allclose(remake(captions[:2], 0.0), truth, atol=1e-2)  # from no noise: the truth itself
    remade = remake(captions[:2], 0.5)
    assert remade.shape == truth.shape and not torch.allclose(remade, truth, atol=1e-2)
    assert not torch.allclose(remake(["a blue star spins", "a cube falls"], 0.5), remade)  # it hears the caption
    start = uninterrupted / "run" / "checkpoint.pt"
    cfg = replace(toy_config(steps=4), decoder_steps=3, decoder_clips=2)
    decoders = []
    for name, share in (("encoded", 0.0), ("remade", 0.5)):
        train(replace(cfg, decoder_remade=share), tmp_path / name, tmp_path / f"{name}-out", resume_from=start)
        decoders.append(load_file(tmp_path / f"{name}-out" / "vae" / "diffusion_pytorch_model.safetensors"))
    assert not all(torch.equal(decoders[0][k], decoders[1][k]) for k in decoders[0] if k.startswith("decoder."))


def test_the_weight_makes_an_error_inside_a_box_cost_more_than_one_outside():
    truth = torch.zeros(1, 3, 64, 64)
    box = torch.zeros(1, 1, 64, 64)
    box[..., 10:20, 10:20] = 1
    inside, outside = truth.clone(), truth.clone()
    inside[..., 10:20, 10:20] = 0.5
    outside[..., 40:50, 40:50] = 0.5
    assert torch.isclose(reconstruction_loss(inside, truth), reconstruction_loss(outside, truth))
    weight = 1 + 4 * box
    assert reconstruction_loss(inside, truth, weight=weight) > 2 * reconstruction_loss(outside, truth, weight=weight)


def test_the_decoder_tune_weighs_the_pixels_of_the_pools_things(uninterrupted, tmp_path):
    cfg = toy_config(steps=4)
    frames, _ = render_pool(cfg)
    boxes = pool_boxes(cfg, 64)
    assert boxes.shape == frames.shape[:4]
    # the boxes are the clips' own: where a clip differs from its empty scene lies inside them (a
    # pixel-art block or a soft shadow may spill over)
    for clip, box, scene in zip(frames, boxes, pool_scenes(cfg), strict=True):
        things = foreground(clip, background(scene))
        assert things.any() and (things & box).sum() >= 0.9 * things.sum()
    start = uninterrupted / "run" / "checkpoint.pt"
    tune = replace(cfg, decoder_steps=3, decoder_clips=2)
    decoders = []
    for name, weight in (("plain", 0.0), ("boxed", 4.0)):
        train(replace(tune, decoder_box_weight=weight), tmp_path / name, tmp_path / f"{name}-out", resume_from=start)
        decoders.append(load_file(tmp_path / f"{name}-out" / "vae" / "diffusion_pytorch_model.safetensors"))
    assert not all(torch.equal(decoders[0][k], decoders[1][k]) for k in decoders[0] if k.startswith("decoder."))


def test_a_run_grown_by_a_layout_resumes_to_the_same_weights_and_needs_it_to_go_on(uninterrupted, tmp_path):
    start = uninterrupted / "run" / "checkpoint.pt"  # step 4, no layout yet
    laid_out = replace(toy_config(steps=6), layout_channels=4, layout_guesses=2, place_width=8)
    train(laid_out, tmp_path / "straight", tmp_path / "straight-out", resume_from=start)
    train(laid_out, tmp_path / "stopped", tmp_path / "stopped-out", resume_from=start, stop_at_step=5)
    train(laid_out, tmp_path / "stopped", tmp_path / "stopped-out")
    # the same run with the place loss weighed 5x: the same draws, so what differs is the loss's doing
    train(replace(laid_out, place_weight=5.0), tmp_path / "heavier", tmp_path / "heavier-out", resume_from=start)
    straight, stopped, heavier = (
        {part: load_file(tmp_path / f"{name}-out" / part / "diffusion_pytorch_model.safetensors")
         for part in ("text_encoder", "unet")} for name in ("straight", "stopped", "heavier"))
    for part in straight:
        assert all(torch.equal(straight[part][k], stopped[part][k]) for k in straight[part])
    assert straight["unet"]["conv_in.weight"].shape[1] == 17 + 4
    for head in ("place_head.0.weight", "guess_head.weight"):  # the head of two guesses, an MLP
        assert not torch.equal(straight["unet"][head], heavier["unet"][head])
    text = straight["text_encoder"]
    assert not all(torch.equal(text[k], heavier["text_encoder"][k]) for k in text)  # it reaches the text encoder
    with pytest.raises(ValueError, match="--layout"):
        train(toy_config(steps=8), tmp_path / "stopped", tmp_path / "stopped-out")
    assert parse_args(["--layout", "8", "--place-weight", "2"])[1].layout_channels == 8
    assert parse_args(["--layout", "8", "--place-weight", "2"])[1].place_weight == 2.0
    cfg = parse_args(["--layout", "8", "--layout-guesses", "4", "--place-width", "256"])[1]
    assert (cfg.layout_guesses, cfg.place_width) == (4, 256)


def test_the_layout_head_fitted_alone_learns_on_the_frozen_text_encoder_and_changes_nothing_else(
        uninterrupted, tmp_path):
    laid_out = replace(toy_config(steps=6), layout_channels=4)  # the stage trains a linear head with it
    train(laid_out, tmp_path / "run", tmp_path / "stage", resume_from=uninterrupted / "run" / "checkpoint.pt")
    with pytest.raises(ValueError, match="--steps 8 first"):  # fitted on the text encoder as it is at the end
        train(replace(laid_out, steps=8, place_steps=40), tmp_path / "early", tmp_path / "early-out",
              resume_from=tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(ValueError, match="--layout"):
        train(replace(toy_config(steps=4), place_steps=40), tmp_path / "none", tmp_path / "none-out",
              resume_from=uninterrupted / "run" / "checkpoint.pt")
    # afresh, as a head of two guesses from an MLP (another shape than the stage's)
    fitted = replace(laid_out, layout_guesses=2, place_width=16, place_steps=40)
    train(fitted, tmp_path / "run", tmp_path / "fitted")
    stage, tuned = ({part: load_file(tmp_path / name / part / "diffusion_pytorch_model.safetensors")
                     for part in ("text_encoder", "unet")} for name in ("stage", "fitted"))
    assert all(torch.equal(stage["text_encoder"][k], v) for k, v in tuned["text_encoder"].items())
    rest = [k for k in tuned["unet"] if not k.startswith(("place_head.", "guess_head."))]
    assert rest and all(torch.equal(stage["unet"][k], tuned["unet"][k]) for k in rest)
    assert tuned["unet"]["place_head.0.weight"].shape == (16, 96) and "guess_head.weight" in tuned["unet"]
    assert json.loads((tmp_path / "fitted" / "training.json").read_text())["config"]["place_steps"] == 40

    def loss(name):  # the place loss on the pool's captions
        pipe = SoraTinyPipeline.from_pretrained(tmp_path / name)
        scenes = pool_scenes(laid_out)
        places, named, _ = place_targets(scenes)
        with torch.no_grad():
            tokens, _, pooled, _ = encode_text(pipe.tokenizer, pipe.text_encoder, [s.caption for s in scenes])
            return place_loss(*pipe.unet.place_guesses(tokens, pooled), places, named).item()

    assert loss("fitted") < 0.5 * loss("stage")
    # resumed with the same option, fitted once, not again: a refit would need the stage done, and it trains on
    train(replace(fitted, steps=8), tmp_path / "run", tmp_path / "on")
    on = json.loads((tmp_path / "on" / "training.json").read_text())
    assert (on["step"], on["config"]["place_steps"]) == (8, 0)  # the stage trained the head: no longer fitted alone
    train(replace(fitted, steps=8), tmp_path / "run", tmp_path / "refitted")  # so the same option fits it again
    assert json.loads((tmp_path / "refitted" / "training.json").read_text())["config"]["place_steps"] == 40
    # the same steps for a head of another shape, one that reads the sentence too: fitted afresh, not loaded
    train(replace(fitted, steps=8, place_context=True), tmp_path / "run", tmp_path / "context")
    context = SoraTinyPipeline.from_pretrained(tmp_path / "context").unet
    assert context.config.place_context and context.place_head[0].weight.shape == (16, 2 * 96)
    assert loss("context") < 0.5 * loss("stage")
    # a stage resumed into a head of another shape (a place every frame) starts that head afresh and goes on
    train(replace(laid_out, steps=10, layout_keyframes=16), tmp_path / "run", tmp_path / "frames")
    frames = load_file(tmp_path / "frames" / "unet" / "diffusion_pytorch_model.safetensors")
    assert frames["place_head.weight"].shape == (16 * 3, 96) and "guess_head.weight" not in frames
    assert json.loads((tmp_path / "frames" / "training.json").read_text())["step"] == 10
    assert parse_args(["--layout", "8", "--tune-places", "3000"])[1].place_steps == 3000
    assert parse_args(["--layout", "8", "--place-context"])[1].place_context


def exported_files(out: Path) -> dict[Path, bytes]:
    """An exported pipeline's files, by their path inside it."""
    return {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_an_export_remade_by_a_run_with_nothing_left_to_train_is_the_trained_export(uninterrupted, tmp_path):
    train(toy_config(steps=4), tmp_path / "run", tmp_path / "out", resume_from=uninterrupted / "run" / "checkpoint.pt")
    trained, remade = exported_files(uninterrupted / "out"), exported_files(tmp_path / "out")
    assert remade.keys() == trained.keys()
    for path in trained:  # the tokenizer too: its padding is what a used one records
        assert remade[path] == trained[path], path


def test_the_committed_checkpoint_exports_the_shipped_weights_as_they_are(tmp_path):
    # docs/TRAINING.md's stages go on from this checkpoint, and bench/recipe_sweep.py's GPU recipes start
    # from it: resumed with the shipped recipe (assets/sora-tiny/training.json), it must be those weights
    shipped = PROJECT_ROOT / "assets/sora-tiny"
    config = json.loads((shipped / "training.json").read_text())["config"]
    train(TrainConfig(**config), tmp_path / "run", tmp_path / "out",
          PROJECT_ROOT / "train_state/sora-tiny-step46000.pt")
    weights, exported = exported_files(shipped), exported_files(tmp_path / "out")
    assert exported.keys() == weights.keys()
    for path in weights:  # byte for byte: every tensor, config and the tokenizer
        assert exported[path] == weights[path], path
