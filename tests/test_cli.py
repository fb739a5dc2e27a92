"""The command line: `python -m sora_core ...`, run as a user runs it."""

import json
import subprocess
import sys

import pytest

from sora_core import video
from sora_core.registry import PROJECT_ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sora_core", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})


def test_generate_then_extend_writes_videos_with_their_settings(tmp_path):
    out = tmp_path / "clip.mp4"
    made = cli("generate", "--prompt", "a red ball rolls to the right", "--seed", "3", "--steps", "3",
               "--preset", "cinematic", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(out)
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["seed"] == 3 and settings["final_prompts"] == ["a red ball rolls to the right, cinematic"]
    assert len(video.read_video(out, 8, (64, 64))) == 16

    longer = tmp_path / "longer.mp4"
    extended = cli("extend", "--video", str(out), "--prompt", "it jumps", "--prompt", "it spins", "--seed", "4",
                   "--out", str(longer))
    assert extended.returncode == 0, extended.stderr
    assert len(video.read_video(longer, 8, (64, 64))) == 16 + 2 * 12
    assert video.read_metadata(longer)["final_prompts"] == ["it jumps", "it spins"]


def test_presets_and_models_are_listed():
    presets = cli("presets")
    assert presets.returncode == 0
    assert {line.split()[0] for line in presets.stdout.splitlines()} >= {
        "cinematic", "animation", "realistic", "anime", "claymation", "documentary", "noir", "pixel-art",
        "watercolor", "sketch"}
    models = cli("models")
    assert models.returncode == 0 and "sora-tiny" in models.stdout and "ltx-video" in models.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["generate", "--prompt", "", "--out", "x.mp4"], "prompt: is empty"),
        (["generate", "--prompt", "a ball", "--frames", "-2", "--out", "x.mp4"], "frames:"),
        (["generate", "--prompt", "a ball", "--guidance", "nan", "--out", "x.mp4"], "guidance: must be a finite"),
        (["generate", "--prompt", "a ball", "--preset", "vaporwave", "--out", "x.mp4"], "unknown preset"),
        (["generate", "--prompt", "a ball", "--out", "/no/such/folder/x.mp4"], "does not exist"),
        (["extend", "--video", "/no/such.mp4", "--prompt", "it jumps", "--out", "y.mp4"], "no such file"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(tmp_path, args, says):
    args = [a if a not in ("x.mp4", "y.mp4") else str(tmp_path / a) for a in args]
    result = cli(*args)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], result.stderr
