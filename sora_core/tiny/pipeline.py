"""The sora-tiny pipeline, in diffusers' shape: components in `__init__`, one `__call__` in stages.

Example:
    >>> from sora_core.tiny.pipeline import SoraTinyPipeline
    >>> pipe = SoraTinyPipeline.from_pretrained("assets/sora-tiny")
    >>> frames = pipe("a red ball rolls to the right", generator=torch.Generator().manual_seed(0)).frames[0]
    >>> frames.shape  # (16, 64, 64, 3), floats in [0, 1]

Text-to-video, image-to-video and extension are one call: `condition_frames` (K, H, W, 3) in
[0, 1] are the first K frames of the clip, kept clean while the rest is denoised. A U-Net with a
layout is told where the prompt's things go as its text encoder reads it (`layout_map`), in
text-to-video: given frames already say where they are.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from diffusers.utils import BaseOutput
from transformers import PreTrainedTokenizerFast

from .model import TinyFrameAutoencoder, TinyTextEncoder, TinyVideoUNet, clause_ids
from .tokenizer import MAX_TOKENS, layout_fits, naming_words


@dataclass
class SoraTinyPipelineOutput(BaseOutput):
    frames: np.ndarray  # (B, T, H, W, 3) in [0, 1]


def encode_text(tokenizer: PreTrainedTokenizerFast, text_encoder: TinyTextEncoder, prompts: list[str]):
    """Returns the text tokens (B, L, D), their mask (B, L), the pooled text (B, D) and which clause
    each token is in (B, L)."""
    batch = tokenizer(prompts, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt")
    mask = batch.attention_mask.bool()
    mask[:, 0] = True  # an empty prompt still attends to one (pad) token: the learned "no text"
    tokens, pooled = text_encoder(batch.input_ids.to(text_encoder.device), mask.to(text_encoder.device))
    clauses = clause_ids(batch.input_ids, tokenizer.convert_tokens_to_ids("then"))
    return tokens, mask.to(tokens.device), pooled, clauses.to(tokens.device)


class SoraTinyPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet->vae"
    _callback_tensor_inputs = ["latents"]

    def __init__(self, tokenizer: PreTrainedTokenizerFast, text_encoder: TinyTextEncoder, unet: TinyVideoUNet,
                 vae: TinyFrameAutoencoder, scheduler: FlowMatchEulerDiscreteScheduler):
        super().__init__()
        self.register_modules(tokenizer=tokenizer, text_encoder=text_encoder, unet=unet, vae=vae,
                              scheduler=scheduler)
        self.vae_scale_factor = 4
        self._interrupt = False

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    def check_inputs(self, prompt, num_frames: int, height: int, width: int, condition_frames) -> None:
        if not isinstance(prompt, str):
            raise ValueError(f"`prompt` must be a string, got {type(prompt).__name__}")
        if not 2 <= num_frames <= self.unet.config.max_frames:
            raise ValueError(f"`num_frames` must be in 2..{self.unet.config.max_frames}, got {num_frames}")
        size = self.unet.config.latent_size * self.vae_scale_factor
        if (height, width) != (size, size):
            raise ValueError(f"`height` and `width` must be {size}, got {height}x{width}")
        if condition_frames is not None and not 1 <= len(condition_frames) < num_frames:
            raise ValueError(f"`condition_frames` must hold 1..{num_frames - 1} frames, got {len(condition_frames)}")

    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """(K, H, W, 3) in [0, 1] -> latents (1, C, K, h, w)."""
        pixels = torch.from_numpy(np.asarray(frames, dtype=np.float32)).permute(0, 3, 1, 2) * 2 - 1
        return self.vae.encode(pixels.to(self.device)).permute(1, 0, 2, 3).unsqueeze(0)

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor, prompt: str = "", pooled: torch.Tensor | None = None) -> np.ndarray:
        """(B, C, T, h, w) -> (B, T, H, W, 3) in [0, 1]; a decoder that hears text hears `prompt`, or
        `pooled` (1, D), the prompt's pooled text when the caller has encoded it already."""
        b, c, t, h, w = latents.shape
        text = None
        if self.vae.config.text_dim:
            if pooled is None:
                pooled = encode_text(self.tokenizer, self.text_encoder, [prompt])[2]
            text = pooled.to(latents.dtype).expand(b * t, -1)
        pixels = self.vae.decode(latents.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), text)
        pixels = ((pixels.clamp(-1, 1) + 1) / 2).reshape(b, t, 3, *pixels.shape[-2:])
        return pixels.permute(0, 1, 3, 4, 2).float().cpu().numpy()

    @torch.no_grad()
    def __call__(
        self,
        prompt: str,
        negative_prompt: str = "",
        num_frames: int = 16,
        height: int = 64,
        width: int = 64,
        num_inference_steps: int = 20,
        guidance_scale: float = 4.0,
        condition_frames: np.ndarray | None = None,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "np",
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ("latents",),
    ) -> SoraTinyPipelineOutput:
        # 1. Check inputs
        self.check_inputs(prompt, num_frames, height, width, condition_frames)
        self._interrupt = False
        device = self.device

        # 2. Encode the prompt, with the negative prompt as the unconditional half of guidance
        tokens, mask, pooled, clauses = encode_text(self.tokenizer, self.text_encoder, [negative_prompt, prompt])

        # 3. Prepare latents, where the prompt's things go, and the clean condition frames
        c, size = self.unet.config.latent_channels, self.unet.config.latent_size
        shape = (1, c, num_frames, size, size)
        if latents is None:
            latents = torch.randn(shape, generator=generator, dtype=torch.float32).to(device)
        places = named = None
        # The layout is painted in text-to-video alone (given frames already show where things are), and not
        # for a sequence unless the U-Net learned one (with four keyframes, held-out sequences came out right in
        # 10 of 24 with it, 16 without).
        if (self.unet.config.layout_channels and condition_frames is None
                and layout_fits(prompt, self.unet.config.layout_sequences)):  # drawn after the noise: it stays
            places = self.unet.read_places(tokens, pooled, generator, mask, clauses)
            named = torch.from_numpy(np.stack([naming_words(p) for p in (negative_prompt, prompt)])).to(device)
        cond = torch.zeros(shape, device=device)
        cond_mask = torch.zeros(1, num_frames, device=device)
        if condition_frames is not None:
            k = len(condition_frames)
            cond[:, :, :k] = self.encode_frames(condition_frames)
            cond_mask[:, :k] = 1
            latents[:, :, :k] = cond[:, :, :k]

        # 4. Timesteps
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        self._num_timesteps = len(self.scheduler.timesteps)

        # 5. Denoising loop
        for i, t in enumerate(self.scheduler.timesteps):
            if self.interrupt:
                break
            sigma = self.scheduler.sigmas[i]
            sigmas = torch.where(cond_mask > 0, 0.0, sigma.to(device)).expand(2, -1)
            velocity = self.unet(latents.expand(2, -1, -1, -1, -1), sigmas, cond.expand(2, -1, -1, -1, -1),
                                 cond_mask.expand(2, -1), tokens, mask, pooled, clauses, places, named)
            uncond, text = velocity.chunk(2)
            velocity = uncond + guidance_scale * (text - uncond)
            latents = self.scheduler.step(velocity, t, latents).prev_sample
            latents = torch.where(cond_mask[:, None, :, None, None] > 0, cond, latents)  # given frames stay
            if callback_on_step_end is not None:
                values = {}
                for name in callback_on_step_end_tensor_inputs:
                    values[name] = locals()[name]
                latents = callback_on_step_end(self, i, t, values).get("latents", latents)

        # 6. Decode
        if output_type == "latent":
            return SoraTinyPipelineOutput(frames=latents)
        return SoraTinyPipelineOutput(frames=self.decode_latents(latents, pooled=pooled[1:]))
