"""Trains sora-tiny from scratch on the procedural world, on a CPU.

    python -m sora_core.train --run runs/sora-tiny --out assets/sora-tiny            # from scratch or resume
    nohup python -m sora_core.train --run runs/sora-tiny --out assets/sora-tiny > runs/train.log 2>&1 &

Three stages, all seeded, all resumable from `--run`:
1. render a pool of world clips with captions (held-out combinations excluded);
2. train the frame autoencoder on their frames, then encode the pool to latents;
3. train the text encoder and video U-Net by flow matching on those latents, with random clean
   prefixes (image-to-video and extension) and caption dropout (classifier-free guidance);
   with `--refresh`, new clips replace the oldest in the pool as it trains (GPU runs).
`--tune-decoder N` trains the autoencoder's decoder alone on, to N steps in all, with an edge term
(and `--texture-weight`'s) in its loss; the encoder, and so the latents of stage 3, stay as they are;
`--decoder-text` has it hear the prompt through the trained text encoder (tune after stage 3), and
`--decoder-cells` paint each latent cell flat where the prompt opens a gate (pixel art).
`--tune-places N` fits the layout's head afresh and alone for N steps on the trained text encoder,
frozen (after stage 3).
The U-Net and text encoder are exported with their EMA weights to `--out` at every checkpoint.
A checkpoint is small (about 45 MB, 23 without the optimiser's moments, as the committed ones are
kept); `--resume-from` takes one from elsewhere (e.g. a committed one).
A checkpoint keeps the recipe it was trained with (as `--init-from`'s training.json does), and a run
that resumes goes on with it: the command line names only what changes (`--steps 49000`; a switch
the recipe has stays on, `--no-place-context` turns one off).
"""

import argparse
import copy
import itertools
import json
import math
import multiprocessing
import random
import shutil
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import FlowMatchEulerDiscreteScheduler

from .preview import fit_rgb_projection
from .tiny.model import KEYFRAMES, TinyFrameAutoencoder, TinyTextEncoder, TinyVideoUNet, mix_cells
from .tiny.pipeline import SoraTinyPipeline, encode_text
from .tiny.tokenizer import MAX_TOKENS, build_tokenizer, layout_fits, named_colours, naming_words
from .world import SIZE, Scene, render, sample_scene
from .world.scenes import KIND_WEIGHTS, RADIUS
from .world.vocab import STYLES


@dataclass
class TrainConfig:
    seed: int = 0
    pool_clips: int = 6000
    ae_steps: int = 3000
    ae_batch: int = 32
    ae_lr: float = 1e-3
    latent_channels: int = 8
    # The first stage's weight on the L1 of pixel differences (`reconstruction_loss`); the shipped
    # chain's autoencoder had none, and its encoder drops realistic texture and pixel-art blocks.
    ae_edge_weight: float = 0.0
    ae_texture_weight: float = 0.0  # and on each 4x4 block's spread (the shipped chain's: none)
    ae_stats_frames: int = 2048  # frames that set the latent scale and the preview's RGB map
    # The decoder alone, trained on with a loss on the frames' gradients too (`tune_decoder`): the first
    # stage's decoder blurs what makes a style, and true clips through it were seen in their style
    # only 63% of the time. 0 leaves the decoder as the first stage made it.
    decoder_steps: int = 0
    decoder_clips: int = 1500
    decoder_lr: float = 3e-4
    edge_weight: float = 1.0
    # The tune's weight on each 4x4 block's spread (`reconstruction_loss`): without it the decoder
    # paints realistic texture as a smooth average and pixel-art blocks blurred.
    texture_weight: float = 0.0
    decoder_jitter: float = 0.0  # noise on the tune's latents (`fit_frames`), as the model's are imperfect
    # The tuned decoder hears the prompt (TinyFrameAutoencoder's text_dim), from the trained text
    # encoder: the video model's latents do not carry what tells realistic from plain (docs/TRAINING.md).
    decoder_text: bool = False
    # and paints each latent cell flat as far as a gate that hears the prompt opens (TinyFrameAutoencoder's
    # cell_paint): the video model's pixel art came out blurred, read as plain half the time (session 23)
    decoder_cells: bool = False
    # the gate's learning rate over the decoder's: one logit that must move by several units from almost
    # shut, where at the decoder's rate 1,500 steps opened it to 12% for pixel art (session 23)
    cell_gate_lr_scale: float = 30.0
    # the cells' colours snapped to this many levels per channel (TinyFrameAutoencoder's cell_levels; the
    # world's pixel art has 4): regressed, a still block wavered between frames (session 29). 0: as they are
    decoder_cell_levels: int = 0
    # The share of the tune's clips whose latents the video model remakes first (`remake_latents`): the
    # decoder then learns to paint the truth from latents with the model's own errors (a cube's
    # corners rounded), not only from the encoder's latents with Gaussian jitter (0: none).
    decoder_remade: float = 0.0
    # The share whose latents are of the same clip drawn by the world in another style (`restyled_frames`):
    # the decoder then learns to paint the style the prompt asks for from latents that carry another, as
    # the video model's often do (animation read as plain, realistic as animation); on the encoder's
    # latents alone the prompt told it nothing the latents did not (0: none).
    decoder_restyled: float = 0.0
    # The tune's extra weight on the pixels inside the things' boxes (the world's truth): a thing is a
    # few percent of the frame, and through the shipped decoder a small star or cube came out as a
    # smudge the scorer read as another kind (0: none).
    decoder_box_weight: float = 0.0
    steps: int = 14000
    batch: int = 8
    lr: float = 3e-4
    warmup: int = 200
    # The learning rate follows a cosine that restarts at these steps (SGDR): after each cycle the
    # weights were still far from the quality targets, and a new cycle at a high rate kept them
    # learning. Each cycle warms up again and decays to 10% at the next restart (or `steps`).
    restarts: tuple[int, ...] = (8000, 10500)
    ema: float = 0.999
    caption_dropout: float = 0.1
    # How much more often a clip of a kind is drawn than a single-motion clip (1 when unnamed):
    # sequences are a seventh of the pool and the one kind that asks for a change half-way.
    draw_weights: dict[str, float] = field(default_factory=dict)
    motion_weight: float = 3.0  # extra loss weight on latents that change over time
    # and on the latents inside the things' boxes (the world's truth): a still clip, a relation or a
    # count at rest, has no motion to weight, and its things are a tenth of the frame (0: none)
    box_weight: float = 0.0
    # the kinds of clip it weights (empty: every kind): a whole cycle of it lifted sequences and cost
    # interaction and relation (docs/TRAINING.md, session 33)
    box_kinds: tuple[str, ...] = ()
    # The U-Net's layout (TinyVideoUNet's layout_channels; 0: none): it trains on the world's truth of
    # where each named thing is, painted as a map, given to all but `layout_dropout` of the clips with no
    # given frames and a caption (the pipeline paints it in text-to-video alone)
    layout_channels: int = 0
    layout_dropout: float = 0.2
    layout_as_pipeline: bool = False  # painted only for captions the pipeline paints it for (`layout_fits`)
    layout_guesses: int = 1  # layouts the head reads, one drawn at sampling (TinyVideoUNet)
    place_width: int = 0  # the head's hidden width (0: linear)
    place_context: bool = False  # the head reads each word beside the pooled sentence (TinyVideoUNet)
    # session 31: the places read at 16 keyframes (every frame), by a head that also reads each clause, and
    # painted for sequences too: four keyframes could not hold a sequence's two motions (TinyVideoUNet)
    layout_keyframes: int = KEYFRAMES
    place_clauses: bool = False
    layout_sequences: bool = False
    # and the loss on its head reading those places from the text (`place_loss`), which the pipeline's map
    # comes from: trained by the diffusion loss alone, a word's state hardly depends on its sentence (the
    # shipped encoder's "red" in "a red ball above a blue cube" and in "... below a blue cube" agree to
    # cosine 0.99), and relations came out with their sides swapped
    place_weight: float = 1.0
    # captions per step for it, beside the clips: half from those that name two things (a relation, an
    # interaction), where a thing's place needs a reading of the whole sentence, half from any
    place_batch: int = 64
    # The head fitted afresh and alone after the stage, on the text encoder as it is (`tune_places`), for
    # this many steps (0: trained with the stage alone): trained beside the diffusion loss, on a text
    # encoder that moves, a head of 4 guesses learned far slower than alone (docs/TRAINING.md, session 19).
    place_steps: int = 0
    place_lr: float = 3e-3
    # From this step on, noise levels are shifted toward pure noise (SD3's shift, 3): the first
    # sampling steps decide the layout, and plain logit-normal rarely trains sigma > 0.9.
    high_noise_from: int = 5500
    high_noise_shift: float = 3.0
    # Shorter paths from given frames to new ones (TinyVideoUNet): attention along time at 16x16,
    # and the last given frame repeated into the condition of the frames to make.
    temporal_attention: bool = False
    carry_condition: bool = False
    clause_attention: bool = False  # each frame weighs the clauses of "A, then B" (temporal order)
    clause_film: bool = False  # and in the pooled text of every block's FiLM (ClauseFilm)
    clause_lr_scale: float = 30.0
    # From step `refresh_from` on, each step swaps the pool's `refresh` oldest clips for new ones,
    # drawn from the same seed and rendered while the model trains (a GPU run at batch 64 had seen
    # each of 12,000 clips 35 times, and a bigger pool helped); 0 keeps the pool as it is.
    refresh: int = 0
    refresh_from: int = 0
    checkpoint_every: int = 500
    threads: int = 2


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# 1. The pool -------------------------------------------------------------------------------


def clip_stream(cfg: TrainConfig, start: int = 0) -> Iterator[tuple[Scene, int]]:
    """Every clip a run can train on, in order, as (scene, render seed) from clip `start` on: the
    pool's clips first, then the ones that refresh it. All drawn from the seed, so a bigger pool
    starts with the smaller one."""
    rng = random.Random(cfg.seed)
    for i in itertools.count():
        scene = sample_scene(rng)
        if i >= start:
            yield scene, cfg.seed * 1_000_003 + i


def pool_scenes(cfg: TrainConfig) -> list[Scene]:
    """The scenes of the pool a run starts with."""
    return [scene for scene, _ in itertools.islice(clip_stream(cfg), cfg.pool_clips)]


def pool_boxes(cfg: TrainConfig, size: int) -> np.ndarray:
    """(N, T, size, size) bool: the things' boxes in each of the pool's clips, frame by frame."""
    return np.stack([scene.box_mask(size) for scene in pool_scenes(cfg)])


def word_places(scene: Scene, keyframes: int = KEYFRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Where the caption's things are, word by word: (MAX_TOKENS, 3 * keyframes) float32, for each word that
    names a thing (`naming_words`) where its things are at the keyframes (x, y and radius, in half-frames;
    a count's things by their mean), and (MAX_TOKENS,) bool marking those words. Word i is token i."""
    named = naming_words(scene.caption)
    places = np.zeros((MAX_TOKENS, 3 * keyframes), np.float32)
    for i, colour in named_colours(scene.caption).items():
        things = [t for t in scene.things if t.colour == colour]
        if not things:  # a caption the world did not write
            named[i] = False
            continue
        keys = np.linspace(0, len(things[0].x) - 1, keyframes).round().astype(int)
        place = np.mean([np.stack([t.x[keys], t.y[keys], RADIUS * t.scale[keys]], axis=1) for t in things], axis=0)
        places[i] = (place - [SIZE / 2, SIZE / 2, 0]).flatten() / (SIZE / 2)
    return places, named


def caption_places(scene: Scene, keyframes: int = KEYFRAMES) -> tuple[np.ndarray, np.ndarray, bool]:
    """The scene's `word_places`, and whether its caption names two things (half the place loss's captions)."""
    return *word_places(scene, keyframes), scene.kind in ("relation", "interaction")


def place_targets(scenes: list[Scene], keyframes: int = KEYFRAMES) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The scenes' `caption_places` stacked: places (N, MAX_TOKENS, 3 * keyframes), named and two (N,)."""
    places, named, two = zip(*(caption_places(scene, keyframes) for scene in scenes), strict=True)
    if not any(two):
        raise ValueError("the place loss reads captions that name two things; this pool has none: "
                         "give it more clips (--pool-clips)")
    return torch.from_numpy(np.stack(places)), torch.from_numpy(np.stack(named)), torch.tensor(two)


class ClipRenderer:
    """Renders the clip stream from `start` on, in order, in background processes that keep a few
    chunks ahead of the reader; bounded, so a reader slower than the renderers does not fill memory."""

    CHUNK = 32

    def __init__(self, cfg: TrainConfig, start: int, processes: int):
        self._jobs = clip_stream(cfg, start)
        self._workers = multiprocessing.get_context("fork").Pool(processes)
        self._ahead: deque = deque()
        self._ready: deque[tuple[Scene, np.ndarray]] = deque()
        self._depth = 4 * processes
        self.waited = 0.0  # seconds the reader spent waiting for clips
        self._submit()

    def _submit(self) -> None:
        while len(self._ahead) < self._depth:
            jobs = list(itertools.islice(self._jobs, self.CHUNK))
            self._ahead.append((jobs, self._workers.starmap_async(render, jobs)))

    def take(self, n: int) -> list[tuple[Scene, np.ndarray]]:
        """The next n clips of the stream, as (scene, frames (T, 64, 64, 3) uint8)."""
        while len(self._ready) < n:
            jobs, result = self._ahead.popleft()
            tick = time.time()
            self._ready.extend(zip([scene for scene, _ in jobs], result.get(), strict=True))
            self.waited += time.time() - tick
            self._submit()
        return [self._ready.popleft() for _ in range(n)]

    def close(self) -> None:
        self._workers.terminate()


def render_pool(cfg: TrainConfig, processes: int = 1) -> tuple[np.ndarray, list[str]]:
    """The pool's clips and captions; `processes` changes nothing but the time it takes."""
    frames = np.zeros((cfg.pool_clips, 16, 64, 64, 3), dtype=np.uint8)
    captions: list[str] = []
    renderer = ClipRenderer(cfg, 0, processes)
    for start in range(0, cfg.pool_clips, 1000):
        log(f"rendered {start}/{cfg.pool_clips}")
        for i, (scene, clip) in enumerate(renderer.take(min(1000, cfg.pool_clips - start)), start):
            frames[i] = clip
            captions.append(scene.caption)
    renderer.close()
    return frames, captions


def to_pixels(frames: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]"""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1


# 2. The autoencoder ------------------------------------------------------------------------


def block_spread(x: torch.Tensor, size: int = 4) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H / size, W / size): each block's standard deviation, channel by channel."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // size, size, w // size, size).std(dim=(3, 5))


def reconstruction_loss(recon: torch.Tensor, x: torch.Tensor, edge_weight: float = 0.0,
                        texture_weight: float = 0.0, weight: torch.Tensor | None = None) -> torch.Tensor:
    """L1 + MSE, plus L1 on the vertical and horizontal pixel differences: edges, outlines and pixel
    blocks, which L1 + MSE alone lets the decoder blur; plus L1 on each 4x4 block's spread. A decoder
    cannot know where each grain of a random texture was, so on pixels alone its best guess is the
    smooth average; the spread asks for as much texture as there was, wherever the grains fall (as
    texture losses compare statistics, not pixels), and for flat blocks where the truth is flat.
    `weight` (N, 1, H, W) weighs each pixel's L1 + MSE (a weighted mean)."""
    error = (recon - x).abs() + (recon - x) ** 2
    loss = error.mean() if weight is None else (error * weight).sum() / (weight.sum() * x.shape[1])
    if edge_weight:
        for dim in (-2, -1):
            loss = loss + edge_weight * F.l1_loss(recon.diff(dim=dim), x.diff(dim=dim))
    if texture_weight:
        loss = loss + texture_weight * F.l1_loss(block_spread(recon), block_spread(x))
    return loss


def cells_loss(cells: torch.Tensor, gate_logit: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A decoder's cells fitted to each block's mean of the truth `x`, and its gate to whether the truth
    is made of flat blocks (every block one colour, as pixel art is): the gate learns from the pixels
    which prompts ask for blocks. Through the frames' loss alone it hardly moved: on the encoder's latents
    the decoder's fine frames are nearly right in every style; it is the video model's latents whose
    blocks come out blurred (session 23)."""
    size = x.shape[-1] // cells.shape[-1]
    blocky = (block_spread(x, size).amax(dim=(1, 2, 3)) < 1e-3).float()  # uint8 blocks: exactly flat or not
    return F.l1_loss(cells, F.avg_pool2d(x, size)) + F.binary_cross_entropy_with_logits(gate_logit[:, 0], blocky)


def fit_frames(ae: TinyFrameAutoencoder, flat: np.ndarray, steps: int, lr: float, cfg: TrainConfig,
               gen: np.random.Generator, edge_weight: float = 0.0, texture_weight: float = 0.0,
               jitter: float = 0.0, name: str = "ae", texts: torch.Tensor | None = None,
               latents: torch.Tensor | None = None, boxes: np.ndarray | None = None) -> None:
    """The autoencoder's training loop: batches of `cfg.ae_batch` frames, AdamW with cosine decay, on
    the parameters that require grad (all of them in the first stage, the decoder's when tuning).
    `jitter` adds Gaussian noise to each frame's latents, of a standard deviation drawn from 0 to it
    (in the normalised latents' units), so that a tuned decoder meets latents as imperfect as the
    video model's, not only the encoder's. `texts` (one pooled prompt per frame of `flat`) is what a
    decoder that hears text hears; `latents` (normalised, one per frame), what it decodes instead of
    the encoder's latents of `flat` (a tune: the encoder is frozen); `boxes` (bool, one mask per frame),
    the pixels inside the things' boxes, weighted `cfg.decoder_box_weight` more."""
    gate_params = list(ae.cell_gate.parameters()) if ae.config.cell_paint else []
    rest = [p for p in ae.parameters() if p.requires_grad and all(p is not q for q in gate_params)]
    groups = [{"params": rest}] + ([{"params": gate_params, "lr_scale": cfg.cell_gate_lr_scale}] if gate_params else [])
    opt = torch.optim.AdamW(groups, lr=lr)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps)) * group.get("lr_scale", 1)
        idx = gen.integers(0, len(flat), cfg.ae_batch)
        x = to_pixels(flat[idx])
        if latents is None:
            z = ae.encoder(x)
        else:
            z = latents[idx].float() / ae.config.scaling_factor + ae.config.shift_factor
        if jitter:
            sigma = jitter * gen.random((len(z), 1, 1, 1)) / ae.config.scaling_factor
            z = z + torch.from_numpy(sigma * gen.standard_normal(z.shape)).float()
        text = None if texts is None else texts[idx]
        weight = None if boxes is None else 1 + cfg.decoder_box_weight * torch.from_numpy(boxes[idx, None]).float()
        fine, cells, gate = ae.paint(z, text)
        recon = fine if cells is None else mix_cells(fine, cells, gate, ae.config.cell_levels)
        loss = reconstruction_loss(recon, x, edge_weight, texture_weight, weight)
        if cells is not None:
            loss = loss + cells_loss(cells, gate, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log(f"{name} step {step} loss {loss.item():.4f}")


def train_autoencoder(cfg: TrainConfig, frames: np.ndarray) -> TinyFrameAutoencoder:
    torch.manual_seed(cfg.seed)
    ae = TinyFrameAutoencoder(latent_channels=cfg.latent_channels)
    flat = frames.reshape(-1, 64, 64, 3)
    gen = np.random.default_rng(cfg.seed)
    fit_frames(ae, flat, cfg.ae_steps, cfg.ae_lr, cfg, gen, cfg.ae_edge_weight, cfg.ae_texture_weight)
    return fit_latent_stats(ae, flat[gen.integers(0, len(flat), cfg.ae_stats_frames)])


@torch.no_grad()
def remake_latents(unet: TinyVideoUNet, text_encoder: TinyTextEncoder, tokenizer, latents: torch.Tensor,
                   captions: list[str], seed: int, steps: int = 5, lowest: float = 0.3, highest: float = 0.7,
                   guidance: float = 4.0, batch: int = 8) -> torch.Tensor:
    """The video model's own version of clean latents (N, C, T, h, w): each clip noised to a level drawn
    from `lowest` to `highest` and denoised back in `steps` Euler steps with its caption and the
    pipeline's guidance (SDEdit). The layout stays the truth's, the details are the model's, errors
    and all: what a decoder tuned on them learns to paint as the truth."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, len(latents), batch):
        x0, prompts = latents[i:i + batch].float(), captions[i:i + batch]
        b, _, t, _, _ = x0.shape
        tokens, mask, pooled, clauses = encode_text(tokenizer, text_encoder, [""] * b + prompts)
        start = lowest + (highest - lowest) * torch.rand(b, generator=gen)
        x = (1 - start[:, None, None, None, None]) * x0 + start[:, None, None, None, None] * torch.randn(
            x0.shape, generator=gen)
        empty, none_given = torch.zeros_like(x0).repeat(2, 1, 1, 1, 1), torch.zeros(2 * b, t)
        for k in range(steps):
            sigma, after = start * (1 - k / steps), start * (1 - (k + 1) / steps)
            velocity = unet(x.repeat(2, 1, 1, 1, 1), sigma.repeat(2)[:, None].expand(2 * b, t), empty, none_given,
                            tokens, mask, pooled, clauses)
            uncond, text = velocity.chunk(2)
            x = x + (after - sigma)[:, None, None, None, None] * (uncond + guidance * (text - uncond))
        out.append(x.half())
    return torch.cat(out)


def restyled_frames(cfg: TrainConfig, first: int, count: int) -> np.ndarray:
    """The pool's clips `first` to `first + count` rendered again, each in another style drawn at random:
    the same things in the same places, so a decoder that paints the truth from these is told nothing
    but the style the prompt asks for."""
    rng = random.Random(cfg.seed + first)
    return np.stack([render(replace(scene, style=rng.choice([s for s in STYLES if s != scene.style])), seed)
                     for scene, seed in itertools.islice(clip_stream(cfg), first, first + count)])


def tune_decoder(cfg: TrainConfig, ae: TinyFrameAutoencoder, done: int, text_encoder: TinyTextEncoder,
                 tokenizer, unet: TinyVideoUNet) -> TinyFrameAutoencoder:
    """Trains the decoder alone on the pool's first `decoder_clips` clips, from `done` steps (of earlier
    tunes) to `decoder_steps`, with the edge and texture terms in its loss. The encoder stays as it is,
    and so do the latents the video model learns on and the preview's RGB map: a decoder tuned at any
    step of a run fits the video model as it is. With `decoder_text`, the decoder grows the ears to
    hear each clip's caption (through `text_encoder`, as it is now; a tenth of them dropped, as the
    video model trains) and learns to use them; with `decoder_cells`, it grows the cells and their gate
    too; with `decoder_remade`, it decodes that share of the clips as `unet` remakes them, and with
    `decoder_restyled` that share as the world draws them in another style. Returns the autoencoder,
    grown or not."""
    frames, captions = render_pool(replace(cfg, pool_clips=cfg.decoder_clips), processes=cfg.threads)
    gen = np.random.default_rng(cfg.seed + 1 + done)
    latents = encode_pool(ae, frames) if cfg.decoder_remade or cfg.decoder_restyled else None
    if cfg.decoder_remade:
        remade = round(cfg.decoder_remade * len(latents))
        log(f"the video model remakes {remade} of the tune's {len(latents)} clips")
        latents[:remade] = remake_latents(unet, text_encoder, tokenizer, latents[:remade], captions[:remade],
                                          cfg.seed + done)
    if cfg.decoder_restyled:  # the last clips, so that a small share of each does not meet the other
        restyled = round(cfg.decoder_restyled * len(latents))
        log(f"the world draws {restyled} of the tune's {len(latents)} clips again in another style")
        latents[len(latents) - restyled:] = encode_pool(ae, restyled_frames(cfg, len(latents) - restyled, restyled))
    if latents is not None:
        latents = latents.transpose(1, 2).flatten(0, 1)  # one per frame of the flat frames
    texts = None
    if (cfg.decoder_text and not ae.config.text_dim) or (cfg.decoder_cells and not ae.config.cell_paint):
        grown = TinyFrameAutoencoder(**{**dict(ae.config), "text_dim": text_encoder.config.width,
                                        "cell_paint": cfg.decoder_cells or ae.config.cell_paint,
                                        "cell_levels": cfg.decoder_cell_levels or ae.config.cell_levels})
        missing = grown.load_state_dict(ae.state_dict(), strict=False).missing_keys
        assert all(k.startswith(("decoder_text.", "cell_")) for k in missing), missing
        ae = grown
    ae.requires_grad_(True).encoder.requires_grad_(False)  # the decoder and what it grew
    if ae.config.text_dim:
        prompts = ["" if gen.random() < cfg.caption_dropout else caption for caption in captions]
        with torch.no_grad():
            pooled = torch.cat([encode_text(tokenizer, text_encoder, prompts[i:i + 256])[2].cpu()
                                for i in range(0, len(prompts), 256)])
        texts = pooled.repeat_interleave(frames.shape[1], dim=0)  # one per frame of the flat frames
    boxes = None
    if cfg.decoder_box_weight:
        boxes = pool_boxes(replace(cfg, pool_clips=cfg.decoder_clips), frames.shape[-2]).reshape(-1, 64, 64)
    fit_frames(ae, frames.reshape(-1, 64, 64, 3), cfg.decoder_steps - done, cfg.decoder_lr, cfg, gen,
               cfg.edge_weight, cfg.texture_weight, cfg.decoder_jitter, name="decoder", texts=texts,
               latents=latents, boxes=boxes)
    return ae.eval().requires_grad_(False)


@torch.no_grad()
def fit_latent_stats(ae: TinyFrameAutoencoder, sample: np.ndarray) -> TinyFrameAutoencoder:
    """Normalises latents to unit variance and fits the linear latent -> RGB preview map."""
    x = to_pixels(sample)
    z = ae.encoder(x)
    shift, scale = z.mean().item(), 1.0 / z.std().item()
    zn = (z - shift) * scale  # (N, C, 16, 16): frames stand in for time, ratio 1
    factors, bias = fit_rgb_projection(zn.permute(1, 0, 2, 3), x.permute(1, 0, 2, 3))
    ae.register_to_config(shift_factor=shift, scaling_factor=scale,
                          latent_rgb_factors=factors.tolist(), latent_rgb_bias=bias.tolist())
    return ae


@torch.no_grad()
def encode_pool(ae: TinyFrameAutoencoder, frames: np.ndarray) -> torch.Tensor:
    """(N, T, 64, 64, 3) uint8 -> (N, C, T, 16, 16) float16 on the CPU, encoded where `ae` is."""
    out = []
    for clip in frames:
        out.append(ae.encode(to_pixels(clip).to(ae.device)).permute(1, 0, 2, 3).half().cpu())
    return torch.stack(out)


# 3. The diffusion model --------------------------------------------------------------------


def sample_condition(batch: int, frames: int, gen: torch.Generator) -> torch.Tensor:
    """(B, T) masks of given frames: half none, a fifth the first frame (image-to-video), the rest
    a clean prefix of 2..8 frames (extension)."""
    mask = torch.zeros(batch, frames)
    for b in range(batch):
        u = torch.rand((), generator=gen).item()
        if u < 0.5:
            continue
        k = 1 if u < 0.7 else int(torch.randint(2, 9, (), generator=gen))
        mask[b, :k] = 1
    return mask


def check_kinds(kinds: Iterable[str]) -> None:
    """Refuses a misspelt kind of scene, which would otherwise be weighted as nothing, silently."""
    unknown = set(kinds) - set(KIND_WEIGHTS)
    if unknown:
        raise ValueError(f"no scene kind {sorted(unknown)}; the kinds are {list(KIND_WEIGHTS)}")


def clip_weights(cfg: TrainConfig, kinds: list[str]) -> torch.Tensor | None:
    """How often each pool clip is drawn, from its kind's `draw_weights`; None when all are 1 (the
    pool's scenes are then not drawn again at all)."""
    check_kinds(cfg.draw_weights)
    if not cfg.draw_weights:
        return None
    return torch.tensor([cfg.draw_weights.get(kind, 1.0) for kind in kinds])


class LatentPool:
    """The clips the diffusion model trains on, as latents and captions: clip k of the stream sits in
    slot k % size. With `cfg.refresh`, each step from `cfg.refresh_from` on swaps the oldest
    `refresh` clips for new ones, rendered in the background while the model trains. What the pool
    holds is a function of the step alone: a resumed run renders it again and trains on what an
    uninterrupted one would have."""

    def __init__(self, cfg: TrainConfig, latents: torch.Tensor, captions: list[str],
                 ae: TinyFrameAutoencoder, step: int, device: str):
        self.cfg, self.latents, self.captions = cfg, latents, captions
        scenes = pool_scenes(cfg)
        self.weights = clip_weights(cfg, [scene.kind for scene in scenes])
        check_kinds(cfg.box_kinds)
        self.boxes = torch.from_numpy(np.stack([self._boxes(s) for s in scenes])) if cfg.box_weight else None
        self.places = self.named = self.two = None  # `place_targets`
        if cfg.layout_channels:
            self.places, self.named, self.two = place_targets(scenes, cfg.layout_keyframes)
        self.made = cfg.pool_clips  # clips of the stream made so far
        self._renderer = None
        if cfg.refresh:
            self.made = max(cfg.pool_clips, self.made_by(step) - cfg.pool_clips)  # older ones are all replaced
            self._renderer = ClipRenderer(cfg, self.made, cfg.threads)  # forks before CUDA starts, below
            self._ae = copy.deepcopy(ae).to(device)  # new clips are encoded where the model trains
            self.advance(step)

    def _boxes(self, scene: Scene) -> np.ndarray:
        boxes = scene.box_mask(self.latents.shape[-1])
        return boxes if not self.cfg.box_kinds or scene.kind in self.cfg.box_kinds else np.zeros_like(boxes)

    def made_by(self, step: int) -> int:
        return self.cfg.pool_clips + self.cfg.refresh * max(0, step - self.cfg.refresh_from)

    def advance(self, step: int) -> None:
        """Swaps in the clips made by `step` that the pool still lacks."""
        new = self.made_by(step) - self.made
        if new <= 0:
            return
        clips = self._renderer.take(new)
        latents = encode_pool(self._ae, np.stack([frames for _, frames in clips]))
        for (scene, _), latent in zip(clips, latents, strict=True):
            slot = self.made % self.cfg.pool_clips
            self.latents[slot], self.captions[slot] = latent, scene.caption
            if self.weights is not None:
                self.weights[slot] = self.cfg.draw_weights.get(scene.kind, 1.0)
            if self.boxes is not None:
                self.boxes[slot] = torch.from_numpy(self._boxes(scene))
            if self.places is not None:
                places, named, self.two[slot] = caption_places(scene, self.cfg.layout_keyframes)
                self.places[slot], self.named[slot] = torch.from_numpy(places), torch.from_numpy(named)
            self.made += 1

    def status(self) -> str:
        if self._renderer is None:
            return ""
        return f" | {self.made - self.cfg.pool_clips} new clips, {self._renderer.waited:.0f}s waiting for them"

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()


def draw_clips(weights: torch.Tensor | None, pool_size: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """A batch of pool indices: uniform (as every run before the weights) or by `weights`."""
    if weights is None:
        return torch.randint(0, pool_size, (batch,), generator=gen)
    return torch.multinomial(weights, batch, replacement=True, generator=gen)


def place_loss(guesses: torch.Tensor, logits: torch.Tensor | None, places: torch.Tensor,
               named: torch.Tensor) -> torch.Tensor:
    """How far a place head's reading of each thing-naming word (`TinyVideoUNet.place_guesses`: guesses
    B, L, G, 3 * keyframes and the logits of each guess B, G, or None for one) is from where its thing is
    (`word_places`: places B, L, 3 * keyframes and named B, L): the mean squared error over the named words.
    With several guesses, winner takes all: each caption's best guess takes the error (the others a
    twentieth of theirs, so none is left untrained) and the logits learn to pick it (cross-entropy);
    a caption that names nothing is left out."""
    error = ((guesses - places[:, :, None]) ** 2).mean(dim=-1)  # (B, L, guesses)
    per_guess = (error * named[..., None]).sum(1) / named.sum(1).clamp(min=1)[:, None]  # (B, guesses)
    names = named.any(1)  # the captions that name a thing
    if logits is None:
        loss = per_guess[:, 0]
    else:
        best = per_guess.argmin(1)
        loss = per_guess.gather(1, best[:, None])[:, 0] + 0.05 * per_guess.mean(1) + 0.1 * F.cross_entropy(
            logits, best, reduction="none")
    return (loss * names).sum() / names.sum().clamp(min=1)


def drawn_place_loss(unet: TinyVideoUNet, text_encoder: TinyTextEncoder, tokenizer, captions: list[str],
                     places: torch.Tensor, named: torch.Tensor, two: torch.Tensor, batch: int,
                     gen: torch.Generator) -> torch.Tensor:
    """The place loss on `batch` of the captions (with their `caption_places`: places, named, two), drawn
    with `gen`, half of them from those that name two things, where a thing's place needs the sentence."""
    pairs = torch.nonzero(two).flatten()
    half = batch // 2
    said = torch.cat([pairs[torch.randint(0, len(pairs), (half,), generator=gen)],
                      torch.randint(0, len(captions), (batch - half,), generator=gen)])
    tokens, mask, pooled, clauses = encode_text(tokenizer, text_encoder, [captions[i] for i in said])
    device = tokens.device
    return place_loss(*unet.place_guesses(tokens, pooled, mask, clauses), places[said].to(device),
                      named[said].to(device))


PLACE_HEADS = ("place_head.", "guess_head.")  # the layout's head: where each named thing goes, and which guess


def head_fits(unet: TinyVideoUNet, weights: dict[str, torch.Tensor]) -> bool:
    """Whether the layout head in `weights` has the shape of `unet`'s."""
    heads = {name: p.shape for name, p in unet.state_dict().items() if name.startswith(PLACE_HEADS)}
    return heads.keys() == {k for k in weights if k.startswith(PLACE_HEADS)} and all(
        weights[name].shape == shape for name, shape in heads.items())


def tune_places(cfg: TrainConfig, unet: TinyVideoUNet, text_encoder: TinyTextEncoder, tokenizer) -> None:
    """Fits `unet`'s layout head alone (as it comes: `train` gives it fresh) for `cfg.place_steps` steps of
    the place loss on the pool's captions, `text_encoder` frozen as it is. Both are EMA copies, which
    never need gradients: they are left without."""
    scenes = pool_scenes(cfg)
    places, named, two = place_targets(scenes, cfg.layout_keyframes)
    captions = [scene.caption for scene in scenes]
    text_encoder.requires_grad_(False)
    unet.requires_grad_(False)
    heads = [p for name, p in unet.named_parameters() if name.startswith(PLACE_HEADS)]
    for p in heads:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(heads, lr=cfg.place_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    for step in range(1, cfg.place_steps + 1):
        loss = drawn_place_loss(unet, text_encoder, tokenizer, captions, places, named, two, cfg.place_batch, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 200 == 0 or step == cfg.place_steps:
            log(f"layout head step {step} loss {loss.item():.4f}")
    unet.requires_grad_(False)


def diffusion_loss(unet, text_encoder, tokenizer, x0, captions, cfg: TrainConfig, gen: torch.Generator,
                   step: int, boxes: torch.Tensor | None = None, places: torch.Tensor | None = None,
                   named: torch.Tensor | None = None):
    """The flow-matching loss of a batch of clean latents x0 (B, C, T, h, w); `boxes` (B, T, h, w) marks
    the latents inside the things' boxes, weighted by `cfg.box_weight`; `places` and `named` (B, L, ...)
    are the captions' `word_places`, for a U-Net with a layout."""
    # random draws come from the CPU generator whatever the device, so a seed means the same run
    b, c, t, h, w = x0.shape
    device = x0.device
    prompts = ["" if torch.rand((), generator=gen) < cfg.caption_dropout else cap for cap in captions]
    tokens, mask, pooled, clauses = encode_text(tokenizer, text_encoder, prompts)
    cond_mask = sample_condition(b, t, gen).to(device)
    if places is not None:  # as the pipeline paints it: with a caption (`layout_fits`, if asked), no given frames
        fits = partial(layout_fits, sequences=cfg.layout_sequences) if cfg.layout_as_pipeline else bool
        painted = [fits(p) and not given and torch.rand((), generator=gen) >= cfg.layout_dropout
                   for p, given in zip(prompts, cond_mask.any(1).tolist(), strict=True)]
        named = named & torch.tensor(painted, device=device)[:, None]
    # logit-normal noise levels (SD3), one per clip; given frames are clean (sigma 0)
    sigma = torch.sigmoid(torch.randn(b, generator=gen))
    if step >= cfg.high_noise_from:
        sigma = cfg.high_noise_shift * sigma / (1 + (cfg.high_noise_shift - 1) * sigma)
    sigma = sigma[:, None].expand(b, t).to(device)
    sigma = torch.where(cond_mask > 0, 0.0, sigma)
    noise = torch.randn(x0.shape, generator=gen).to(device)
    s = sigma[:, None, :, None, None]
    xt = (1 - s) * x0 + s * noise
    cond = x0 * cond_mask[:, None, :, None, None]
    pred = unet(xt, sigma, cond, cond_mask, tokens, mask, pooled, clauses, places, named)
    target = noise - x0
    # weight the latents that move: without it the static background dominates the loss
    motion = (x0 - x0.mean(dim=2, keepdim=True)).abs().mean(dim=1, keepdim=True)
    weight = 1 + cfg.motion_weight * motion / (motion.mean(dim=(2, 3, 4), keepdim=True) + 1e-6)
    if boxes is not None:
        weight = weight + cfg.box_weight * boxes[:, None].to(weight.dtype)
    weight = weight * (1 - cond_mask)[:, None, :, None, None]
    return ((pred - target) ** 2 * weight).sum() / (weight.sum() * c)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Warm-up, then cosine decay to 10%, in cycles that start at 0 and at each of `restarts`."""
    bounds = [0, *cfg.restarts, cfg.steps]
    cycle = max(i for i in range(len(bounds) - 1) if step >= bounds[i])
    start, end = bounds[cycle], bounds[cycle + 1]
    if step - start < cfg.warmup:
        return cfg.lr * (step - start + 1) / cfg.warmup
    progress = (step - start - cfg.warmup) / max(1, end - start - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def state_of_export(folder: Path, cfg: TrainConfig) -> dict:
    """A checkpoint made of an exported pipeline: its EMA weights start both the trained and the EMA
    copies, at the step it was exported; there is no optimiser state to go on with."""
    pipe = SoraTinyPipeline.from_pretrained(folder)
    training = json.loads((folder / "training.json").read_text())
    step = training["step"]
    text, unet = pipe.text_encoder.state_dict(), pipe.unet.state_dict()
    ae_config = {k: v for k, v in pipe.vae.config.items() if not k.startswith("_")}  # not where it was loaded
    return {"step": step, "ae": pipe.vae.state_dict(), "ae_config": ae_config, "text_encoder": text,
            "ema_text": text, "unet": unet, "ema_unet": unet,
            "decoder_steps": training["config"].get("decoder_steps", 0),
            "place_steps": training["config"].get("place_steps", 0),
            "gen": torch.Generator().manual_seed(cfg.seed + step).get_state()}


GROWN_MODULES = ("time_attn", "frame_text", "place_head", "guess_head", "layout_proj")


def load_grown(unet: TinyVideoUNet, weights: dict[str, torch.Tensor]) -> list[str]:
    """Loads weights into a network that may have parts the weights lack, parts that start with
    zero output (the temporal attention, the clause biases, the clause FiLM, the layout: its input
    channels start with zero weights); returns their names."""
    weights, grown = dict(weights), []
    old, new = weights["conv_in.weight"], unet.conv_in.weight
    if old.shape[1] > new.shape[1]:
        raise ValueError(f"checkpoint does not fit the network: its input takes {old.shape[1]} channels, "
                         f"the network's {new.shape[1]} (a layout's, from --layout)")
    if old.shape[1] < new.shape[1]:  # a layout's channels, after the old inputs
        extra = old.new_zeros(old.shape[0], new.shape[1] - old.shape[1], *old.shape[2:])
        weights["conv_in.weight"] = torch.cat([old, extra], dim=1)
        grown.append("conv_in")
    result = unet.load_state_dict(weights, strict=False)
    missing = [k.split(".")[0] if k.startswith(GROWN_MODULES) else k for k in result.missing_keys]
    if result.unexpected_keys or not all(k.startswith(GROWN_MODULES) or k.endswith(".clause_bias") for k in missing):
        raise ValueError(f"checkpoint does not fit the network: {result}")
    return sorted(set(grown + missing))


def export(out: Path, tokenizer, text_encoder, unet, ae, step: int, cfg: TrainConfig) -> None:
    """Writes the pipeline with save_pretrained, atomically (a folder beside, then a rename)."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)  # more of the sampling steps at high noise
    pipe = SoraTinyPipeline(tokenizer=tokenizer, text_encoder=text_encoder, unet=unet, vae=ae, scheduler=scheduler)
    pipe.save_pretrained(tmp)
    (tmp / "training.json").write_text(json.dumps({"step": step, "config": asdict(cfg)}, indent=2))
    old = out.with_name(out.name + ".old")
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def pool_latents(cfg: TrainConfig, path: Path,
                 ae: TinyFrameAutoencoder | None) -> tuple[TinyFrameAutoencoder, torch.Tensor, list[str]]:
    """The pool as latents and captions, cached at `path`; a new run renders it and trains its
    autoencoder on it first. Returns the autoencoder, the latents and the captions."""
    if path.exists():
        pool = torch.load(path)
        latents, captions = pool["latents"], pool["captions"]
    else:
        frames, captions = render_pool(cfg, processes=cfg.threads)
        if ae is None:
            ae = train_autoencoder(cfg, frames)
        log("encoding the pool")
        latents = encode_pool(ae, frames)
        del frames
        torch.save({"latents": latents, "captions": captions}, path)
    if len(captions) != cfg.pool_clips:
        raise ValueError(f"{path} holds {len(captions)} clips, the config asks for {cfg.pool_clips}")
    return ae, latents, captions


def checkpoint_to_resume(run: Path, resume_from: Path | None) -> Path | None:
    """The checkpoint a run starts from: the one named, else the run's own, else none (a new run)."""
    own = run / "checkpoint.pt"
    return resume_from or (own if own.exists() else None)


# machine facts, not the recipe: a resumed run takes them from its command line alone
MACHINE_FIELDS = ("threads",)


def saved_recipe(run: Path, resume_from: Path | None, init_from: Path | None) -> dict | None:
    """The recipe the weights a run starts from were trained with, as their checkpoint (or, with
    `init_from`, their export's training.json) records it; None for a new run, or for a checkpoint
    made before checkpoints kept it (session 33), whose recipe the command line must give whole."""
    resume = checkpoint_to_resume(run, resume_from)
    if resume:
        # mmap: only the recipe is read here, not the weights (train() loads them)
        config = torch.load(resume, weights_only=False, map_location="cpu", mmap=True).get("config")
    elif init_from:
        config = json.loads((init_from / "training.json").read_text())["config"]
    else:
        return None
    if config is None:
        return None
    known = {f.name for f in fields(TrainConfig)} - set(MACHINE_FIELDS)
    # the tuples (restarts, box_kinds) are lists once they have been through JSON; a field the recipe
    # predates keeps its default
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in known}


def train(cfg: TrainConfig, run: Path, out: Path, resume_from: Path | None = None,
          stop_after_minutes: float | None = None, device: str = "cpu", stop_at_step: int | None = None,
          init_from: Path | None = None) -> None:
    """Runs (or resumes) all three stages in the work folder `run`, exporting the pipeline to `out`.
    The pool and the autoencoder are made on the CPU; `device` trains the diffusion model. A run can
    stop early, after `stop_after_minutes` or at `stop_at_step`, with the schedule still aimed at
    `cfg.steps`; it checkpoints there and resumes from it. `init_from` starts from an exported
    pipeline instead of a checkpoint (e.g. the shipped weights), with a new optimiser."""
    torch.set_num_threads(cfg.threads)
    run.mkdir(parents=True, exist_ok=True)
    started = time.time()
    ckpt_path = run / "checkpoint.pt"
    resume = checkpoint_to_resume(run, resume_from)
    state = torch.load(resume, weights_only=False, map_location="cpu") if resume else None
    if state is None and init_from:
        state = state_of_export(init_from, cfg)
    if cfg.decoder_cells and not cfg.decoder_text:
        raise ValueError("--decoder-cells opens its gate by the prompt: give --decoder-text too")
    if cfg.decoder_cell_levels and not cfg.decoder_cells:
        raise ValueError("--cell-levels snaps the colours of the decoder's cells: give --decoder-cells too")
    if cfg.decoder_text and not (state and "unet" in state):
        raise ValueError("a decoder that hears text needs a trained text encoder: resume from a checkpoint "
                         "of the video model (--resume-from or --init-from)")

    # stages 1-2; the autoencoder travels in the checkpoint. A run with no diffusion step left (a decoder
    # tune alone) needs no pool: rendering and encoding it took 8 minutes.
    ae = TinyFrameAutoencoder(**state["ae_config"]) if state else None
    if ae is not None:
        ae.load_state_dict(state["ae"])
    trained = state is not None and "unet" in state and state["step"] >= cfg.steps
    latents = captions = None
    if not trained:
        ae, latents, captions = pool_latents(cfg, run / "pool_latents.pt", ae)
    ae.eval().requires_grad_(False)

    # stage 3
    torch.manual_seed(cfg.seed)
    tokenizer = build_tokenizer()
    text_encoder = TinyTextEncoder(vocab_size=len(tokenizer))
    unet = TinyVideoUNet(latent_channels=ae.config.latent_channels, temporal_attention=cfg.temporal_attention,
                         carry_condition=cfg.carry_condition, clause_attention=cfg.clause_attention,
                         clause_film=cfg.clause_film, layout_channels=cfg.layout_channels,
                         layout_guesses=cfg.layout_guesses, place_width=cfg.place_width,
                         place_context=cfg.place_context, layout_keyframes=cfg.layout_keyframes,
                         place_clauses=cfg.place_clauses, layout_sequences=cfg.layout_sequences)
    ema_text, ema_unet = copy.deepcopy(text_encoder), copy.deepcopy(unet)
    gen = torch.Generator().manual_seed(cfg.seed)
    step, opt_state = 0, None
    place_steps = state.get("place_steps", 0) if state else 0
    # fitted afresh when asked for a head fitted another way: more steps, or another shape
    other_shape = bool(state and "unet" in state) and not head_fits(unet, state["unet"])
    refit = bool(cfg.place_steps) and (cfg.place_steps != place_steps or other_shape)
    if refit and not cfg.layout_channels:
        raise ValueError("--tune-places fits the layout's head: give the run's --layout too")
    if refit and not trained:
        raise ValueError("the layout's head is fitted on the text encoder as it is: train to --steps "
                         f"{cfg.steps} first, then run again with --tune-places")
    if state and "unet" in state:
        if refit or other_shape:  # a head fitted afresh, or of another shape: the old one's weights are left out
            # (a stage into a head of another shape trains it from scratch beside the rest)
            for key in ("unet", "ema_unet"):
                state[key] = {k: v for k, v in state[key].items() if not k.startswith(PLACE_HEADS)}
        text_encoder.load_state_dict(state["text_encoder"])
        ema_text.load_state_dict(state["ema_text"])
        # a checkpoint of a network without the temporal attention grows it (zero output at first);
        # the optimiser then starts afresh, its state no longer matching the parameters
        new = load_grown(unet, state["unet"])
        load_grown(ema_unet, state["ema_unet"])
        opt_state = None if new else state.get("opt")
        gen.set_state(state["gen"])
        step = state["step"]
        log(f"resumed at step {step}" + (f", new modules: {new}" if new else ""))
    decoder_steps = state.get("decoder_steps", 0) if state else 0
    tuned = cfg.decoder_steps > decoder_steps
    relevelled = bool(cfg.decoder_cell_levels) and ae.config.cell_levels != cfg.decoder_cell_levels
    if relevelled and not (ae.config.cell_paint or tuned):
        raise ValueError("--cell-levels snaps the colours of the decoder's cells, and this one has none: "
                         "grow them with more --tune-decoder steps")
    if relevelled and ae.config.cell_paint:  # a setting, not weights; a decoder that grows its cells gets it then
        ae.register_to_config(cell_levels=cfg.decoder_cell_levels)
    if tuned and cfg.decoder_text and step < cfg.steps:  # the tune comes first, on today's text encoder
        raise ValueError(f"a decoder that hears text is tuned on the text encoder as it is, here step {step}: "
                         f"train to --steps {cfg.steps} first, then run again with --tune-decoder")
    if tuned:
        log(f"tuning the decoder, steps {decoder_steps} to {cfg.decoder_steps}")
        ae = tune_decoder(cfg, ae, decoder_steps, ema_text, tokenizer, ema_unet)
        decoder_steps = cfg.decoder_steps
    if refit:
        log(f"fitting the layout's head alone, {cfg.place_steps} steps")
        tune_places(cfg, ema_unet, ema_text, tokenizer)
        unet.load_state_dict({k: v for k, v in ema_unet.state_dict().items() if k.startswith(PLACE_HEADS)},
                             strict=False)
        place_steps = cfg.place_steps
    # what the export records: the autoencoder and the layout's head as they are
    cfg = replace(cfg, decoder_steps=decoder_steps, place_steps=place_steps,
                  latent_channels=ae.config.latent_channels)
    pool = None if trained else LatentPool(cfg, latents, captions, ae, step, device)
    for model in (text_encoder, unet, ema_text, ema_unet):
        model.to(device)
    params = list(text_encoder.parameters()) + list(unet.parameters())
    # the clause biases are a few numbers each, logits that have to move by several units
    clause = [p for name, p in unet.named_parameters() if name.endswith("clause_bias")]
    rest = [p for p in params if all(p is not q for q in clause)]
    groups = [{"params": rest}] + ([{"params": clause, "lr_scale": cfg.clause_lr_scale}] if clause else [])
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=0.01)
    if opt_state:
        opt.load_state_dict(opt_state)
    ema_params = list(ema_text.parameters()) + list(ema_unet.parameters())

    def checkpoint() -> None:
        torch.save({"step": step, "ae": ae.state_dict(), "ae_config": dict(ae.config), "text_encoder":
                    text_encoder.state_dict(), "unet": unet.state_dict(), "ema_text": ema_text.state_dict(),
                    "ema_unet": ema_unet.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                    "decoder_steps": decoder_steps, "place_steps": place_steps, "config": asdict(cfg)},
                   ckpt_path.with_suffix(".tmp"))
        ckpt_path.with_suffix(".tmp").rename(ckpt_path)
        export(out, tokenizer, ema_text, ema_unet, ae, step, cfg)
        log(f"checkpoint at step {step}")

    if tuned or refit or relevelled or not ckpt_path.exists():
        checkpoint()  # a new run saves where it starts (the autoencoder, before the long stage)
    running, tick = None, time.time()  # the loss's running mean, from this process's first step
    # --stop-at-step 0 ends here: the autoencoder alone, exported to be judged (bench autoencoder)
    while step < cfg.steps and step != stop_at_step:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg) * group.get("lr_scale", 1)
        pool.advance(step)
        idx = draw_clips(pool.weights, cfg.pool_clips, cfg.batch, gen)
        loss = diffusion_loss(unet, text_encoder, tokenizer, pool.latents[idx].float().to(device),
                              [pool.captions[i] for i in idx], cfg, gen, step,
                              *(None if x is None else x[idx].to(device)
                                for x in (pool.boxes, pool.places, pool.named)))
        if cfg.layout_channels:
            loss = loss + cfg.place_weight * drawn_place_loss(unet, text_encoder, tokenizer, pool.captions, pool.places,
                                                              pool.named, pool.two, cfg.place_batch, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, params, 1 - cfg.ema)
        step += 1
        if place_steps:  # the stage trains the head too: it is no longer the one fitted alone
            place_steps = 0
            cfg = replace(cfg, place_steps=0)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            log(f"step {step} loss {running:.4f} lr {lr_at(step, cfg):.2e} {(time.time() - tick) / 50:.2f}s/step"
                + pool.status())
            tick = time.time()
        out_of_time = stop_after_minutes and time.time() - started > 60 * stop_after_minutes
        stop = out_of_time or step == stop_at_step
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or stop:
            checkpoint()
        if stop:
            log("stopping: " + ("time limit" if out_of_time else f"step {step}"))
            break
    if pool is not None:
        pool.close()


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, TrainConfig]:
    """The command line, and the TrainConfig it asks for."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/sora-tiny"), help="work folder: caches, checkpoints")
    parser.add_argument("--out", type=Path, default=Path("assets/sora-tiny"), help="where the pipeline is exported")
    parser.add_argument("--resume-from", type=Path, help="a checkpoint file to start from")
    parser.add_argument("--init-from", type=Path, help="an exported pipeline to start from (new optimiser)")
    parser.add_argument("--steps", type=int, help="total diffusion steps (default from the config)")
    parser.add_argument("--restarts", help="steps where the learning rate restarts, e.g. 8000,10500,14000")
    parser.add_argument("--pool-clips", type=int, help="clips in the pool (a bigger pool starts with the smaller)")
    parser.add_argument("--refresh", type=int, help="pool clips swapped for new ones at each step (GPU runs)")
    parser.add_argument("--refresh-from", type=int, help="the step the pool starts refreshing at")
    parser.add_argument("--draw-weight", action="append", default=[], metavar="KIND=W",
                        help="draw clips of a kind W times as often, e.g. sequence=3 (repeatable)")
    parser.add_argument("--temporal-attention", action=argparse.BooleanOptionalAction,
                        help="attention along time at 16x16")
    parser.add_argument("--carry-condition", action=argparse.BooleanOptionalAction,
                        help="repeat the last given frame forward")
    parser.add_argument("--clause-attention", action=argparse.BooleanOptionalAction,
                        help="each frame weighs the prompt's clauses")
    parser.add_argument("--clause-film", action=argparse.BooleanOptionalAction,
                        help="each frame's FiLM weighs the clauses too")
    parser.add_argument("--box-weight", type=float, help="extra loss weight inside the things' boxes, e.g. 3")
    parser.add_argument("--box-kinds", help="only in clips of these kinds, e.g. sequence,count (default, or '': all)")
    parser.add_argument("--layout", type=int, metavar="CHANNELS", dest="layout_channels",
                        help="the U-Net reads where each named thing goes and takes it painted as a map, e.g. 8")
    parser.add_argument("--layout-as-pipeline", action=argparse.BooleanOptionalAction,
                        help="paint the truth's map only where the pipeline paints one (no sequences)")
    parser.add_argument("--layout-guesses", type=int, help="layouts the head reads, one drawn per clip, e.g. 4")
    parser.add_argument("--place-width", type=int, help="the layout head's hidden width, e.g. 256 (default: linear)")
    parser.add_argument("--place-context", action=argparse.BooleanOptionalAction,
                        help="the layout head reads each word beside the whole sentence")
    parser.add_argument("--layout-keyframes", type=int, help="frames the layout's places are read at (default 4)")
    parser.add_argument("--place-clauses", action=argparse.BooleanOptionalAction,
                        help="the layout head reads each clause's mean too")
    parser.add_argument("--layout-sequences", action=argparse.BooleanOptionalAction,
                        help="paint the layout for sequences too (with --layout-keyframes 16)")
    parser.add_argument("--place-weight", type=float,
                        help="weight of the loss on the layout's head reading the places from the text (default 1)")
    parser.add_argument("--place-batch", type=int, help="captions per step for the place loss (default 64)")
    parser.add_argument("--tune-places", type=int, metavar="STEPS", dest="place_steps",
                        help="fit the layout's head afresh and alone on the trained text encoder, e.g. 3000")
    parser.add_argument("--latent-channels", type=int, help="the autoencoder's latent channels (a new run)")
    parser.add_argument("--ae-steps", type=int, help="the autoencoder's training steps (a new run)")
    parser.add_argument("--ae-edge-weight", type=float, help="its loss's weight on pixel differences (a new run)")
    parser.add_argument("--ae-texture-weight", type=float, help="its loss's weight on 4x4 blocks' spread (a new run)")
    parser.add_argument("--tune-decoder", type=int, metavar="STEPS", dest="decoder_steps",
                        help="train the decoder alone on, to this many steps in all (sharper styles)")
    parser.add_argument("--texture-weight", type=float, help="the tune's loss's weight on each 4x4 block's spread")
    parser.add_argument("--decoder-jitter", type=float, help="the most noise on the tune's latents, e.g. 0.5")
    parser.add_argument("--decoder-text", action=argparse.BooleanOptionalAction,
                        help="the tuned decoder hears the prompt")
    parser.add_argument("--decoder-cells", action=argparse.BooleanOptionalAction,
                        help="and paints each latent cell flat where the prompt opens its gate (pixel art)")
    parser.add_argument("--cell-levels", type=int, dest="decoder_cell_levels",
                        help="the cells' colours snapped to this many levels per channel (pixel art: 4)")
    parser.add_argument("--decoder-remade", type=float,
                        help="the share of the tune's clips the video model remakes first, e.g. 0.4")
    parser.add_argument("--decoder-restyled", type=float,
                        help="the share of the tune's clips decoded from the world's render in another style, e.g. 0.3")
    parser.add_argument("--decoder-box-weight", type=float, help="the tune's extra weight inside the things' boxes")
    parser.add_argument("--stop-after-minutes", type=float, help="checkpoint and stop after this long")
    parser.add_argument("--stop-at-step", type=int, help="checkpoint and stop at this step")
    parser.add_argument("--device", default="cpu", help="where the diffusion model trains, e.g. cuda")
    parser.add_argument("--batch", type=int, help="clips per step (default from the config; a GPU takes 64)")
    parser.add_argument("--threads", type=int, help="CPU threads, and processes that render the pool")
    args = parser.parse_args(argv)
    recipe = saved_recipe(args.run, args.resume_from, args.init_from)
    cfg = TrainConfig(**recipe) if recipe else TrainConfig()
    before = asdict(cfg)  # a copy: the recipe the weights were trained with, or the defaults
    # an option named as the config's field sets it as given; restarts and box_kinds come as text (below)
    given_as_is = {f.name for f in fields(TrainConfig)} - {"restarts", "box_kinds"}
    for name, value in vars(args).items():
        if name in given_as_is and value is not None:  # None: left out, as the recipe has it
            setattr(cfg, name, value)
    for pair in args.draw_weight:
        kind, _, weight = pair.partition("=")
        try:
            cfg.draw_weights[kind] = float(weight)
        except ValueError:
            parser.error(f"--draw-weight takes KIND=NUMBER, e.g. sequence=3, not {pair!r}")
    if args.restarts:
        cfg.restarts = tuple(int(step) for step in args.restarts.split(","))
    if args.box_kinds is not None:  # "" clears it: the weight in every kind's clips
        cfg.box_kinds = tuple(kind for kind in args.box_kinds.split(",") if kind)
    if recipe:
        changed = [name for name, value in asdict(cfg).items() if before[name] != value]
        log(f"the recipe of {checkpoint_to_resume(args.run, args.resume_from) or args.init_from}, "
            + (f"changed: {', '.join(changed)}" if changed else "unchanged"))
    return args, cfg


def main() -> None:
    args, cfg = parse_args()
    train(cfg, args.run, args.out, args.resume_from, args.stop_after_minutes, args.device, args.stop_at_step,
          args.init_from)


if __name__ == "__main__":
    main()
