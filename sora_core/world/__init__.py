"""The procedural world the built-in model learns from: scenes with captions and ground truth."""

from .render import render
from .scenes import FRAMES, SIZE, Scene, Thing, evaluation_scenes, is_held_out, sample_scene, single_motion_scenes

__all__ = ["FRAMES", "SIZE", "Scene", "Thing", "evaluation_scenes", "is_held_out", "render", "sample_scene",
           "single_motion_scenes"]
