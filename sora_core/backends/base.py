"""A backend runs one model's pipelines: loading (lazily, with the right device and memory
settings), one denoising window with a per-step callback, and the live preview of that window.
The few things that differ per model family (call arguments, conditioning, latent layout) are
small methods the family subclasses override."""

import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import diffusers
import numpy as np
import torch
from PIL import Image

from .. import preview, video
from ..registry import ModelSpec
from ..world import render, sample_scene


class ModelUnavailable(RuntimeError):
    """The model can't be loaded or run here; the message says why and what to do."""


class Cancelled(Exception):
    """Raised inside the step callback to stop a pipeline at once."""


@dataclass
class Window:
    """One pipeline call: a clip of `frames` frames whose first frames may be given."""

    prompt: str
    negative_prompt: str
    frames: int
    width: int
    height: int
    fps: int
    steps: int
    guidance: float
    seed: int
    condition: np.ndarray | None = None  # uint8 (K, H, W, 3): the clip's first K frames


# on_step(step, total, preview frames) -> False to cancel
StepCallback = Callable[[int, int, np.ndarray], bool]


def pick_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_pil(frames: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(f) for f in frames]


class Backend:
    def __init__(self, spec: ModelSpec, device: torch.device | None = None):
        self.spec = spec
        self.device = device or pick_device()
        self.dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self._pipes: dict[tuple[str, str], diffusers.DiffusionPipeline] = {}  # (class, source) -> pipeline
        self._loading = threading.Lock()  # two jobs asking at once load the model once
        self._projection: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    # -- loading -------------------------------------------------------------------------------

    def pipeline_class(self, name: str) -> type:
        return getattr(diffusers, name)

    def pipeline(self, extend: bool) -> diffusers.DiffusionPipeline:
        if extend and not self.spec.extend_pipeline:
            raise ModelUnavailable(f"{self.spec.name} can't continue a clip; pick a model that can extend")
        key = (self.spec.extend_pipeline if extend else self.spec.pipeline, self.spec.resolved_source(extend))
        with self._loading:  # one model serving both (sora-tiny) is loaded once
            if key not in self._pipes:
                self._pipes[key] = self._load(*key)
            return self._pipes[key]

    def _load(self, class_name: str, source: str) -> diffusers.DiffusionPipeline:
        spec = self.spec
        if spec.needs_gpu and self.device.type == "cpu":
            raise ModelUnavailable(
                f"{spec.name} needs a GPU and this machine has none (it would take hours on a CPU). "
                "Use sora-tiny here, or run the studio on a machine with a CUDA GPU or Apple silicon.")
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
        try:
            pipe = self.pipeline_class(class_name).from_pretrained(source, dtype=self.dtype)
        except Exception as err:  # noqa: BLE001 - damaged files raise many types (e.g. SafetensorError)
            if "/" in source and not os.path.exists(source):
                where = "this machine is offline (HF_HUB_OFFLINE)" if offline else "the download failed"
                raise ModelUnavailable(
                    f"{spec.name} ({source}) is not in the Hugging Face cache and {where}. Connect to the "
                    f"internet once to download it, or use sora-tiny, which works offline.") from err
            raise ModelUnavailable(f"{spec.name} could not be loaded from {source}: {err}. Its files may be "
                                   "damaged: delete them and download again, or pick another model.") from err
        self._place(pipe)
        return pipe

    def _place(self, pipe: diffusers.DiffusionPipeline) -> None:
        """bf16 on CUDA; model CPU offload and VAE tiling when the GPU has under 24 GB free."""
        pipe.set_progress_bar_config(disable=True)
        if self.device.type == "cuda" and torch.cuda.mem_get_info()[0] < 24 * 2**30:
            pipe.enable_model_cpu_offload()
            if hasattr(pipe.vae, "enable_tiling"):
                pipe.vae.enable_tiling()
        else:
            pipe.to(self.device)

    # -- one window ----------------------------------------------------------------------------

    def run(self, window: Window, on_step: StepCallback) -> np.ndarray:
        """Denoises one window; returns uint8 (T, H, W, 3), the given frames included."""
        pipe = self.pipeline(extend=window.condition is not None)
        pipe.set_progress_bar_config(disable=True)
        factors, bias = self.projection(pipe, window.condition is not None)
        previous: list[torch.Tensor | None] = [None]

        def callback(p, step: int, timestep, values: dict) -> dict:
            latents = values["latents"]
            sigma, previous_sigma = self._sigmas(p)
            clean = preview.estimate_clean(latents, previous[0], sigma, previous_sigma)
            previous[0] = latents.detach().clone()
            frames = preview.project(self.video_latents(p, clean, window), factors, bias)
            if not on_step(step, window.steps, frames):
                raise Cancelled
            return values

        kwargs = dict(prompt=window.prompt, negative_prompt=window.negative_prompt, num_frames=window.frames,
                      height=window.height, width=window.width, num_inference_steps=window.steps,
                      guidance_scale=window.guidance, generator=torch.Generator("cpu").manual_seed(window.seed),
                      output_type="np", callback_on_step_end=callback,
                      callback_on_step_end_tensor_inputs=["latents"])
        kwargs |= self.call_kwargs(pipe, window)
        if window.condition is not None:
            kwargs |= self.condition_kwargs(pipe, window)
        frames = pipe(**kwargs).frames[0]
        return video.to_uint8(frames)

    @staticmethod
    def _sigmas(pipe) -> tuple[float | None, float | None]:
        scheduler = pipe.scheduler
        index = getattr(scheduler, "step_index", None)
        sigmas = getattr(scheduler, "sigmas", None)
        if index is None or sigmas is None or not 1 <= index < len(sigmas):
            return None, None
        return float(sigmas[index]), float(sigmas[index - 1])

    # -- preview projection ----------------------------------------------------------------------

    def projection(self, pipe, extend: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Fitted once per pipeline from a short clip of the procedural world through its VAE."""
        if extend not in self._projection:
            clip = render(sample_scene(random.Random(0)), seed=0)[:9]
            size = (min(self.spec.width, 256) // self.spec.size_multiple * self.spec.size_multiple
                    or self.spec.size_multiple)
            clip = np.stack([np.asarray(Image.fromarray(f).resize((size, size))) for f in clip])
            pixels = torch.from_numpy(clip).permute(3, 0, 1, 2).float() / 127.5 - 1  # (3, T, H, W)
            with torch.no_grad():
                latents = self.encode_for_preview(pipe, pixels)
            self._projection[extend] = preview.fit_rgb_projection(latents.cpu(), pixels)
        return self._projection[extend]

    # -- what families override ----------------------------------------------------------------

    def call_kwargs(self, pipe, window: Window) -> dict:
        return {}

    def condition_kwargs(self, pipe, window: Window) -> dict:
        raise NotImplementedError

    def video_latents(self, pipe, latents: torch.Tensor, window: Window) -> torch.Tensor:
        """The callback's latents as (C, t, h, w), in the normalised space the projection uses."""
        return latents[0]

    def encode_for_preview(self, pipe, pixels: torch.Tensor) -> torch.Tensor:
        """(3, T, H, W) in [-1, 1] -> normalised latents (C, t, h, w)."""
        vae = pipe.vae
        raw = vae.encode(pixels[None].to(vae.device, vae.dtype)).latent_dist.mode()
        return self.normalise(pipe, raw)[0].float()

    def normalise(self, pipe, raw: torch.Tensor) -> torch.Tensor:
        return raw * pipe.vae.config.scaling_factor

    def unknown_words(self, prompt: str) -> list[str]:
        """Words of the prompt the model never learned (only a closed-vocabulary model can tell)."""
        return []
