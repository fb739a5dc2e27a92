"""The studio as a person uses it: Debian's Chromium driven by Playwright against `python studio.py`.

Screenshots of each stage go to test-artifacts/browser/ (look at them: they are what a user sees).
"""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client
from playwright.sync_api import Page, expect, sync_playwright

from sora_core.registry import PROJECT_ROOT

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "test-artifacts" / "browser"
HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> a red ball'
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Studio:
    """`python studio.py` in a subprocess, over one outputs folder, restartable."""

    def __init__(self, outputs: Path):
        self.outputs, self.process, self.url = outputs, None, ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        env = os.environ | {"HF_HUB_OFFLINE": "1"}
        self.process = subprocess.Popen([sys.executable, "studio.py", "--port", str(port), "--outputs",
                                         str(self.outputs)], cwd=PROJECT_ROOT, env=env)
        deadline = time.time() + 90
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.3)
        raise RuntimeError("the studio did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def studio_process(tmp_path):
    studio = Studio(tmp_path / "outputs")
    studio.start()
    yield studio
    studio.stop()


@pytest.fixture
def page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        yield page
        browser.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def video_duration(page: Page, selector: str) -> float:
    page.wait_for_function(f"() => {{ const v = document.querySelector('{selector} video');"
                           " return v && v.readyState >= 1 && v.duration > 0; }", timeout=60_000)
    return page.evaluate(f"() => document.querySelector('{selector} video').duration")


def test_create_extend_and_find_it_in_the_library_after_a_restart(studio_process, page):
    page.goto(studio_process.url)
    page.locator("#prompt textarea").fill("a red ball rolls to the right, cinematic")
    shot(page, "1-create-typed")
    page.get_by_role("button", name="Generate", exact=True).click()

    # the preview changes several times while the clip denoises
    sources = set()
    deadline = time.time() + 60
    while time.time() < deadline and len(sources) < 4:
        src = page.evaluate("() => document.querySelector('#live-preview img')?.src")
        if src:
            sources.add(src)
        time.sleep(0.05)
    shot(page, "2-create-denoising")
    assert len(sources) >= 3
    duration = video_duration(page, "#result")
    assert duration > 0
    shot(page, "3-create-done")

    # extend an uploaded clip: the one just made, uploaded through the file input
    clip = next(studio_process.outputs.glob("clip-*.mp4"))
    page.get_by_role("tab", name="Extend").click()
    page.locator("#extend-source input[type=file]").set_input_files(str(clip))
    page.locator("#story textarea").fill("it jumps\nit spins")
    shot(page, "4-extend-uploaded")
    page.get_by_role("button", name="Extend", exact=True).click()
    longer = video_duration(page, "#extend-result")
    assert longer > duration + 1
    shot(page, "5-extend-done")

    # restart the studio: the library still has both clips; a hostile prompt shows as text
    studio_process.stop()
    studio_process.start()
    Client(studio_process.url, verbose=False).predict(prompt=HOSTILE, steps=2, api_name="/generate")
    page.goto(studio_process.url)
    page.get_by_role("tab", name="Library").click()
    table = page.locator("#library-table")
    expect(table).to_contain_text("a red ball rolls to the right, cinematic", timeout=15_000)
    expect(table).to_contain_text("it jumps / it spins")
    expect(table).to_contain_text(HOSTILE)  # the markup itself, as text
    assert page.evaluate("() => window.__xss") is None
    shot(page, "6-library-after-restart")

    # reuse a clip's settings: they fill the Create tab
    table.get_by_text("a red ball rolls to the right, cinematic").click()
    expect(page.locator("#library-id textarea")).to_have_value(re.compile(r"^clip-"), timeout=10_000)
    page.get_by_role("button", name="Reuse settings").click()
    expect(page.locator("#prompt textarea")).to_have_value("a red ball rolls to the right, cinematic")
    shot(page, "7-reused-settings")
