"""The model registry: `models.toml` read into validated `ModelSpec`s, one per model name."""

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGISTRY = Path(__file__).with_name("models.toml")
DEFAULT_MODEL = "sora-tiny"


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label: str
    family: Literal["sora-tiny", "ltx", "wan", "cogvideox"]
    source: str
    pipeline: str
    extend_pipeline: str | None = None
    extend_source: str | None = None
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    frames: int = Field(gt=1)  # default clip length
    window_frames: int = Field(gt=1)  # most frames one pipeline call makes; longer clips chain windows
    fps: int = Field(gt=0)
    fps_flexible: bool = False  # the model takes the frame rate as input (LTX); else fps is its own
    steps: int = Field(gt=0)
    guidance: float = Field(ge=0)
    frame_multiple: int = Field(ge=1)
    size_multiple: int = Field(ge=1)
    extend_frames: int = Field(ge=1)  # frames of the previous clip each extension conditions on
    output_scale: int = Field(ge=1)  # files are written this many times larger (small native models)
    needs_gpu: bool
    can: list[Literal["text-to-video", "image-to-video", "extend"]]

    def resolved_source(self, extend: bool = False) -> str:
        """A hub id as it is, or a folder made absolute (relative to the project root)."""
        source = (self.extend_source or self.source) if extend else self.source
        local = Path(source) if Path(source).is_absolute() else PROJECT_ROOT / source
        return str(local) if local.exists() or source.startswith((".", "/")) else source

    def valid_frames(self, frames: int) -> int:
        """The nearest frame count the model accepts (k * frame_multiple + 1), at least 2."""
        m = self.frame_multiple
        if m == 1:
            return max(2, frames)
        return max(m + 1, round((frames - 1) / m) * m + 1)


def load_registry(path: Path = DEFAULT_REGISTRY) -> dict[str, ModelSpec]:
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"model registry {path}: {err}") from err
    specs = {}
    for name, entry in table.items():
        try:
            specs[name] = ModelSpec(name=name, **entry)
        except ValidationError as err:
            raise ValueError(f"model registry {path}, entry [{name}]: {err}") from err
    return specs
