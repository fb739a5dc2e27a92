"""A request to the engine, validated by pydantic: every field has its allowed range, and a bad
value is refused with one line naming the field, the range and what was given."""

import re
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_PROMPT = 2000
MAX_FRAMES = 1024


class RequestError(ValueError):
    """A request the engine refuses; `field` names what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def clean_text(text: str) -> str:
    """Control characters become spaces (newlines included); runs of space shrink to one.
    Emoji and right-to-left text are kept as they are."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Literal["generate", "extend"] = "generate"
    prompt: str = ""
    prompts: list[str] = Field(default=[], max_length=20)  # extend: one per extension (a story)
    negative_prompt: str = ""
    preset: str | None = None
    model: str = "sora-tiny"
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    frames: int | None = Field(default=None, ge=2, le=MAX_FRAMES)
    duration: float | None = Field(default=None, gt=0, le=120)  # seconds; `frames` wins when both are set
    fps: int | None = Field(default=None, ge=1, le=60)
    width: int | None = Field(default=None, ge=16, le=2048)
    height: int | None = Field(default=None, ge=16, le=2048)
    steps: int | None = Field(default=None, ge=1, le=200)
    guidance: float | None = Field(default=None, ge=0, le=30)
    image: Path | None = None  # generate: a start image (image-to-video)
    video: Path | None = None  # extend: the clip to continue
    condition_frames: int | None = Field(default=None, ge=1, le=64)
    times: int = Field(default=1, ge=1, le=20)  # extend: how many extensions
    add_seconds: float | None = Field(default=None, gt=0, le=120)  # extend: instead of `times`

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _clean(cls, value: str) -> str:
        if len(value) > 50 * MAX_PROMPT:  # don't even clean a megabyte of text
            raise ValueError(f"is {len(value):,} characters; the limit is {MAX_PROMPT:,}")
        value = clean_text(value)
        if len(value) > MAX_PROMPT:
            raise ValueError(f"is {len(value):,} characters; the limit is {MAX_PROMPT:,}: shorten it")
        return value

    @field_validator("prompts")
    @classmethod
    def _clean_all(cls, values: list[str]) -> list[str]:
        return [cls._clean(v) for v in values if v.strip()]


def parse_request(**fields) -> Request:
    """Builds a Request, turning pydantic's errors into one RequestError for the first bad field."""
    try:
        return Request(**fields)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "request"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "finite_number":
            message = "must be a finite number"
        shown = first.get("input")
        raise RequestError(field, f"{message} (got {_short(shown)})") from None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
