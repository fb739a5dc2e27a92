"""Cheap live previews: estimate the clean sample from the latents of a denoising step, then map it
to RGB with a linear projection fitted by least squares (the idea behind ComfyUI's and FramePack's
latent previews, but fitted here from the model's own VAE, so every family and model gets one)."""

import numpy as np
import torch
import torch.nn.functional as F

PREVIEW_FRAMES = 4  # evenly spaced latent frames shown while denoising


def fit_rgb_projection(latents: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """latents (C, t, h, w) of a clip and its pixels (3, T, H, W) in [-1, 1]: returns factors
    (C, 3) and bias (3,) so that rgb ~= latents @ factors + bias at latent resolution. With T = t
    frames map one to one; otherwise (causal video VAEs, T = (t-1)*r + 1) latent frame 0 holds pixel
    frame 0 and latent frame j > 0 holds frames (j-1)*r+1 .. j*r."""
    c, t, h, w = latents.shape
    pooled = F.adaptive_avg_pool2d(pixels.float(), (h, w))  # (3, T, h, w)
    if pooled.shape[1] == t:
        targets = list(pooled.unbind(1))
    else:
        r = (pooled.shape[1] - 1) // max(t - 1, 1)
        targets = [pooled[:, 0]] + [pooled[:, (j - 1) * r + 1: j * r + 1].mean(1) for j in range(1, t)]
    rgb = torch.stack(targets[:t], 1).permute(1, 2, 3, 0).reshape(-1, 3)
    x = latents.float().permute(1, 2, 3, 0).reshape(-1, c)
    design = torch.cat([x, torch.ones(len(x), 1)], 1)
    solution = torch.linalg.lstsq(design, rgb).solution
    return solution[:-1], solution[-1]


def estimate_clean(latents: torch.Tensor, previous: torch.Tensor | None, sigma: float | None,
                   previous_sigma: float | None) -> torch.Tensor:
    """x0 = x_t - sigma_t * v for flow matching, with v from two successive latents. Without the
    previous step (or a scheduler with no sigmas) the noisy latents are the best guess there is."""
    if previous is None or sigma is None or previous_sigma is None or previous_sigma == sigma:
        return latents
    velocity = (latents.float() - previous.float()) / (sigma - previous_sigma)
    return latents.float() - sigma * velocity


def project(video_latents: torch.Tensor, factors: torch.Tensor, bias: torch.Tensor,
            count: int = PREVIEW_FRAMES) -> np.ndarray:
    """(C, t, h, w) -> uint8 (n, h, w, 3): up to `count` evenly spaced frames."""
    t = video_latents.shape[1]
    index = torch.linspace(0, t - 1, min(count, t)).round().long()
    chosen = video_latents[:, index].float().cpu()
    rgb = torch.einsum("cthw,cr->thwr", chosen, factors) + bias
    return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def strip(frames: np.ndarray, height: int = 160) -> np.ndarray:
    """Preview frames side by side, enlarged without blur to `height` pixels: uint8 (H, n*W, 3)."""
    scale = max(1, height // frames.shape[1])
    big = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    gap = np.full((big.shape[1], max(2, scale), 3), 255, dtype=np.uint8)
    parts = []
    for frame in big:
        parts += [frame, gap]
    return np.concatenate(parts[:-1], axis=1)
