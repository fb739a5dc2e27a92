"""The studio's named API endpoints, driven with gradio_client against a launched studio."""

import threading
import time

import pytest
from gradio_client import Client, handle_file

from sora_core import video


def client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False)


def video_path(output) -> str:
    value = output[3]
    return value["video"]["path"] if isinstance(value.get("video"), dict) else value["path"]


def test_generate_streams_previews_then_the_clip(studio):
    url, engine = studio
    job = client(url).submit(prompt="a red ball rolls to the right", steps=4, random_seed=False, seed=7,
                             api_name="/generate")
    outputs = list(job)
    statuses = [o[1] for o in outputs]
    assert sum("step" in s for s in statuses) >= 4  # a preview at least once per step
    assert all(o[0] is not None for o in outputs if "step" in o[1])
    assert statuses[-1].startswith("Done: 16 frames")
    clips = engine.library.clips()
    assert len(clips) == 1 and clips[0]["seed"] == 7
    assert len(video.read_video(engine.library.path(clips[0]["id"]), 8, (64, 64))) == 16


def test_extend_returns_the_clip_with_its_continuation(studio):
    url, engine = studio
    c = client(url)
    first = c.submit(prompt="a blue cube moves left", steps=3, api_name="/generate")
    list(first)
    source = engine.library.path(engine.library.clips()[0]["id"])
    job = c.submit(video=handle_file(str(source)), prompts="it jumps\nit spins", steps=3, api_name="/extend")
    outputs = list(job)
    assert outputs[-1][1].startswith("Done: 40 frames")  # 16 + 2 x (16 - 4)
    longest = max(engine.library.clips(), key=lambda c: c["frames_total"])
    assert longest["mode"] == "extend" and longest["final_prompts"] == ["it jumps", "it spins"]


def test_cancel_stops_the_job_and_frees_the_model(studio):
    url, engine = studio
    c = client(url)
    # the longest clip at the most steps the sliders allow: minutes of work, so only a cancel frees the model
    job = c.submit(prompt="a yellow star spins", duration=30, steps=100, api_name="/generate")
    deadline = time.time() + 60
    while not any("step" in str(o[1]) for o in job.outputs()) and time.time() < deadline:
        time.sleep(0.05)
    assert any("step" in str(o[1]) for o in job.outputs()), job.status()  # it is running, not refused
    job.cancel()
    started = time.time()
    after = c.submit(prompt="a green ball jumps", steps=3, api_name="/generate")
    list(after)
    assert time.time() - started < 30  # the long job was not run first
    assert [clip["prompt"] for clip in engine.library.clips()] == ["a green ball jumps"]


def test_two_clients_at_once_each_get_their_own_clip(studio):
    url, engine = studio
    results = {}

    def run(prompt: str, seed: int) -> None:
        job = client(url).submit(prompt=prompt, steps=3, random_seed=False, seed=seed, api_name="/generate")
        list(job)
        results[prompt] = video.read_metadata(video_path(job.outputs()[-1]))

    threads = [threading.Thread(target=run, args=(p, s)) for p, s in
               [("a red ball jumps", 1), ("a white cube spins", 2)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results["a red ball jumps"]["seed"] == 1
    assert results["a white cube spins"]["seed"] == 2


def test_an_open_model_that_cannot_run_here_says_why(tmp_path):
    from sora_core.engine import Engine
    from studio import launch

    demo = launch(Engine(library=tmp_path / "out"), block=False)  # the real registry: hub models, no GPU
    try:
        with pytest.raises(Exception, match="needs a GPU") as err:  # noqa: B017 - the client wraps gr.Error
            client(demo.local_url).predict(prompt="a cat", model="ltx-video", api_name="/generate")
        assert "Traceback" not in str(err.value) and "sora-tiny" in str(err.value)
    finally:
        demo.close()


def test_closing_the_stream_cancels_the_job(engine):
    """Gradio closes a handler's generator when its client goes away (a closed tab) or cancels."""
    from studio import stream

    events = stream(engine, {"prompt": "a red ball jumps", "steps": 200})
    while "step" not in next(events)[1]:
        pass
    events.close()
    time.sleep(0.5)
    assert not any(t.name.startswith("job-") and t.is_alive() for t in threading.enumerate())
    assert engine.library.clips() == []


def test_a_closed_tab_cancels_its_job(studio):
    """A browser that goes away drops its event stream; the job stops and leaves nothing behind."""
    import httpx

    url, engine = studio
    config = httpx.get(f"{url}config").json()
    generate = next(d for d in config["dependencies"] if d.get("api_name") == "generate")
    # 30 s at 100 steps, the sliders' largest: minutes of work, so only the closed tab stops it
    data = ["a red ball jumps", "", "", "sora-tiny", 30.0, 8, 64, 64, 0, True, 100, 4.0, None]
    joined = httpx.post(f"{url}gradio_api/queue/join", json={
        "data": data, "fn_index": generate["id"], "session_hash": "closed-tab", "event_data": None,
        "trigger_id": generate["targets"][0][0]})
    assert joined.status_code == 200
    with httpx.stream("GET", f"{url}gradio_api/queue/data?session_hash=closed-tab", timeout=60) as events:
        updates = 0
        for line in events.iter_lines():
            updates += "process_generating" in line
            if updates == 3:
                break  # the tab closes
    assert updates == 3  # it was running, not refused
    deadline = time.time() + 20
    while any(t.name.startswith("job-") for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(t.name.startswith("job-") for t in threading.enumerate())
    assert engine.library.clips() == []  # the job was not run to the end
