"""What differs between model families: call arguments, how a clip's first frames are given, and
where the frames sit in the latents the step callback sees (see shared notes on latent layouts)."""

import numpy as np
import torch
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image

from ..tiny.pipeline import SoraTinyPipeline
from ..tiny.tokenizer import unknown_words
from .base import Backend, Window, to_pil


class TinyBackend(Backend):
    """sora-tiny: its pipeline takes the given frames directly, and its VAE carries the projection."""

    def pipeline_class(self, name: str) -> type:
        return SoraTinyPipeline

    def condition_kwargs(self, pipe, window: Window) -> dict:
        return {"condition_frames": window.condition.astype(np.float32) / 255}

    def projection(self, pipe, extend: bool) -> tuple[torch.Tensor, torch.Tensor]:
        config = pipe.vae.config
        if config.latent_rgb_factors is None:
            return super().projection(pipe, extend)
        return torch.tensor(config.latent_rgb_factors), torch.tensor(config.latent_rgb_bias)

    def encode_for_preview(self, pipe, pixels: torch.Tensor) -> torch.Tensor:
        return pipe.vae.encode(pixels.permute(1, 0, 2, 3)).permute(1, 0, 2, 3)

    def unknown_words(self, prompt: str) -> list[str]:
        return unknown_words(self.pipeline(extend=False).tokenizer, prompt)


class LTXBackend(Backend):
    """LTX-Video: packed latents (B, F*H*W, C); extension with LTXConditionPipeline and the tail
    frames as a video condition at frame 0 (the output starts with them again)."""

    def call_kwargs(self, pipe, window: Window) -> dict:
        return {"frame_rate": window.fps}

    def condition_kwargs(self, pipe, window: Window) -> dict:
        return {"conditions": [LTXVideoCondition(video=to_pil(window.condition), frame_index=0, strength=1.0)]}

    def video_latents(self, pipe, latents: torch.Tensor, window: Window) -> torch.Tensor:
        f = (window.frames - 1) // pipe.vae_temporal_compression_ratio + 1
        h = window.height // pipe.vae_spatial_compression_ratio
        w = window.width // pipe.vae_spatial_compression_ratio
        tokens = latents[:, -f * h * w:]  # condition tokens, when any, come first
        return pipe._unpack_latents(tokens, f, h, w, pipe.transformer_spatial_patch_size,
                                    pipe.transformer_temporal_patch_size)[0]

    def normalise(self, pipe, raw: torch.Tensor) -> torch.Tensor:
        vae = pipe.vae
        return pipe._normalize_latents(raw, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)


class WanBackend(Backend):
    """Wan 2.1: latents (B, 16, T, H, W); extension with VACE: the tail frames, then grey frames,
    and a mask that is black (keep) over the tail and white (generate) after it."""

    def condition_kwargs(self, pipe, window: Window) -> dict:
        k, (h, w) = len(window.condition), window.condition.shape[1:3]
        grey = np.full((window.frames - k, h, w, 3), 128, dtype=np.uint8)
        video = to_pil(np.concatenate([window.condition, grey]))
        mask = [Image.new("L", (w, h), 0 if i < k else 255) for i in range(window.frames)]
        return {"video": video, "mask": mask}

    def normalise(self, pipe, raw: torch.Tensor) -> torch.Tensor:
        config = pipe.vae.config
        mean = torch.tensor(config.latents_mean).view(1, -1, 1, 1, 1).to(raw)
        std = torch.tensor(config.latents_std).view(1, -1, 1, 1, 1).to(raw)
        return (raw - mean) / std


class CogVideoXBackend(Backend):
    """CogVideoX: latents (B, F, C, H, W); extension is image-to-video from the clip's last frame."""

    def call_kwargs(self, pipe, window: Window) -> dict:
        return {"max_sequence_length": pipe.transformer.config.max_text_seq_length}

    def condition_kwargs(self, pipe, window: Window) -> dict:
        return {"image": Image.fromarray(window.condition[-1])}

    def video_latents(self, pipe, latents: torch.Tensor, window: Window) -> torch.Tensor:
        return latents[0].permute(1, 0, 2, 3)


FAMILIES: dict[str, type[Backend]] = {
    "sora-tiny": TinyBackend, "ltx": LTXBackend, "wan": WanBackend, "cogvideox": CogVideoXBackend,
}
