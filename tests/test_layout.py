"""The layout: where each thing a prompt names goes, read from the text by the U-Net's place head and
painted as a map beside its input; trained on the world's truth of where the things are."""

import random
from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from bench import text_binding
from bench.layout_oracle import TruthHead, scene_at
from sora_core.tiny.model import PLACE_SIZE, TinyFrameAutoencoder, TinyTextEncoder, TinyVideoUNet, layout_map
from sora_core.tiny.pipeline import SoraTinyPipeline, encode_text
from sora_core.tiny.tokenizer import COLOUR_OF, THING_WORDS, build_tokenizer, naming_words, split_words
from sora_core.train import TrainConfig, diffusion_loss, load_grown, place_loss, pool_scenes, word_places
from sora_core.world import render
from sora_core.world.scenes import RADIUS, held_out_scenes
from sora_core.world.score import score


def test_the_words_that_name_a_thing_are_told_where_it_is_at_each_keyframe():
    scene = text_binding.relation_pair(0, "above")[0]
    scene.caption += " on a green field"  # "green": a field, not a thing
    places, named = word_places(scene)
    words = split_words(scene.caption)
    assert named.sum() == 4  # the colour and object words of the two things, nothing else
    assert np.array_equal(named, naming_words(scene.caption))  # the pipeline's rule, from the words alone
    for i in np.flatnonzero(named)[::2]:  # a colour word, then its object word
        thing = next(t for t in scene.things if t.colour == COLOUR_OF[words[i]])
        keys = [0, 5, 10, 15]
        expected = np.stack([thing.x[keys] / 32 - 1, thing.y[keys] / 32 - 1, RADIUS * thing.scale[keys] / 32], axis=1)
        assert words[i + 1] in THING_WORDS
        assert np.allclose(places[i], expected.flatten()) and np.allclose(places[i + 1], expected.flatten())
    # word i is token i: the tokenizer splits as word_places does, commas and colons apart
    tokenizer = build_tokenizer()
    for scene in pool_scenes(TrainConfig(pool_clips=100)):
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(scene.caption).input_ids)
        places, named = word_places(scene)
        assert {tokens[i] for i in np.flatnonzero(named)} <= set(COLOUR_OF) | THING_WORDS
        assert named.sum() == 2 * len({thing.colour for thing in scene.things})  # each thing is named
        if scene.facts.get("motion") == "right":  # a thing moving right ends further right than it starts
            x = places[named][0].reshape(4, 3)[:, 0]
            assert x[-1] > x[0] and (np.diff(x) >= 0).all()


def test_the_layout_paints_each_named_thing_where_it_is_frame_by_frame():
    # word 0 names a thing that jumps left to right: up at the middle keyframes; word 1 is not named
    jump = [[-0.5, 0.0, 0.2], [-1 / 6, -0.5, 0.2], [1 / 6, -0.5, 0.2], [0.5, 0.0, 0.2]]
    places = torch.tensor([[sum(jump, []), [0.5, 0.5, 0.2] * 4]])
    named = torch.tensor([[True, False]])
    features = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    painted = layout_map(places, named, features, frames=16, size=16)  # (1, 2, 16, 16, 16)
    assert painted[0, 1].abs().max() == 0  # an unnamed word is not painted

    def peak(frame: int) -> tuple[float, float]:
        """The thing's place in a frame, in half-frames: the centre of its painted cells."""
        row, col = np.unravel_index(painted[0, 0, frame].argmax().item(), (16, 16))
        return (col + 0.5) / 8 - 1, (row + 0.5) / 8 - 1

    assert peak(0) == pytest.approx((-0.5, 0.0), abs=1 / 16)
    assert peak(5) == pytest.approx((-1 / 6, -0.5), abs=1 / 8)  # the second keyframe, up in the air
    assert peak(15) == pytest.approx((0.5, 0.0), abs=1 / 16)
    assert 0.8 < painted[0, 0].amax(dim=(1, 2)).min() <= 1  # the word's features, at full strength
    assert painted[0, 0, 0, 0, 15] < 1e-3  # and nothing far from it


def unet_inputs() -> tuple:
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(1, 8, 16, 16, 16, generator=generator)
    text = torch.randn(1, 5, 96, generator=generator)
    return latents, torch.full((1, 16), 0.7), torch.zeros_like(latents), torch.zeros(1, 16), text, torch.ones(1, 5), \
        text.mean(1), None


@torch.no_grad()
def test_a_network_grown_by_a_layout_does_what_it_did_until_it_learns_to_read_it():
    torch.manual_seed(0)
    old = TinyVideoUNet().eval()
    torch.nn.init.normal_(old.conv_out.weight, std=0.05)  # zero at first: every output would be 0
    grown = TinyVideoUNet(layout_channels=4).eval()
    assert load_grown(grown, old.state_dict()) == ["conv_in", "layout_proj", "place_head"]
    inputs = unet_inputs()
    places, named = torch.rand(1, 5, PLACE_SIZE) * 2 - 1, torch.tensor([[False, True, True, False, False]])
    assert torch.allclose(grown(*inputs, places, named), old(*inputs), atol=1e-5)
    torch.nn.init.normal_(grown.conv_in.weight[:, -4:], std=0.1)  # as training would move it
    assert not torch.allclose(grown(*inputs, places, named), old(*inputs), atol=1e-3)
    assert torch.allclose(grown(*inputs), old(*inputs), atol=1e-5)  # no layout given: none painted
    moved = places.clone()
    moved[..., 0::3] *= -1  # the named things mirrored
    assert not torch.allclose(grown(*inputs, moved, named), grown(*inputs, places, named), atol=1e-3)
    with pytest.raises(ValueError, match="does not fit"):
        load_grown(TinyVideoUNet(), grown.state_dict())


def tiny_layout_pipeline(guesses: int = 1, **layout) -> SoraTinyPipeline:
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    unet = TinyVideoUNet(layout_channels=4, layout_guesses=guesses, **layout).eval()
    return SoraTinyPipeline(tokenizer=tokenizer, text_encoder=TinyTextEncoder(vocab_size=len(tokenizer)),
                            unet=unet, vae=TinyFrameAutoencoder().eval(),
                            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))


def test_the_pipeline_paints_where_its_text_encoder_reads_the_things_in_text_to_video_alone():
    pipe = tiny_layout_pipeline()
    seen = []
    forward = pipe.unet.forward
    pipe.unet.forward = lambda *args: seen.append(args[-2:]) or forward(*args)
    prompt = "a red ball above a blue cube"
    pipe(prompt, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    places, named = seen[-1]
    assert named.tolist() == [[False] * 40, naming_words(prompt).tolist()]  # the negative prompt names nothing
    with torch.no_grad():
        tokens = encode_text(pipe.tokenizer, pipe.text_encoder, ["", prompt])[0]
        assert torch.allclose(places, pipe.unet.place_head(tokens))
    seen.clear()
    pipe(prompt, num_inference_steps=2, condition_frames=np.zeros((2, 64, 64, 3), np.float32))
    assert seen[-1] == (None, None)  # given frames already say where the things are
    seen.clear()
    for prompt, painted in (("a red ball jumps, then it rolls to the left", False),  # two motions, four keyframes
                            ("three green cubes on the grass", True), ("a ball on the grass", False)):
        pipe(prompt, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
        assert (seen[-1][1] is not None) == painted, prompt  # the last names no thing: nothing to place
    # bench/layout_oracle.py paints the world's truth instead of what the head reads
    scene = text_binding.relation_pair(0, "above")[0]
    truth = torch.from_numpy(word_places(scene)[0])
    pipe.unet.place_head = TruthHead(truth)
    pipe(scene.caption, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(seen[-1][0][1], truth) and not seen[-1][0][0].any()


def test_a_layout_of_every_frame_is_painted_for_a_sequence_where_the_unet_learned_one():
    pipe = tiny_layout_pipeline(guesses=2, layout_keyframes=16, place_width=32, place_context=True,
                                place_clauses=True, layout_sequences=True)
    seen = []
    forward = pipe.unet.forward
    pipe.unet.forward = lambda *args: seen.append(args[-2:]) or forward(*args)
    prompt = "a red ball jumps, then it rolls to the left"
    pipe(prompt, num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    places, named = seen[-1]
    assert places.shape == (2, 40, 48) and named[1].tolist() == naming_words(prompt).tolist()
    with torch.no_grad():  # the head read it beside each clause: a text without them is refused
        tokens, mask, pooled, clauses = encode_text(pipe.tokenizer, pipe.text_encoder, ["", prompt])
        assert any(torch.equal(places[1], guess) for guess in pipe.unet.place_guesses(tokens, pooled, mask,
                                                                                       clauses)[0][1].unbind(1))
    with pytest.raises(ValueError, match="clause"):
        pipe.unet.place_guesses(tokens, pooled)
    # the truth at 16 keyframes is where the things are in every frame
    scene = next(s for s in pool_scenes(TrainConfig(pool_clips=200)) if s.kind == "sequence")
    truth, named = word_places(scene, keyframes=16)
    thing = scene.things[0]
    track = np.stack([thing.x / 32 - 1, thing.y / 32 - 1, RADIUS * thing.scale / 32], axis=1)
    assert np.allclose(truth[np.flatnonzero(named)[0]], track.flatten(), atol=1e-6)


def test_the_pipeline_draws_one_of_the_heads_guesses_with_its_seed():
    pipe = tiny_layout_pipeline(guesses=4)
    seen = []
    forward = pipe.unet.forward
    pipe.unet.forward = lambda *args: seen.append(args[-2]) or forward(*args)
    prompt = "a red ball and a blue cube collide and bounce apart"
    with torch.no_grad():
        tokens, _, pooled, _ = encode_text(pipe.tokenizer, pipe.text_encoder, ["", prompt])
        guesses = pipe.unet.place_guesses(tokens, pooled)[0][1]  # (L, 4, PLACE_SIZE)
    drawn = []
    for seed in (0, 1, 2, 3, 4, 5, 0):
        pipe(prompt, num_inference_steps=1, generator=torch.Generator().manual_seed(seed))
        drawn.append(next(g for g in range(4) if torch.equal(seen[-1][1], guesses[:, g])))
    assert len(set(drawn)) > 1 and drawn[0] == drawn[-1]  # the seed decides, and the same seed again


def test_the_truth_is_painted_for_the_clips_with_a_caption_and_no_given_frames_or_as_the_pipeline_paints():
    cfg = TrainConfig(caption_dropout=0.0, layout_dropout=0.0, layout_channels=4)
    scenes = pool_scenes(TrainConfig(pool_clips=32))
    places, named = (torch.from_numpy(np.stack(x)) for x in zip(*map(word_places, scenes), strict=True))
    seen = {}

    def unet(*args):
        seen["cond_mask"], seen["places"], seen["named"] = args[3], args[-2], args[-1]
        return torch.zeros_like(args[0])

    tokenizer = build_tokenizer()
    x0 = torch.randn(32, 8, 16, 16, 16)
    diffusion_loss(unet, TinyTextEncoder(vocab_size=len(tokenizer)), tokenizer, x0, [s.caption for s in scenes], cfg,
                   torch.Generator().manual_seed(0), step=0, places=places, named=named)
    free = ~seen["cond_mask"].bool().any(1)
    assert 0 < free.sum() < 32  # some clips of the batch have given frames, some none
    assert torch.equal(seen["named"], named & free[:, None]) and torch.equal(seen["places"], places)
    diffusion_loss(unet, TinyTextEncoder(vocab_size=len(tokenizer)), tokenizer, x0, [s.caption for s in scenes],
                   replace(cfg, layout_dropout=0.5), torch.Generator().manual_seed(0), step=0, places=places,
                   named=named)
    painted = seen["named"].any(1)
    assert 0 < painted.sum() < free.sum()  # a share of those left without, so the model works without one too
    # trained as the pipeline paints it: no map for a sequence, whose four keyframes cannot hold two motions
    sequence = torch.tensor(["then" in s.caption.split() for s in scenes])
    assert (sequence & free & named.any(1)).any()
    diffusion_loss(unet, TinyTextEncoder(vocab_size=len(tokenizer)), tokenizer, x0, [s.caption for s in scenes],
                   replace(cfg, layout_as_pipeline=True), torch.Generator().manual_seed(0), step=0, places=places,
                   named=named)
    assert torch.equal(seen["named"], named & (free & ~sequence)[:, None])
    # a layout that holds every frame is painted for sequences too (layout_sequences), as its pipeline paints it
    diffusion_loss(unet, TinyTextEncoder(vocab_size=len(tokenizer)), tokenizer, x0, [s.caption for s in scenes],
                   replace(cfg, layout_as_pipeline=True, layout_sequences=True), torch.Generator().manual_seed(0),
                   step=0, places=places, named=named)
    assert torch.equal(seen["named"], named & free[:, None])


def test_the_place_loss_teaches_a_text_encoder_which_named_thing_is_where():
    # captions in pairs one word apart: "a red ball above a blue cube" / "... below ...", "left of" /
    # "right of". Trained by the place loss, a text encoder tells which named thing is where; a fresh one,
    # as blind to word order as the diffusion loss left the shipped one, does not (bench/text_binding.py)
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    fresh, encoder = (TinyTextEncoder(vocab_size=len(tokenizer)) for _ in range(2))
    head = torch.nn.Linear(encoder.config.width, PLACE_SIZE)
    opt = torch.optim.AdamW([*encoder.parameters(), *head.parameters()], lr=3e-3)
    for step in range(150):
        captions, places, named, _ = text_binding.batch(range(16 * step, 16 * step + 16))
        loss = place_loss(head(encode_text(tokenizer, encoder, captions)[0])[:, :, None], None, places, named)
        opt.zero_grad()
        loss.backward()
        opt.step()
    captions, places, named, axes = text_binding.batch(range(10**6, 10**6 + 40))
    with torch.no_grad():
        read = head(encode_text(tokenizer, encoder, captions)[0])
    assert text_binding.read_in_order(read, places, named, axes) > 0.9
    # the bench's probe, fitted on the frozen states, finds the order in the trained encoder alone
    assert text_binding.probe(tokenizer, encoder, pairs=40, steps=150) > 0.9
    assert text_binding.probe(tokenizer, fresh, pairs=40, steps=150) < 0.7


def fit_head(unet: TinyVideoUNet, tokens, pooled, places, named, *clauses) -> TinyVideoUNet:
    """`unet` with its layout head (and guess head) fitted alone by the place loss, 300 steps; `clauses`: the
    text's mask and clause ids, for a head that reads them."""
    opt = torch.optim.AdamW([p for name, p in unet.named_parameters() if "_head" in name], lr=1e-2)
    for _ in range(300):
        loss = place_loss(*unet.place_guesses(tokens, pooled, *clauses), places, named)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return unet


def test_a_head_with_several_guesses_reads_each_layout_a_caption_allows_and_draws_them_by_the_seed():
    # one caption, two layouts in the truth: the first thing on the left and the second on the right, or
    # the other way round (a collision says neither). One guess learns the mean, both things in the middle;
    # two guesses learn both layouts, and the pipeline's draw picks each about half the time.
    torch.manual_seed(0)
    tokens, pooled = torch.randn(1, 2, 96).expand(64, -1, -1), torch.randn(1, 96).expand(64, -1)
    sides = torch.tensor([1.0, -1.0]).repeat(32)[:, None]
    places = torch.zeros(64, 2, PLACE_SIZE)
    places[:, 0, 0::3], places[:, 1, 0::3] = -0.5 * sides, 0.5 * sides  # x at every keyframe
    named = torch.ones(64, 2, dtype=torch.bool)
    read = {}
    for guesses in (1, 2):
        unet = fit_head(TinyVideoUNet(layout_channels=4, layout_guesses=guesses, place_width=32),
                        tokens, pooled, places, named)
        with torch.no_grad():
            read[guesses] = unet.read_places(tokens, pooled, torch.Generator().manual_seed(0))[:, 0, 0]  # thing 1's x
    assert read[1].abs().max() < 0.1  # the mean of the two layouts: the middle
    assert torch.allclose(read[2].abs(), torch.full((64,), 0.5), atol=0.1)  # always one of the two layouts
    assert 16 < (read[2] < 0).sum() < 48  # each drawn about half the time


def test_a_head_that_hears_the_sentence_places_a_word_by_the_verb_elsewhere_in_it():
    # one word, the same state in every caption; where its thing goes depends on the sentence (a chase
    # leaves a gap, a push none): read from the word alone the head learns the mean of both, read beside the
    # pooled sentence (place_context) it learns each
    torch.manual_seed(0)
    tokens = torch.randn(1, 1, 96).expand(64, -1, -1)
    sentences = torch.randn(2, 96)
    pooled = sentences.repeat(32, 1)
    places = torch.zeros(64, 1, PLACE_SIZE)
    places[:, 0, 0::3] = torch.tensor([0.5, -0.5]).repeat(32)[:, None]  # x at every keyframe
    named = torch.ones(64, 1, dtype=torch.bool)
    read = {}
    for context in (False, True):
        unet = fit_head(TinyVideoUNet(layout_channels=4, place_width=32, place_context=context),
                        tokens, pooled, places, named)
        with torch.no_grad():
            read[context] = unet.read_places(tokens, pooled)[:, 0, 0]
    assert read[False].abs().max() < 0.1
    assert torch.allclose(read[True], places[:, 0, 0], atol=0.1)


def test_a_layout_moved_back_into_its_scene_renders_what_it_says():
    # bench/layout_oracle.py renders a head's layouts by the world: the truth's places give back a scene
    # the scorer reads as asked, and the same places with left and right swapped one it does not
    scenes = held_out_scenes(random.Random(5), 6, lambda s: s.kind in ("relation", "interaction"))
    for scene in scenes:
        places = word_places(scene)[0]
        assert score(render(scene_at(scene, places), seed=0), scene)[scene.kind]
    relation = next(s for s in held_out_scenes(random.Random(5), 40, lambda s: s.kind == "relation")
                    if s.facts["relation"] in ("left of", "right of"))
    mirrored = word_places(relation)[0].copy()
    mirrored[:, 0::3] *= -1  # every x at every keyframe
    assert not score(render(scene_at(relation, mirrored), seed=0), relation)["relation"]


def test_a_head_that_reads_the_clauses_knows_which_event_comes_first():
    # "a ball rolls right, then it jumps" and "a ball jumps, then it rolls right": the same words, so the same
    # pooled sentence, the thing's word the same state; where the thing is at each frame depends on the order.
    # Beside the pooled sentence alone the head learns the mean of both tracks; beside each clause's mean
    # (place_clauses) it learns each
    torch.manual_seed(0)
    word, first, second = torch.randn(3, 96)
    tokens = torch.stack([torch.stack([word, first, second]), torch.stack([word, second, first])]).repeat(32, 1, 1)
    pooled = tokens.mean(1)
    mask, clauses = torch.ones(64, 3, dtype=torch.bool), torch.tensor([0, 0, 1]).expand(64, -1)
    rolls_first = torch.tensor([min(f, 7) / 7 for f in range(16)])  # x: right over frames 0-7, then still
    rolls_second = torch.tensor([max(f - 8, 0) / 7 for f in range(16)])  # still, then right over frames 8-15
    places = torch.zeros(64, 3, 48)
    places[:, 0, 0::3] = torch.stack([rolls_first, rolls_second]).repeat(32, 1)
    named = torch.tensor([True, False, False]).expand(64, -1)
    read = {}
    for reads_clauses in (False, True):
        unet = fit_head(TinyVideoUNet(layout_channels=4, layout_keyframes=16, place_width=32, place_context=True,
                                      place_clauses=reads_clauses), tokens, pooled, places, named, mask, clauses)
        with torch.no_grad():
            read[reads_clauses] = unet.read_places(tokens, pooled, None, mask, clauses)[:, 0, 0::3]
    assert (read[False][0] - read[False][1]).abs().max() < 0.1  # one track for both orders
    assert torch.allclose(read[True], places[:, 0, 0::3], atol=0.1)
