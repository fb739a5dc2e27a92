"""Shared fixtures: a registry of the built-in model plus tiny random diffusers pipelines saved to
disk (so the engine loads them through the real `from_pretrained` path), and an engine per test."""

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach the hub

import torch  # noqa: E402

from sora_core.engine import Engine  # noqa: E402
from tests.tiny_pipelines import TINY_DIFFUSERS, tiny_registry  # noqa: E402

torch.set_num_threads(2)

ALL_MODELS = ["sora-tiny", *TINY_DIFFUSERS]

@pytest.fixture(scope="session")
def registry_file(tmp_path_factory) -> Path:
    return tiny_registry(tmp_path_factory.mktemp("models"))


@pytest.fixture
def engine(registry_file, tmp_path) -> Engine:
    return Engine(registry=registry_file, library=tmp_path / "outputs")


@pytest.fixture
def studio(registry_file, tmp_path):
    """The studio's UI served in this process on a free port, over a fresh library."""
    from studio import launch

    engine = Engine(registry=registry_file, library=tmp_path / "outputs")
    demo = launch(engine, block=False)
    yield demo.local_url, engine
    demo.close()
