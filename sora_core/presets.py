"""Style presets: one TOML file each in `presets/`. A broken file is reported and skipped."""

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .registry import PROJECT_ROOT

DEFAULT_PRESETS = PROJECT_ROOT / "presets"


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str  # the file name without .toml, used on the command line and in the API
    name: str
    description: str
    template: str
    negative: str = ""
    guidance: float | None = Field(default=None, ge=0, le=30)
    steps: int | None = Field(default=None, ge=1, le=200)
    fps: int | None = Field(default=None, ge=1, le=60)
    models: list[str] = []
    template_for: dict[str, str] = {}  # a model's own template, when it knows other words

    @field_validator("template")
    @classmethod
    def _has_slot(cls, value: str) -> str:
        if "{prompt}" not in value:
            raise ValueError("the template must contain {prompt}")
        return value

    def apply(self, prompt: str, model: str) -> str:
        return self.template_for.get(model, self.template).replace("{prompt}", prompt)


def load_presets(folder: Path = DEFAULT_PRESETS) -> tuple[dict[str, Preset], list[str]]:
    """Returns the presets that loaded and one message per file that did not."""
    presets, problems = {}, []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            presets[path.stem] = Preset(key=path.stem, **data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            problems.append(f"preset {path.name} skipped: {where}: {first['msg'].removeprefix('Value error, ')}")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, TypeError) as err:
            problems.append(f"preset {path.name} skipped: {str(err).splitlines()[0]}")
    return presets, problems
