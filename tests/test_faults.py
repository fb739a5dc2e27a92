"""Faults: a model that can't load, a step that raises, an output folder that can't be written, a
process killed mid-generation. Each job fails with a message; everything else keeps working."""

import shutil
import signal
import subprocess
import sys
import time

import pytest

from sora_core.engine import Done, Engine, Failed, Progress
from sora_core.library import Library
from sora_core.registry import PROJECT_ROOT
from sora_core.request import parse_request
from tests.tiny_pipelines import write_registry


def test_a_model_with_corrupt_weights_fails_clearly_and_the_others_still_work(registry_file, tmp_path):
    import tomllib

    entries = tomllib.loads(registry_file.read_text())
    broken = tmp_path / "broken-wan"
    shutil.copytree(entries["tiny-wan"]["source"], broken)
    for weights in broken.rglob("*.safetensors"):
        weights.write_bytes(b"\x00garbage" * 100)
    entries["broken"] = entries["tiny-wan"] | {"source": str(broken)}
    engine = Engine(registry=write_registry(tmp_path / "m.toml", entries), library=tmp_path / "out")
    failed = engine.start(parse_request(prompt="a cat", model="broken")).result()
    assert isinstance(failed, Failed)
    assert "could not be loaded" in failed.message and "pick another model" in failed.message
    assert isinstance(engine.start(parse_request(prompt="a cat", model="tiny-wan", seed=1)).result(), Done)
    assert isinstance(engine.start(parse_request(prompt="a red ball", steps=2)).result(), Done)


def test_an_exception_inside_a_denoising_step_fails_that_job_only(engine, monkeypatch):
    backend = engine.backend("sora-tiny")
    unet = backend.pipeline(extend=False).unet
    real_forward, calls = unet.forward, []

    def exploding(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom in step 2")
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(unet, "forward", exploding)
    failed = engine.start(parse_request(prompt="a red ball jumps", steps=4)).result()
    assert isinstance(failed, Failed) and "boom in step 2" in failed.message
    assert engine.library.clips() == []  # nothing half-made was kept
    done = engine.start(parse_request(prompt="a red ball jumps", steps=4)).result()
    assert isinstance(done, Done)


def test_an_unwritable_output_folder_gives_a_clear_error(engine):
    folder = engine.library.folder
    shutil.rmtree(folder)
    folder.write_text("a file where the folder was")  # even root can't write into this
    failed = engine.start(parse_request(prompt="a red ball jumps", steps=2)).result()
    assert isinstance(failed, Failed)
    assert "could not write" in failed.message and "writable" in failed.message


def test_a_full_disk_gives_a_clear_error(engine, monkeypatch):
    import imageio_ffmpeg

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(imageio_ffmpeg, "write_frames", full)
    failed = engine.start(parse_request(prompt="a red ball jumps", steps=2)).result()
    assert isinstance(failed, Failed) and "No space left" in failed.message and "free space" in failed.message
    assert list(engine.library.folder.iterdir()) == []


def test_a_process_killed_mid_generation_leaves_no_half_clip(tmp_path):
    outputs = tmp_path / "outputs"
    script = (
        "import sys\n"
        "from sora_core.engine import Engine, Progress\n"
        "from sora_core.request import parse_request\n"
        f"engine = Engine(library={str(outputs)!r})\n"
        "print(engine.start(parse_request(prompt='a red ball', steps=2, seed=1)).result().path, flush=True)\n"
        "for event in engine.start(parse_request(prompt='a blue cube', steps=200)):\n"
        "    if isinstance(event, Progress):\n"
        "        print('denoising', flush=True)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    finished = process.stdout.readline().strip()
    assert process.stdout.readline().strip() == "denoising"
    # a partial file as a crash during a write leaves it, and a video whose settings never came
    (outputs / ".clip-20260101-000000-abcdef.mp4.partial.mp4").write_bytes(b"half")
    (outputs / "clip-20260101-000000-abcdef.mp4").write_bytes(b"no settings")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    library = Library(outputs)  # the restart
    assert [c["id"] for c in library.clips()] == [finished.rsplit("/", 1)[-1].removesuffix(".mp4")]
    assert not list(outputs.glob(".*partial*"))


def test_a_cancelled_or_failed_job_leaves_the_queue_moving(engine):
    job = engine.start(parse_request(prompt="a red ball", steps=100))
    for event in job:
        if isinstance(event, Progress):
            job.cancel()
    started = time.monotonic()
    assert isinstance(engine.start(parse_request(prompt="a red ball", steps=2)).result(), Done)
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "🎬🔴⚽ a red ball", "كرة حمراء a red ball",
                                  "a red\x00 ball\x1b[31m jumps\r\n"])
def test_odd_prompts_are_kept_as_text(engine, text):
    done = engine.start(parse_request(prompt=text, steps=2)).result()
    assert isinstance(done, Done)
    assert "\x00" not in done.settings["prompt"] and "\x1b" not in done.settings["prompt"]
    assert engine.library.settings(done.path.stem)["prompt"] == done.settings["prompt"]
