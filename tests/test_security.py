"""The studio serves only its own outputs and assets: no path traversal through routes, file
inputs, clip ids or settings; uploads have a size limit."""

import os
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from sora_core.library import ClipNotFound
from sora_core.registry import PROJECT_ROOT

SECRET = "top-secret-do-not-serve"


@pytest.fixture
def secret_file(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def file_route(url: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}gradio_api/file={path}", timeout=10)


def test_no_file_outside_the_studio_folders_can_be_read_by_url(studio, secret_file):
    url, engine = studio
    outputs = engine.library.folder
    (outputs / "link.mp4").symlink_to(secret_file)  # a symlink planted in the output folder
    attempts = [str(secret_file), "/etc/passwd", f"{outputs}/../secret.txt", f"{outputs}/../../etc/passwd",
                f"{outputs}/link.mp4", str(PROJECT_ROOT / "studio.py"), "..%2F..%2Fetc%2Fpasswd",
                str(PROJECT_ROOT / "assets" / "sora-tiny" / "model_index.json")]
    for attempt in attempts:
        response = file_route(url, attempt)
        assert response.status_code in (403, 404), attempt
        assert SECRET not in response.text and "root:" not in response.text


def test_a_clip_of_the_studio_is_served(studio):
    url, engine = studio
    Client(url, verbose=False).predict(prompt="a red ball jumps", steps=2, api_name="/generate")
    clip = engine.library.path(engine.library.clips()[0]["id"])
    assert file_route(url, str(clip)).status_code == 200


@pytest.mark.parametrize("field", ["image", "video"])
def test_a_server_path_passed_as_a_file_input_is_refused(studio, secret_file, field):
    url, engine = studio
    forged = {"path": str(secret_file), "meta": {"_type": "gradio.FileData"}, "orig_name": "x.mp4"}
    client = Client(url, verbose=False)
    with pytest.raises(Exception) as err:  # noqa: B017 - gradio_client wraps the server's refusal
        if field == "image":
            client.predict(prompt="a red ball jumps", image=forged, steps=2, api_name="/generate")
        else:
            client.predict(video={"video": forged}, prompts="it jumps", steps=2, api_name="/extend")
    assert SECRET not in str(err.value)
    assert engine.library.clips() == []


def test_an_uploaded_file_name_is_never_used_as_a_path(studio, tmp_path):
    url, engine = studio
    client = Client(url, verbose=False)
    client.predict(prompt="a red ball jumps", steps=2, api_name="/generate")
    source = engine.library.path(engine.library.clips()[0]["id"])
    hostile = tmp_path / "..%2F..%2Fevil name;rm -rf.mp4"
    hostile.write_bytes(source.read_bytes())
    client.predict(video=handle_file(str(hostile)), prompts="it jumps", steps=2, api_name="/extend")
    names = sorted(p.name for p in engine.library.folder.iterdir())
    assert all(n.startswith("clip-") for n in names), names  # outputs are named by the studio only
    assert not any("evil" in p.name for p in tmp_path.parent.rglob("*") if p != hostile)


@pytest.mark.parametrize("clip_id", ["../secret", "/etc/passwd", "clip-20260101-000000-abcdef/../../x",
                                     "..", "", "clip-2026", "link"])
def test_clip_ids_cannot_escape_the_library(engine, clip_id):
    with pytest.raises(ClipNotFound):
        engine.library.path(clip_id)
    with pytest.raises(ClipNotFound):
        engine.library.delete(clip_id)


def test_symlinks_in_the_library_are_ignored(engine, secret_file):
    folder = engine.library.folder
    os.symlink(secret_file, folder / "clip-20260101-000000-abcdef.mp4")
    (folder / "clip-20260101-000000-abcdef.json").write_text('{"prompt": "x"}')
    assert engine.library.clips() == []
    with pytest.raises(ClipNotFound):
        engine.library.path("clip-20260101-000000-abcdef")


def test_uploads_over_the_size_limit_are_refused(registry_file, tmp_path):
    from sora_core.engine import Engine
    from studio import launch

    engine = Engine(registry=registry_file, library=tmp_path / "outputs")
    demo = launch(engine, block=False, max_file_size="1mb")
    try:
        big = tmp_path / "big.mp4"
        big.write_bytes(os.urandom(2 * 1024 * 1024))
        response = httpx.post(f"{demo.local_url}gradio_api/upload", files={"files": big.open("rb")}, timeout=30)
        assert response.status_code == 413
        assert not list(Path(engine.library.folder).iterdir())
    finally:
        demo.close()
