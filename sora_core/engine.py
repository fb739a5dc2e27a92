"""The engine: a request in, a stream of events out (progress with previews, then the clip).

    engine = Engine()
    job = engine.start(parse_request(prompt="a red ball rolls to the right", seed=1))
    for event in job:          # Started, Waiting, Progress..., then Done | Failed | Cancelled
        ...
    job.cancel()               # from anywhere: stops within one denoising step

Each job runs in its own worker thread and talks to its reader through a queue (as FramePack
does), so a UI generator never touches torch. One generation per model at a time: a per-model lock.
Clips longer than a model's window, and extensions, are made window by window: each window is
conditioned on the last frames made so far, and those frames are not repeated in the result.
"""

import ctypes
import ctypes.util
import math
import queue
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import seam, video
from .backends import Backend, Cancelled, ModelUnavailable, Window, make_backend
from .library import Library
from .presets import DEFAULT_PRESETS, Preset, load_presets
from .registry import DEFAULT_REGISTRY, PROJECT_ROOT, ModelSpec, load_registry
from .request import Request, RequestError


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None  # malloc_trim is glibc's


_LIBC = _glibc()

DEFAULT_LIBRARY = PROJECT_ROOT / "outputs"
MAX_IMAGE_PIXELS = 4096 * 4096


# -- events ----------------------------------------------------------------------------------


@dataclass
class Started:
    settings: dict
    notices: list[str]


@dataclass
class Waiting:
    """Another job holds the model; this one runs when it is done."""

    model: str


@dataclass
class Progress:
    window: int  # 1-based
    windows: int
    step: int  # 1-based within the window
    steps: int
    elapsed: float
    eta: float
    preview: np.ndarray  # uint8 (n, h, w, 3): a few frames of the clip as it forms

    def summary(self) -> str:
        window = f"part {self.window}/{self.windows} · " if self.windows > 1 else ""
        return f"{window}step {self.step}/{self.steps} · {self.elapsed:.1f} s · about {self.eta:.0f} s left"


@dataclass
class Done:
    path: Path
    frames: np.ndarray  # uint8 (T, H, W, 3) at native size
    settings: dict


@dataclass
class Failed:
    message: str


@dataclass
class CancelledEvent:
    pass


Event = Started | Waiting | Progress | Done | Failed | CancelledEvent
FINAL = (Done, Failed, CancelledEvent)


# -- the plan: a request resolved against its model and preset --------------------------------


@dataclass
class Plan:
    request: Request
    spec: ModelSpec
    preset: Preset | None
    prompts: list[str]  # final prompts: one for generate, one per extension for extend
    negative_prompt: str
    frames: int  # generate: the clip's length; extend: each window's length
    fps: int
    width: int
    height: int
    steps: int
    guidance: float
    seed: int
    condition_frames: int
    times: int
    start: np.ndarray | None = None  # uint8 (K, H, W, 3): the start image or the source clip
    notices: list[str] = field(default_factory=list)

    def windows(self) -> list[tuple[int, int]]:
        """(frames of the window, frames given from before) for each pipeline call."""
        if self.request.mode == "extend":
            return [(self.frames, self.condition_frames)] * self.times
        window = self.spec.valid_frames(min(self.frames, self.spec.window_frames))
        given = 1 if self.start is not None else 0
        plan, made = [(window, given)], window
        while made < self.frames:  # longer than one window: continue from the last frames
            plan.append((window, self.condition_frames))
            made += window - self.condition_frames
        return plan

    def settings(self) -> dict:
        r = self.request
        return {
            "app": "sora-studio", "mode": r.mode, "model": self.spec.name, "prompt": r.prompt,
            "prompts": r.prompts, "final_prompts": self.prompts, "negative_prompt": self.negative_prompt,
            "preset": self.preset.key if self.preset else None, "seed": self.seed, "frames": self.frames,
            "fps": self.fps, "width": self.width, "height": self.height, "steps": self.steps,
            "guidance": self.guidance, "condition_frames": self.condition_frames, "times": self.times,
            "source": r.video.name if r.video else None, "image": r.image.name if r.image else None,
        }


class Engine:
    def __init__(self, registry: Path = DEFAULT_REGISTRY, presets: Path = DEFAULT_PRESETS,
                 library: Path = DEFAULT_LIBRARY, upload_limits: video.UploadLimits = video.UploadLimits()):
        self.models = load_registry(registry)
        self.presets, self.preset_problems = load_presets(presets)
        self.library = Library(library)
        self.upload_limits = upload_limits
        self._backends: dict[str, Backend] = {}
        self._model_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def backend(self, model: str) -> Backend:
        with self._guard:
            if model not in self._backends:
                self._backends[model] = make_backend(self.models[model])
            return self._backends[model]

    # -- planning: everything that can be refused is refused here, before any work -------------

    def plan(self, request: Request) -> Plan:
        spec = self.models.get(request.model)
        if spec is None:
            raise RequestError("model", f"unknown model {request.model!r}; choose one of {', '.join(self.models)}")
        preset = None
        if request.preset:
            preset = self.presets.get(request.preset)
            if preset is None:
                raise RequestError("preset", f"unknown preset {request.preset!r}; choose one of "
                                   f"{', '.join(self.presets) or '(none loaded)'}")
        preset_fps = preset.fps if preset and spec.fps_flexible else None  # else motion would play too fast
        fps = request.fps or preset_fps or spec.fps
        width, height = request.width or spec.width, request.height or spec.height
        for name, value in (("width", width), ("height", height)):
            if value % spec.size_multiple:
                raise RequestError(name, f"{spec.name} needs a multiple of {spec.size_multiple} (got {value})")
        if spec.family == "sora-tiny" and (width, height) != (spec.width, spec.height):
            raise RequestError("width", f"sora-tiny makes {spec.width}x{spec.height} clips, shown enlarged "
                               f"(got {width}x{height})")
        steps = request.steps or (preset.steps if preset and preset.steps else None) or spec.steps
        guidance = request.guidance if request.guidance is not None else (
            preset.guidance if preset and preset.guidance is not None else spec.guidance)
        notices: list[str] = []
        frames = request.frames or (round(request.duration * fps) if request.duration else spec.frames)
        if request.mode == "extend":
            frames = spec.valid_frames(min(request.frames or spec.frames, spec.window_frames))
        k = request.condition_frames or spec.extend_frames
        if spec.frame_multiple > 1 and k > 1:
            k = spec.valid_frames(k)
        if k >= min(frames, spec.window_frames) and (request.mode == "extend" or frames > spec.window_frames):
            raise RequestError("condition_frames", f"must be fewer than the window's {frames} frames (got {k})")
        plan = Plan(request, spec, preset, [], "", frames, fps, width, height, steps, guidance,
                    request.seed if request.seed is not None else random.randrange(2**32), k, request.times,
                    notices=notices)
        if request.mode == "generate":
            self._plan_generate(plan)
        else:
            self._plan_extend(plan)
        plan.negative_prompt = request.negative_prompt or (preset.negative if preset else "")
        return plan

    def _final(self, prompt: str, plan: Plan) -> str:
        return plan.preset.apply(prompt, plan.spec.name) if plan.preset else prompt

    def _plan_generate(self, plan: Plan) -> None:
        request, spec = plan.request, plan.spec
        if not request.prompt:
            raise RequestError("prompt", "is empty: describe the scene, e.g. 'a red ball rolls to the right'")
        if request.prompts:
            raise RequestError("prompts", "are for extend; generate takes one prompt")
        if spec.valid_frames(plan.frames) != plan.frames and plan.frames <= spec.window_frames:
            plan.notices.append(f"{spec.name} makes {spec.frame_multiple}k+1 frames: using "
                                f"{spec.valid_frames(plan.frames)} instead of {plan.frames}")
            plan.frames = spec.valid_frames(plan.frames)
        if request.image is not None:
            if "image-to-video" not in spec.can:
                raise RequestError("image", f"{spec.name} can't start from an image")
            plan.start = self._read_image(request.image, plan.width, plan.height)
        plan.prompts = [self._final(request.prompt, plan)]

    def _plan_extend(self, plan: Plan) -> None:
        request, spec = plan.request, plan.spec
        if "extend" not in spec.can:
            raise RequestError("model", f"{spec.name} can't extend a clip")
        if request.video is None:
            raise RequestError("video", "is missing: give the clip to continue")
        try:
            plan.start = video.read_video(request.video, plan.fps, (plan.width, plan.height), self.upload_limits)
        except video.VideoError as err:
            raise RequestError("video", str(err)) from None
        if len(plan.start) < plan.condition_frames:
            raise RequestError("video", f"has {len(plan.start)} frames; continuing it needs at least "
                               f"{plan.condition_frames}")
        if request.add_seconds:
            plan.times = max(1, math.ceil(request.add_seconds * plan.fps / (plan.frames - plan.condition_frames)))
        prompts = request.prompts or ([request.prompt] if request.prompt else [])
        if not prompts:
            earlier = video.read_metadata(request.video).get("prompt")
            if not earlier:
                raise RequestError("prompt", "is empty: say what happens next, e.g. 'then it jumps'")
            prompts = [earlier]
            plan.notices.append(f"no prompt given: continuing with the clip's own prompt {earlier!r}")
        if request.prompts:  # one extension per scene of the story
            plan.times = max(plan.times, len(prompts))
        plan.prompts = [self._final(prompts[min(i, len(prompts) - 1)], plan) for i in range(plan.times)]

    def _read_image(self, path: Path, width: int, height: int) -> np.ndarray:
        try:
            with Image.open(path) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise RequestError("image", f"is {image.width}x{image.height}; the limit is 4096x4096")
                image = image.convert("RGB")
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            raise RequestError("image", "can't be read as a picture: upload a PNG, JPEG or WebP") from None
        scale = max(width / image.width, height / image.height)  # cover, then centre crop
        image = image.resize((max(width, round(image.width * scale)), max(height, round(image.height * scale))))
        left, top = (image.width - width) // 2, (image.height - height) // 2
        return np.asarray(image.crop((left, top, left + width, top + height)))[None]

    # -- running -----------------------------------------------------------------------------

    def start(self, request: Request, out: Path | None = None) -> "Job":
        """Plans the request (a RequestError is raised at once) and starts a job for it."""
        plan = self.plan(request)
        return Job(self, plan, Path(out) if out else self.library.new_path())

    def notices(self, plan: Plan) -> list[str]:
        notices = list(plan.notices)
        try:
            unknown = self.backend(plan.spec.name).unknown_words(" ".join(plan.prompts))
        except ModelUnavailable:
            unknown = []
        if unknown:
            notices.append(f"{plan.spec.name} never learned these words and will ignore them: "
                           f"{', '.join(unknown)}. See the vocabulary in the Help section.")
        return notices


def release_free_memory() -> None:
    """Hands memory freed by a job back to the system. Each job runs on a thread of its own, and glibc
    keeps what a thread freed in that thread's arena: without this, a server's memory grew by about
    1.5 MB a request under load (bench/load.py), though Python's own objects did not grow."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class Job:
    """One generation: iterate it for its events; `cancel()` stops it within a denoising step."""

    def __init__(self, engine: Engine, plan: Plan, out: Path):
        self.engine, self.plan, self.out = engine, plan, out
        self._events: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._work, daemon=True, name=f"job-{out.stem}")
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self._events.get()
            yield event
            if isinstance(event, FINAL):
                return

    def result(self) -> Event:
        """Runs to the end and returns the final event."""
        *_, last = self
        return last

    def _work(self) -> None:
        final = self._run()
        # before the final event: a caller that exits on it (the CLI) must not meet a thread still
        # inside libc while the interpreter shuts down (that aborted the process)
        release_free_memory()
        self._events.put(final)

    def _run(self) -> Event:
        """Runs the job, sending its events as they come; returns the final one."""
        plan, engine = self.plan, self.engine
        try:
            self._events.put(Started(plan.settings(), engine.notices(plan)))
            lock = engine._model_locks[plan.spec.name]
            if not lock.acquire(blocking=False):
                self._events.put(Waiting(plan.spec.name))
                while not lock.acquire(timeout=0.2):
                    if self._cancel.is_set():
                        return CancelledEvent()
            try:
                frames, elapsed = self._denoise(engine.backend(plan.spec.name))
            finally:
                lock.release()
            settings = plan.settings() | {"created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                          "elapsed_s": round(elapsed, 2), "frames_total": len(frames)}
            video.write_video(self.out, frames, plan.fps, settings, scale=plan.spec.output_scale)
            return Done(self.out, frames, settings)
        except Cancelled:
            return CancelledEvent()
        except (ModelUnavailable, video.VideoError, RequestError) as err:
            return Failed(str(err))
        except Exception as err:  # noqa: BLE001 - a job's failure must never take the server down
            return Failed(f"generation failed: {type(err).__name__}: {err}. The studio is fine; "
                          "try again, or with other settings.")

    def _denoise(self, backend: Backend) -> tuple[np.ndarray, float]:
        plan = self.plan
        windows = plan.windows()
        clip = plan.start if plan.request.mode == "extend" else None
        started = time.monotonic()
        steps_done, steps_total = 0, plan.steps * len(windows)
        for index, (frames, given) in enumerate(windows):
            if self._cancel.is_set():
                raise Cancelled
            condition = None
            if given:
                condition = plan.start if clip is None else clip[-given:]
            prompt = plan.prompts[min(index, len(plan.prompts) - 1)]
            window = Window(prompt, plan.negative_prompt, frames, plan.width, plan.height, plan.fps, plan.steps,
                            plan.guidance, plan.seed + index, condition)

            def on_step(step: int, steps: int, preview: np.ndarray, index: int = index) -> bool:
                nonlocal steps_done
                steps_done += 1
                elapsed = time.monotonic() - started
                eta = elapsed / steps_done * (steps_total - steps_done)
                self._events.put(Progress(index + 1, len(windows), step + 1, steps, elapsed, eta, preview))
                return not self._cancel.is_set()

            made = backend.run(window, on_step)
            if condition is None:
                clip = made
            else:  # the given frames come back regenerated: keep the originals, add only what is new
                new = seam.join(condition[-1], made[given - 1], made[given:])
                clip = np.concatenate([condition if clip is None else clip, new])
        if plan.request.mode == "generate":
            clip = clip[: max(plan.frames, 2)]
        return clip, time.monotonic() - started

