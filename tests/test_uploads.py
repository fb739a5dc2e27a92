"""Uploads: a corpus of good and bad videos made here with imageio-ffmpeg's ffmpeg (no binary is
committed), read through the same path the Extend tab and the command line use."""

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from sora_core import video
from sora_core.engine import Done
from sora_core.request import RequestError, parse_request

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SRC = "testsrc2=size=96x64:rate=12:duration=2"


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-y", "-v", "error", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    (d / "empty.mp4").write_bytes(b"")
    ffmpeg("-f", "lavfi", "-i", SRC, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(d / "whole.mp4"))
    data = (d / "whole.mp4").read_bytes()  # moov atom at the end: cutting it off breaks the file
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", str(d / "picture.jpg"))
    (d / "picture.mp4").write_bytes((d / "picture.jpg").read_bytes())
    (d / "notes.mp4").write_text("this is not a video\n" * 50)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", "-f", "mp4", str(d / "audio.mp4"))
    ffmpeg("-f", "lavfi", "-i", SRC, "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           str(d / "one-frame.mp4"))
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=7680x4320:rate=1:duration=2", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(d / "8k.mp4"))
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:size=32x32:rate=1:duration=900", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(d / "long.mp4"))
    # accepted: odd frame timing, rotation, other codecs and containers
    ffmpeg("-f", "lavfi", "-i", SRC, "-vf", r"select=not(mod(n\,3))+eq(n\,1)", "-fps_mode", "vfr",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(d / "vfr.mp4"))
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=32x32:duration=2", "-f", "lavfi", "-i",
           "color=c=blue:size=32x32:duration=2", "-filter_complex", "[0][1]hstack", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(d / "landscape.mp4"))
    ffmpeg("-display_rotation", "90", "-i", str(d / "landscape.mp4"), "-c", "copy", str(d / "rotated.mp4"))
    ffmpeg("-f", "lavfi", "-i", SRC, "-c:v", "libx264", "-pix_fmt", "yuv420p10le", str(d / "10bit.mp4"))
    ffmpeg("-f", "lavfi", "-i", SRC, "-c:v", "libx265", "-x265-params", "log-level=none", "-pix_fmt", "yuv420p",
           str(d / "hevc.mp4"))
    ffmpeg("-f", "lavfi", "-i", SRC, "-c:v", "libvpx-vp9", "-deadline", "realtime", str(d / "vp9.webm"))
    ffmpeg("-f", "lavfi", "-i", SRC, "-c:v", "libsvtav1", "-preset", "12", str(d / "av1.mp4"))
    ffmpeg("-f", "lavfi", "-i", SRC, str(d / "anim.gif"))
    ffmpeg("-f", "lavfi", "-i", SRC, "-c:v", "prores", str(d / "prores.mov"))
    return d


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("empty.mp4", "empty"),
        ("truncated.mp4", "can't decode"),
        ("notes.mp4", "can't decode"),
        ("picture.mp4", "image-to-video"),
        ("audio.mp4", "no video stream"),
        ("one-frame.mp4", "at least 2"),
        ("8k.mp4", "7680x4320"),
        ("long.mp4", "900 s long"),
        ("missing.mp4", "no such file"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_message(corpus, name, says):
    with pytest.raises(video.VideoError) as err:
        video.read_video(corpus / name, 8, (64, 64))
    assert says in str(err.value)


@pytest.mark.parametrize("name", ["8k.mp4", "long.mp4"])
def test_limits_refuse_before_decoding(corpus, name, monkeypatch):
    calls = []
    real = imageio_ffmpeg.read_frames
    monkeypatch.setattr(imageio_ffmpeg, "read_frames", lambda *a, **k: calls.append(k) or real(*a, **k))
    with pytest.raises(video.VideoError):
        video.read_video(corpus / name, 8, (64, 64))
    assert calls == [{}]  # only the probe ran: no decoding with filters


@pytest.mark.parametrize("name", ["whole.mp4", "vfr.mp4", "10bit.mp4", "hevc.mp4", "vp9.webm", "av1.mp4",
                                  "anim.gif", "prores.mov"])
def test_good_uploads_are_fitted_to_the_model(corpus, name):
    frames = video.read_video(corpus / name, 8, (64, 64))
    assert frames.shape[1:] == (64, 64, 3) and frames.dtype == np.uint8
    assert 15 <= len(frames) <= 17  # 2 s at 8 fps, whatever the source's timing


def test_a_rotated_phone_video_is_turned_upright(corpus):
    plain = video.read_video(corpus / "landscape.mp4", 8, (32, 64))
    upright = video.read_video(corpus / "rotated.mp4", 8, (32, 64))
    # red left / blue right becomes red and blue stacked: rows differ, columns don't
    assert abs(int(plain[0, 32, 2, 0]) - int(plain[0, 32, 29, 0])) > 100
    assert abs(int(upright[0, 4, 16, 0]) - int(upright[0, 60, 16, 0])) > 100


def test_extend_refuses_a_bad_upload_naming_the_field(engine, corpus):
    with pytest.raises(RequestError) as err:
        engine.start(parse_request(mode="extend", video=corpus / "notes.mp4", prompt="it jumps"))
    assert err.value.field == "video" and "can't decode" in str(err.value)


def test_extend_continues_an_uploaded_webm(engine, corpus):
    done = engine.start(parse_request(mode="extend", video=corpus / "vp9.webm", prompt="it jumps",
                                      steps=2, seed=1)).result()
    assert isinstance(done, Done)
    assert len(done.frames) == 16 + 12
