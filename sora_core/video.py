"""Video files in and out, through imageio-ffmpeg's ffmpeg binary.

Writing: H.264 in yuv420p with faststart (plays in every browser), settings as JSON both in the
file's `comment` tag and in a sidecar `.json`; every file is written to a temporary name and renamed,
so a crash never leaves a half-written clip under a real name.
Reading: probe first and refuse by the limits before decoding; ffmpeg itself fits the frames to the
wanted fps and size (it also applies phone rotation and copes with variable frame rate).
"""

import contextlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image


class VideoError(ValueError):
    """A video that can't be read or written; the message says what to do."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 200 * 1024 * 1024
    max_seconds: float = 120.0
    max_pixels: int = 3840 * 2160  # 4K; 8K is refused before decoding
    min_frames: int = 2


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Frames as floats in [0, 1] (a pipeline's "np" output) -> uint8, the way every clip is stored."""
    return (np.clip(np.asarray(frames, dtype=np.float32), 0, 1) * 255).round().astype(np.uint8)


def write_video(path: Path, frames: np.ndarray, fps: int, metadata: dict, scale: int = 1) -> Path:
    """frames: uint8 (T, H, W, 3). Writes PATH.mp4 and its settings as PATH.json, atomically."""
    path = Path(path)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise VideoError(f"expected frames shaped (T, H, W, 3), got {frames.shape}")
    if scale > 1:  # small native frames are enlarged once here, so every player shows them sharp
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    height, width = frames.shape[1:3]
    text = json.dumps(metadata, ensure_ascii=False)
    tmp = path.with_name(f".{path.name}.partial.mp4")
    try:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (width, height), fps=fps, codec="libx264", quality=None, macro_block_size=2,
            output_params=["-crf", "18", "-movflags", "+faststart", "-metadata", f"comment={text}"],
        )
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        os.replace(tmp, path)
        _write_text_atomic(path.with_suffix(".json"), json.dumps(metadata, indent=2, ensure_ascii=False))
    except (OSError, RuntimeError) as err:  # ffmpeg's own failures come as RuntimeError
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        reason = getattr(err, "strerror", None) or str(err).strip().splitlines()[-1]
        raise VideoError(f"could not write {path.name}: {reason}. "
                         "Check that the output folder exists, is writable and has free space.") from err
    return path


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_gif(path: Path, frames: np.ndarray, fps: int, scale: int = 1) -> Path:
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(f) for f in frames]
    tmp = Path(path).with_name(f".{Path(path).name}.partial.gif")
    images[0].save(tmp, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    os.replace(tmp, path)
    return Path(path)


def read_metadata(path: Path) -> dict:
    """The JSON settings embedded in a clip's `comment` tag ({} when there are none)."""
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
                         capture_output=True, text=True, timeout=30)
    match = re.search(r"^comment=(.*)$", out.stdout, re.MULTILINE)
    if not match:
        return {}
    try:  # ffmetadata escapes =;#\ and newlines with a backslash
        return json.loads(re.sub(r"\\(.)", r"\1", match.group(1)))
    except json.JSONDecodeError:
        return {}


def probe(path: Path) -> dict:
    """Size, fps and duration of a video, without decoding it."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise VideoError("the file is empty (0 bytes): upload the video again")
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as err:
        raise VideoError(_ffmpeg_reason(str(err))) from None
    finally:
        reader.close()
    return meta


def _ffmpeg_reason(message: str) -> str:
    if "no video stream" in message.lower() or "does not contain any stream" in message.lower():
        return "the file has no video stream (audio only?): upload a video file"
    return ("ffmpeg can't decode this file: it is not a video, or it is damaged or truncated. "
            "Upload an MP4, WebM, MOV or GIF")


def read_video(path: Path, fps: int, size: tuple[int, int], limits: UploadLimits = UploadLimits()) -> np.ndarray:
    """Decodes a whole video, fitted to `fps` and `size` (width, height) by centre crop: uint8 (T, H, W, 3)."""
    path = Path(path)
    if path.is_file() and path.stat().st_size > limits.max_bytes:
        raise VideoError(f"the file is {path.stat().st_size / 2**20:.0f} MB; the limit is "
                         f"{limits.max_bytes / 2**20:.0f} MB: trim or compress it first")
    meta = probe(path)
    width, height = meta.get("source_size") or meta.get("size") or (0, 0)
    if width * height > limits.max_pixels:
        raise VideoError(f"the video is {width}x{height}; the limit is 4K (3840x2160): scale it down first")
    duration = float(meta.get("duration") or 0)
    if duration > limits.max_seconds:
        raise VideoError(f"the video is {duration:.0f} s long; the limit is {limits.max_seconds:.0f} s: "
                         "trim it to its last seconds first")
    w, h = size
    fit = f"fps={fps},scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1"
    max_frames = int(limits.max_seconds * fps) + 1
    frames = []
    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", fit, "-frames:v", str(max_frames)])
    try:
        next(reader)
        for raw in reader:
            frames.append(np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3))
    except (OSError, RuntimeError) as err:
        raise VideoError(_ffmpeg_reason(str(err))) from None
    finally:
        reader.close()
    if len(frames) < limits.min_frames:
        raise VideoError(f"the video has {len(frames)} frame(s) at {fps} fps; extension needs at least "
                         f"{limits.min_frames}. For a still picture use image-to-video on the Create tab")
    return np.stack(frames)
