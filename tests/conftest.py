"""Shared fixtures: a registry of the built-in model plus tiny random diffusers pipelines saved to
disk (so the engine loads them through the real `from_pretrained` path), and an engine per test."""

import os
import tomllib
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach the hub

import torch  # noqa: E402

from sora_core.engine import Engine  # noqa: E402
from sora_core.registry import DEFAULT_REGISTRY, PROJECT_ROOT  # noqa: E402
from tests.tiny_pipelines import save_tiny  # noqa: E402

torch.set_num_threads(2)

TINY_DIFFUSERS = {
    "tiny-ltx": dict(family="ltx", source="ltx", pipeline="LTXPipeline", extend_source="ltx-condition",
                     extend_pipeline="LTXConditionPipeline", width=32, height=32, frames=17, window_frames=17,
                     frame_multiple=8, size_multiple=32, extend_frames=9),
    "tiny-wan": dict(family="wan", source="wan", pipeline="WanPipeline", extend_source="wan-vace",
                     extend_pipeline="WanVACEPipeline", width=16, height=16, frames=9, window_frames=9,
                     frame_multiple=4, size_multiple=16, extend_frames=5),
    "tiny-cogvideox": dict(family="cogvideox", source="cogvideox", pipeline="CogVideoXPipeline",
                           extend_source="cogvideox-i2v", extend_pipeline="CogVideoXImageToVideoPipeline",
                           width=16, height=16, frames=9, window_frames=9, frame_multiple=4, size_multiple=16,
                           extend_frames=1),
}
ALL_MODELS = ["sora-tiny", *TINY_DIFFUSERS]


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def write_registry(path: Path, entries: dict[str, dict]) -> Path:
    lines = []
    for name, entry in entries.items():
        lines.append(f'["{name}"]')
        lines += [f"{key} = {_toml_value(value)}" for key, value in entry.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def registry_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    real = tomllib.loads(DEFAULT_REGISTRY.read_text())
    entries = {"sora-tiny": real["sora-tiny"] | {"source": str(PROJECT_ROOT / "assets" / "sora-tiny")}}
    for name, entry in TINY_DIFFUSERS.items():
        entry = dict(entry)
        entry["source"] = str(save_tiny(entry["source"], folder))
        entry["extend_source"] = str(save_tiny(entry["extend_source"], folder))
        entries[name] = dict(label=name, fps=8, steps=3, guidance=3.0, output_scale=1, needs_gpu=False,
                             can=["text-to-video", "image-to-video", "extend"]) | entry
    return write_registry(folder / "models.toml", entries)


@pytest.fixture
def engine(registry_file, tmp_path) -> Engine:
    return Engine(registry=registry_file, library=tmp_path / "outputs")


@pytest.fixture
def studio(registry_file, tmp_path):
    """The studio's UI served in this process on a free port, over a fresh library."""
    import socket

    from studio import build_ui

    engine = Engine(registry=registry_file, library=tmp_path / "outputs")
    demo = build_ui(engine)
    demo.queue(max_size=64, default_concurrency_limit=4)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=[str(engine.library.folder)])
    yield f"http://127.0.0.1:{port}/", engine
    demo.close()
