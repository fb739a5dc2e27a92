"""sora-tiny, the built-in model, top to bottom: a text encoder, a frame autoencoder and a (2+1)D
video U-Net that denoises autoencoder latents by flow matching.

Shapes: video latents are (B, C, T, H, W) = (B, 8, 16, 16, 16) for a 16-frame 64x64 clip.
Each model is a diffusers `ModelMixin`/`ConfigMixin`, so it saves as safetensors with its config.
"""

import math

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

# ---------------------------------------------------------------------------------------------
# Text encoder: word embeddings and a small transformer. The world's captions are short, and a
# word-level tokenizer makes "which words does the model know" a simple vocabulary lookup.


class TinyTextEncoder(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, vocab_size: int = 512, width: int = 96, layers: int = 2, heads: int = 4, max_len: int = 40):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width)
        self.pos = nn.Parameter(torch.zeros(max_len, width))
        layer = nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids, mask: (B, L). Returns tokens (B, L, D) and a pooled vector (B, D)."""
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        x = self.norm(self.blocks(x, src_key_padding_mask=~mask.bool()))
        m = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1)
        return x, pooled


# ---------------------------------------------------------------------------------------------
# Frame autoencoder: 64x64x3 <-> 16x16x8. A light encoder (it runs on every training clip once
# and on uploads) and a heavier decoder that paints crisp frames.


class ResBlock2d(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, channels), nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(8, channels), nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


CELL_GATE_CLOSED = -6.0  # the cell gate's first logit: sigmoid 0.25%, a trained decoder's frames all but kept


class TinyFrameAutoencoder(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, latent_channels: int = 8, width: int = 64, scaling_factor: float = 1.0,
                 shift_factor: float = 0.0, latent_rgb_factors: list[list[float]] | None = None,
                 latent_rgb_bias: list[float] | None = None, text_dim: int = 0, cell_paint: bool = False,
                 cell_levels: int = 0):
        # latent_rgb_*: a least-squares linear map from latents to 16x16 RGB in [-1, 1], fitted
        # after training; it makes a live preview cost almost nothing (as ComfyUI and FramePack do).
        # text_dim > 0: the decoder hears the prompt (the text encoder's pooled vector) through FiLM
        # after each residual block, as a cascade's later stages hear the text (Imagen Video): the
        # video model's latents lose the faint signal that tells realistic from plain, the prompt
        # still says it. It starts at zero, so it can be added to a trained decoder.
        # cell_paint: the decoder can also paint each latent cell (a 4x4 block of pixels) in one flat
        # colour, mixed in as far as a gate that hears the prompt opens. Pixel art is that look, and the
        # convolutions after each upsampling blur the blocks the video model's latents hold only roughly.
        # The gate starts almost closed (CELL_GATE_CLOSED), so it too can be added to a trained decoder.
        # cell_levels > 1: each cell's colour is snapped to that many levels per channel (`snap_to_levels`),
        # pixel art's few colours: regressed, a still block's colour wavered from frame to frame by a level's
        # fraction, and the clip flickered where pixel art holds still (session 29). 0: not snapped.
        super().__init__()
        if cell_paint and not text_dim:
            raise ValueError("a decoder that paints cells opens its gate by the prompt: give it text_dim too")
        if cell_levels and (not cell_paint or cell_levels < 2):
            raise ValueError(f"cell_levels snaps the colours of painted cells: give cell_paint, and 2 or "
                             f"more levels, not {cell_levels}")
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w // 2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w // 2, w, 4, stride=2, padding=1), nn.SiLU(),  # 32x32
            nn.Conv2d(w, w, 4, stride=2, padding=1), nn.SiLU(),  # 16x16
            ResBlock2d(w), nn.Conv2d(w, latent_channels, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, w, 3, padding=1), ResBlock2d(w),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(w, w, 3, padding=1), ResBlock2d(w),  # 32
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(w, w // 2, 3, padding=1), ResBlock2d(w // 2),
            nn.GroupNorm(8, w // 2), nn.SiLU(), nn.Conv2d(w // 2, 3, 3, padding=1),  # 64
        )
        self._film_widths = [2 * m.conv2.out_channels for m in self.decoder if isinstance(m, ResBlock2d)]
        if text_dim:
            self.decoder_text = nn.Linear(text_dim, sum(self._film_widths))
            nn.init.zeros_(self.decoder_text.weight)
            nn.init.zeros_(self.decoder_text.bias)
        if cell_paint:
            self.cell_colour = nn.Conv2d(w, 3, 1)
            self.cell_gate = nn.Linear(text_dim, 1)
            nn.init.zeros_(self.cell_gate.weight)
            nn.init.constant_(self.cell_gate.bias, CELL_GATE_CLOSED)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, 3, 64, 64) in [-1, 1] -> normalised latents (N, latent_channels, 16, 16)."""
        return (self.encoder(frames) - self.config.shift_factor) * self.config.scaling_factor

    def decode(self, latents: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        """normalised latents (N, C, 16, 16) -> frames (N, 3, 64, 64) in [-1, 1]; text (N, text_dim):
        each frame's pooled prompt, needed when the decoder hears text."""
        return self.run_decoder(latents / self.config.scaling_factor + self.config.shift_factor, text)

    def run_decoder(self, h: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder on the encoder's own (unnormalised) latents, as training sees them."""
        fine, cells, gate = self.paint(h, text)
        return fine if cells is None else mix_cells(fine, cells, gate, self.config.cell_levels)

    def paint(self, h: torch.Tensor, text: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The decoder's parts, which `run_decoder` mixes: the frames its convolutions paint, and when
        it paints cells, the cells' flat colours (N, 3, 16, 16) and the gate's logit (N, 1), which a
        tune fits apart (`fit_frames`), else None and None."""
        if not self.config.text_dim:
            return self.decoder(h), None, None
        if text is None:
            raise ValueError("this decoder hears the prompt: pass `text`, the pooled text of each frame")
        films = iter(self.decoder_text(text).split(self._film_widths, dim=1))
        cells = None
        for layer in self.decoder:
            h = layer(h)
            if isinstance(layer, ResBlock2d):
                scale, shift = next(films)[:, :, None, None].chunk(2, dim=1)
                h = h * (1 + scale) + shift
                if self.config.cell_paint and cells is None:  # the first block, still at the latents' size
                    cells = self.cell_colour(h)
        return h, cells, None if cells is None else self.cell_gate(text)


def snap_to_levels(colours: torch.Tensor, levels: int) -> torch.Tensor:
    """Colours in [-1, 1] rounded to `levels` evenly spaced values per channel (the world's pixel art has
    4: 0, 85, 170 and 255 of 255), the gradient passed straight through, as finite scalar quantisation trains."""
    steps = levels - 1
    snapped = torch.round((colours.clamp(-1, 1) + 1) / 2 * steps) / steps * 2 - 1
    return colours + (snapped - colours).detach()


def mix_cells(fine: torch.Tensor, cells: torch.Tensor, gate_logit: torch.Tensor, levels: int) -> torch.Tensor:
    """The decoder's frames (N, 3, H, W) with its flat cells mixed in as far as the gate opens, their
    colours snapped to `levels` per channel where it is not 0."""
    if levels:
        cells = snap_to_levels(cells, levels)
    gate = torch.sigmoid(gate_logit)[:, :, None, None]
    return fine + gate * (F.interpolate(cells, size=fine.shape[-2:], mode="nearest") - fine)


# ---------------------------------------------------------------------------------------------
# Video U-Net. Every block is factorised: a 2D conv over space, a 1D conv over time, and FiLM from a
# per-frame embedding (noise level of that frame + its position in the clip + the pooled text),
# so the network knows from step one which frame it is painting; that is what motion needs.
# Cross-attention to the text tokens at the two coarse levels binds words to places.


def sinusoid(x: torch.Tensor, dim: int) -> torch.Tensor:
    """x (...,) -> (..., dim) sinusoidal features."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    args = x.float().unsqueeze(-1) * freqs
    return torch.cat([args.sin(), args.cos()], dim=-1)


class VideoResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.time_conv = nn.Conv1d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor, frames: int) -> torch.Tensor:
        """x (B*T, C, H, W) frames as a batch; emb (B*T, E)."""
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        bt, c, hh, ww = h.shape
        # temporal mixing: (B*T, C, H, W) -> (B*H*W, C, T)
        t = h.view(bt // frames, frames, c, hh, ww).permute(0, 3, 4, 2, 1).reshape(-1, c, frames)
        t = self.time_conv(F.silu(t))
        h = h + t.view(bt // frames, hh, ww, c, frames).permute(0, 4, 3, 1, 2).reshape(bt, c, hh, ww)
        return self.skip(x) + h


def attend(mha: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor,
           key_mask: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`mha(query, key, key)` through scaled_dot_product_attention, with the module's own weights.
    nn.MultiheadAttention's inference fast path multiplies out the whole attention matrix: at the
    1,024 space-time tokens of the 8x8 level that is a third of a denoising step on a CPU
    (docs/BENCHMARKS.md). key_mask (B, S): True where a key may be attended to; bias
    (B, heads, L, S): added to the attention logits."""
    if mha.in_proj_weight is None:  # keys of another width than the queries (cross-attention)
        wq, wk, wv = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
    else:
        wq, wk, wv = mha.in_proj_weight.chunk(3)
    bq, bk, bv = mha.in_proj_bias.chunk(3)

    def heads(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, weight, bias)
        return y.view(*y.shape[:2], mha.num_heads, mha.head_dim).transpose(1, 2)  # (B, heads, L, d)

    mask = None if key_mask is None else key_mask.bool()[:, None, None, :]
    if bias is not None:
        mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
    out = F.scaled_dot_product_attention(heads(query, wq, bq), heads(key, wk, bk), heads(key, wv, bv), mask)
    return mha.out_proj(out.transpose(1, 2).reshape(query.shape))


CLAUSES = 2  # the world's sequences have two events; a third "then" shares the second's bias


def clause_ids(input_ids: torch.Tensor, then_id: int) -> torch.Tensor:
    """(B, L) token ids -> (B, L) which clause each token is in: 0 before the first "then", 1 from it."""
    return (input_ids == then_id).cumsum(1).clamp(max=CLAUSES - 1)


class AttentionBlock(nn.Module):
    """Self-attention over space and time together (the grid is small at this level), then
    cross-attention to the text tokens.

    With `max_frames`, the cross-attention also learns how much each frame listens to each clause
    of the prompt (a bias per head, frame and clause, `clause_ids`): "rolls right, then jumps"
    asks the first frames for one motion and the last for another, and the frame position alone,
    mixed into every query, did not teach that in 25,000 steps. It starts at zero, so the block
    can be added to a trained network without changing what it does."""

    def __init__(self, channels: int, text_dim: int, heads: int = 4, max_frames: int | None = None):
        super().__init__()
        self.clause_bias = nn.Parameter(torch.zeros(heads, max_frames, CLAUSES)) if max_frames else None
        self.norm1 = nn.LayerNorm(channels)
        self.self_attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(channels)
        self.cross_attn = nn.MultiheadAttention(channels, heads, kdim=text_dim, vdim=text_dim, batch_first=True)
        self.norm3 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(), nn.Linear(2 * channels, channels))

    def forward(self, x: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, frames: int,
                pos: torch.Tensor, text_clause: torch.Tensor | None = None) -> torch.Tensor:
        bt, c, h, w = x.shape
        b = bt // frames
        seq = x.view(b, frames, c, h * w).permute(0, 1, 3, 2).reshape(b, frames * h * w, c) + pos
        n = self.norm1(seq)
        seq = seq + attend(self.self_attn, n, n)
        n = self.norm2(seq)
        bias = None
        if self.clause_bias is not None:
            per_frame = self.clause_bias[:, :frames, text_clause].permute(2, 0, 1, 3)  # (B, heads, T, L)
            bias = per_frame.repeat_interleave(h * w, dim=2)  # every place of a frame alike
        seq = seq + attend(self.cross_attn, n, text, text_mask, bias)
        seq = seq + self.mlp(self.norm3(seq))
        seq = seq - pos
        return seq.view(b, frames, h * w, c).permute(0, 1, 3, 2).reshape(bt, c, h, w)


class ClauseFilm(nn.Module):
    """Each frame's share of the text in its FiLM: the mean of the tokens of each clause, weighed per
    frame by a learned softmax. The pooled text every frame gets mixes "rolls right" with "then
    jumps" alike, so every convolution hears both halves of a sequence; this lets the first frames
    hear the first clause and the last the second. A prompt of one clause gives every frame that
    clause. Its output starts at zero, so it can be added to a trained network without changing
    what it does."""

    def __init__(self, text_dim: int, emb_dim: int, max_frames: int):
        super().__init__()
        self.clause_bias = nn.Parameter(torch.zeros(max_frames, CLAUSES))
        self.proj = nn.Linear(text_dim, emb_dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor, text_clause: torch.Tensor,
                frames: int) -> torch.Tensor:
        """text (B, L, D), text_mask and text_clause (B, L) -> (B, T, emb_dim)."""
        member = F.one_hot(text_clause, CLAUSES).float() * text_mask[..., None].float()  # (B, L, clauses)
        count = member.sum(1)  # (B, clauses)
        means = torch.einsum("blc,bld->bcd", member, text) / count.clamp(min=1)[..., None]
        logits = self.clause_bias[:frames][None].expand(len(text), -1, -1)  # (B, T, clauses)
        weights = logits.masked_fill((count == 0)[:, None], -1e4).softmax(-1)  # a missing clause: no share
        weights = weights * (count > 0).any(-1)[:, None, None]  # no text at all (a dropped caption): nothing
        return self.proj(torch.einsum("btc,bcd->btd", weights, means))


class TemporalAttention(nn.Module):
    """Attention along time at every place of the finest grid: the shortest path for a thing in the
    given frames to reach the frames being made. Its output starts at zero, so the block can be
    added to a trained network without changing what it does."""

    def __init__(self, channels: int, max_frames: int, heads: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.pos = nn.Parameter(torch.randn(max_frames, channels) * 0.02)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.zeros_(self.attn.out_proj.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bt, c, h, w = x.shape
        seq = x.view(bt // frames, frames, c, h * w).permute(0, 3, 1, 2).reshape(-1, frames, c)
        n = self.norm(seq + self.pos[:frames])
        seq = seq + attend(self.attn, n, n)
        return seq.view(bt // frames, h * w, frames, c).permute(0, 2, 3, 1).reshape(bt, c, h, w)


def carry_last_given(cond: torch.Tensor, cond_mask: torch.Tensor) -> torch.Tensor:
    """Fills the condition of every frame after the given prefix with the last given frame, so each
    frame being made sees the thing as it was last seen, in place (the mask still says "not given")."""
    given = cond_mask.sum(1).long()  # (B,) length of the clean prefix
    last = cond[torch.arange(len(cond)), :, (given - 1).clamp(min=0)]  # (B, C, H, W)
    fill = (cond_mask == 0) & (given > 0)[:, None]  # (B, T)
    return torch.where(fill[:, None, :, None, None], last[:, :, None], cond)


KEYFRAMES = 4  # where a thing is, read at 4 frames spread over the clip (the first and the last among them)
PLACE_SIZE = 3 * KEYFRAMES  # x, y and radius at each, in half-frames (-1..1 across the frame)


def clause_means(tokens: torch.Tensor, text_mask: torch.Tensor, text_clause: torch.Tensor) -> torch.Tensor:
    """The mean of each clause's tokens (B, L, D) -> (B, CLAUSES * D), zeros for a clause the text lacks:
    what each of a sequence's two events says, in order."""
    means = []
    for clause in range(CLAUSES):
        weight = (text_mask & (text_clause == clause))[..., None].to(tokens.dtype)
        means.append((tokens * weight).sum(1) / weight.sum(1).clamp(min=1))
    return torch.cat(means, dim=-1)


def layout_map(places: torch.Tensor, named: torch.Tensor, features: torch.Tensor, frames: int,
               size: int) -> torch.Tensor:
    """Paints each word that names a thing where its thing is: in every frame a Gaussian of the thing's
    radius at its place (the keyframes' places interpolated), carrying the word's features.
    places (B, L, 3 * keyframes), named (B, L) bool, features (B, L, D) -> (B, D, T, size, size)."""
    b, length, _ = places.shape
    keyframes = places.reshape(b * length, -1, 3).transpose(1, 2)
    track = F.interpolate(keyframes, size=frames, mode="linear", align_corners=True)  # (B*L, 3, T)
    x, y, radius = (v[..., None, None] for v in track.reshape(b, length, 3, frames).unbind(2))  # (B, L, T, 1, 1)
    grid = (torch.arange(size, device=places.device, dtype=places.dtype) + 0.5) / size * 2 - 1  # cell centres
    spread = 2 * radius.clamp(min=2 / size) ** 2
    paint = torch.exp(-((grid - x) ** 2 + (grid[:, None] - y) ** 2) / spread)  # (B, L, T, size, size)
    return torch.einsum("bltyx,bld->bdtyx", paint * named[:, :, None, None, None], features)


class TinyVideoUNet(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, latent_channels: int = 8, channels: tuple[int, int, int] = (64, 96, 128),
                 text_dim: int = 96, emb_dim: int = 128, max_frames: int = 64, latent_size: int = 16,
                 temporal_attention: bool = False, carry_condition: bool = False,
                 clause_attention: bool = False, clause_film: bool = False, layout_channels: int = 0,
                 layout_guesses: int = 1, place_width: int = 0, place_context: bool = False,
                 layout_keyframes: int = KEYFRAMES, place_clauses: bool = False, layout_sequences: bool = False):
        # temporal_attention and carry_condition shorten the path from given frames to new ones
        # (docs/TRAINING.md); the step-14,000 weights were trained without them. clause_attention
        # lets each frame weigh the clauses of the prompt (AttentionBlock), for temporal order;
        # clause_film does the same for the text in every block's FiLM (ClauseFilm).
        # layout_channels > 0: the network reads where each named thing goes from the text (`place_head`,
        # trained on the world's truth) and takes those places painted as a map (`layout_map`) beside its
        # input. Through cross-attention alone it drew relations at chance and a thing too many in one
        # single prompt in four (docs/TRAINING.md); a map puts "red" and "ball" where they belong.
        # layout_guesses > 1: the head reads that many layouts and how likely each is, and the pipeline
        # draws one with the seed: a caption leaves open which side each thing starts on, and one guess,
        # the mean, left two colliding things still in the middle. place_width > 0: the head is an MLP of
        # that hidden width (0: linear). place_context: the head reads each word beside the pooled sentence;
        # from a word alone it read a chase's things too close and a collision's too short, as a push, in
        # one interaction in five: the verb is elsewhere in the sentence (docs/TRAINING.md, session 24).
        # layout_keyframes: the frames each place is read at (16: every frame, so a map can hold a sequence's
        # two motions); place_clauses: the head also reads each clause's mean (which event comes first);
        # layout_sequences: the map is painted for a sequence too (`layout_fits`; session 31).
        super().__init__()
        c0, c1, c2 = channels
        # input: noisy latents, the clean condition latents, the condition mask (and the layout)
        self.conv_in = nn.Conv2d(2 * latent_channels + 1 + layout_channels, c0, 3, padding=1)
        if layout_channels:
            sentence = text_dim * (1 + CLAUSES * place_clauses)  # the pooled text, and each clause's mean
            out, read = layout_guesses * 3 * layout_keyframes, text_dim + sentence if place_context else text_dim
            self.place_head = (nn.Sequential(nn.Linear(read, place_width), nn.GELU(), nn.Linear(place_width, out))
                               if place_width else nn.Linear(read, out))
            if layout_guesses > 1:
                self.guess_head = nn.Linear(sentence, layout_guesses)
            self.layout_proj = nn.Linear(text_dim, layout_channels)
        self.noise_mlp = nn.Sequential(nn.Linear(64, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.frame_pos = nn.Parameter(torch.randn(max_frames, emb_dim) * 0.02)
        self.text_proj = nn.Linear(text_dim, emb_dim)
        if clause_film:
            self.frame_text = ClauseFilm(text_dim, emb_dim, max_frames)
        self.down0 = VideoResBlock(c0, c0, emb_dim)
        self.pool0 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.down1 = VideoResBlock(c1, c1, emb_dim)
        clause_frames = max_frames if clause_attention else None
        self.attn1 = AttentionBlock(c1, text_dim, max_frames=clause_frames)
        self.pool1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid = VideoResBlock(c2, c2, emb_dim)
        self.attn_mid = AttentionBlock(c2, text_dim, max_frames=clause_frames)
        self.up1 = VideoResBlock(c2 + c1, c1, emb_dim)
        self.attn_up1 = AttentionBlock(c1, text_dim, max_frames=clause_frames)
        self.up0 = VideoResBlock(c1 + c0, c0, emb_dim)
        if temporal_attention:
            self.time_attn0 = TemporalAttention(c0, max_frames)
            self.time_attn_up0 = TemporalAttention(c0, max_frames)
        self.norm_out = nn.GroupNorm(8, c0)
        self.conv_out = nn.Conv2d(c0, latent_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        s1, s2 = latent_size // 2, latent_size // 4
        self.pos1 = nn.Parameter(torch.randn(max_frames, s1 * s1, c1) * 0.02)
        self.pos2 = nn.Parameter(torch.randn(max_frames, s2 * s2, c2) * 0.02)

    def place_guesses(self, tokens: torch.Tensor, pooled: torch.Tensor, text_mask: torch.Tensor | None = None,
                      text_clause: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The layouts the place head reads from the text tokens (B, L, D): (B, L, guesses, 3 * keyframes), and
        the logits of how likely each is from the pooled text (B, D): (B, guesses), None for one guess. A head
        that reads the clauses (place_clauses) needs the tokens' mask and `clause_ids` (B, L)."""
        sentence = pooled
        if self.config.place_clauses:
            if text_mask is None or text_clause is None:
                raise ValueError("this layout head reads each clause: give the text's mask and clause ids")
            sentence = torch.cat([pooled, clause_means(tokens, text_mask, text_clause)], dim=-1)
        words = tokens
        if self.config.place_context:
            words = torch.cat([tokens, sentence[:, None].expand(-1, tokens.shape[1], -1)], dim=-1)
        guesses = self.place_head(words).unflatten(-1, (self.config.layout_guesses, -1))
        return guesses, self.guess_head(sentence) if self.config.layout_guesses > 1 else None

    def read_places(self, tokens: torch.Tensor, pooled: torch.Tensor, generator: torch.Generator | None = None,
                    text_mask: torch.Tensor | None = None, text_clause: torch.Tensor | None = None) -> torch.Tensor:
        """Where the text puts each word's thing (B, L, 3 * keyframes): with several guesses, one drawn per
        prompt by `generator` (a CPU one) as likely as the head reads it."""
        guesses, logits = self.place_guesses(tokens, pooled, text_mask, text_clause)
        if logits is None:
            return guesses[:, :, 0]
        pick = torch.multinomial(logits.softmax(-1).float().cpu(), 1, generator=generator)[:, 0].to(tokens.device)
        return guesses[torch.arange(len(guesses), device=tokens.device), :, pick]

    def forward(self, sample: torch.Tensor, sigmas: torch.Tensor, cond: torch.Tensor, cond_mask: torch.Tensor,
                text: torch.Tensor, text_mask: torch.Tensor, pooled: torch.Tensor,
                text_clause: torch.Tensor | None = None, places: torch.Tensor | None = None,
                named: torch.Tensor | None = None) -> torch.Tensor:
        """sample, cond: (B, C, T, H, W); sigmas, cond_mask: (B, T) per-frame noise level and
        "this frame is given"; text (B, L, D), pooled (B, D); text_clause (B, L) `clause_ids`, all
        clause 0 when left out; places (B, L, 3 * keyframes) and named (B, L) where the words that name a
        thing put it (`layout_map`), no layout when left out. Returns the velocity (B, C, T, H, W)."""
        b, c, frames, h, w = sample.shape
        if self.config.carry_condition:
            cond = carry_last_given(cond, cond_mask)
        inputs = [sample, cond, cond_mask[:, None, :, None, None].expand(b, 1, frames, h, w)]
        if self.config.layout_channels:
            if places is None:
                inputs.append(sample.new_zeros(b, self.config.layout_channels, frames, h, w))
            else:
                inputs.append(layout_map(places, named.to(places.dtype), self.layout_proj(text), frames, h))
        x = torch.cat(inputs, dim=1)
        x = x.permute(0, 2, 1, 3, 4).reshape(b * frames, x.shape[1], h, w)  # frames as a batch
        if text_clause is None:
            text_clause = torch.zeros(text.shape[:2], dtype=torch.long, device=text.device)
        emb = self.noise_mlp(sinusoid(sigmas * 1000, 64)) + self.frame_pos[:frames] + self.text_proj(pooled)[:, None]
        if self.config.clause_film:
            emb = emb + self.frame_text(text, text_mask, text_clause, frames)
        emb = F.silu(emb.reshape(b * frames, -1))
        pos1 = self.pos1[:frames].reshape(1, -1, self.pos1.shape[-1])
        pos2 = self.pos2[:frames].reshape(1, -1, self.pos2.shape[-1])

        h0 = self.down0(self.conv_in(x), emb, frames)  # (BT, c0, 16, 16)
        if self.config.temporal_attention:
            h0 = self.time_attn0(h0, frames)
        h1 = self.down1(self.pool0(h0), emb, frames)  # (BT, c1, 8, 8)
        h1 = self.attn1(h1, text, text_mask, frames, pos1, text_clause)
        m = self.mid(self.pool1(h1), emb, frames)  # (BT, c2, 4, 4)
        m = self.attn_mid(m, text, text_mask, frames, pos2, text_clause)
        u1 = self.up1(torch.cat([F.interpolate(m, scale_factor=2.0), h1], 1), emb, frames)
        u1 = self.attn_up1(u1, text, text_mask, frames, pos1, text_clause)
        u0 = self.up0(torch.cat([F.interpolate(u1, scale_factor=2.0), h0], 1), emb, frames)
        if self.config.temporal_attention:
            u0 = self.time_attn_up0(u0, frames)
        out = self.conv_out(F.silu(self.norm_out(u0)))
        return out.view(b, frames, c, h, w).permute(0, 2, 1, 3, 4)
