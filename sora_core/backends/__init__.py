"""Model backends behind one interface; `make_backend` picks the family's adapter."""

import torch

from ..registry import ModelSpec
from .base import Backend, Cancelled, ModelUnavailable, StepCallback, Window
from .families import FAMILIES


def make_backend(spec: ModelSpec, device: torch.device | None = None) -> Backend:
    return FAMILIES[spec.family](spec, device)


__all__ = ["Backend", "Cancelled", "ModelUnavailable", "StepCallback", "Window", "make_backend"]
