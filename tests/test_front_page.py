"""The front page at / end to end in Debian's headless Chromium against the real service (the real model
in the job slot): pick a real clip, convert it, watch the progress, land in the replay with the bodies
drawn; the job listed with its status; a bad file answered in the API's words."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import DATA
from test_hostile import Hostile
from test_viewer import BROWSER_ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; make test does it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) drives the browser")
pytest.importorskip("fastapi", reason="the service tests need the server extra")

from nvwa.service import Settings  # noqa: E402


@pytest.fixture(scope="module")
def served(models_dir, tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("front"), models_dir=str(models_dir))
    with Hostile(settings) as s:
        yield s


def wait_for(page, expression: str, timeout_s: float = 60) -> None:
    """Poll a JS expression with page.evaluate (Playwright's wait_for_function evaluates strings, which the
    pages' Content-Security-Policy forbids; the pages run under their real CSP here)."""
    import time

    deadline = time.time() + timeout_s
    while not page.evaluate(expression):
        assert time.time() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


@pytest.fixture()
def page(served):
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        pg = browser.new_page(viewport={"width": 1000, "height": 700})
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(f"{served.url}/")
        yield pg
        browser.close()


def test_upload_progress_and_the_replay_opens_with_the_bodies(page, served, tmp_path):
    from io import BytesIO

    from PIL import Image

    assert page.is_disabled("#go")
    page.set_input_files("#file", str(DATA / "sports2d_3s.mp4"))
    assert "sports2d_3s.mp4" in page.inner_text("#pick") and page.is_enabled("#go")
    page.select_option("#smoothing", "fast")
    page.select_option("#max_side", "640")
    assert page.input_value("#max_fps") == "30"  # a phone's 60-fps video analysed at 30 unless asked
    page.select_option("#max_fps", "0")
    assert page.input_value("#capture_fps") == "0"  # a video plays as filmed unless it says or is told otherwise
    page.select_option("#capture_fps", "60")  # (the 30-fps clip as a phone's 60-fps slow motion: replayed in real time)
    page.check("input[name=export][value=bvh]")
    stages = []
    assert page.evaluate("1 + 1") == 2  # evaluate works under the CSP (it does not eval in the page)
    page.click("#go")
    wait_for(page, "document.getElementById('stage').textContent.includes('finding people')")
    stages.append(page.inner_text("#detail"))
    page.wait_for_url(lambda url: "/viewer/static/index.html" in url, timeout=120_000, wait_until="commit")
    wait_for(page, "window.nvwaViewer && nvwaViewer.ready")
    assert "frame" in stages[0] and "people in view" in stages[0]
    people = page.evaluate("nvwaViewer.people")
    assert len(people) >= 1 and page.evaluate("nvwaViewer.timeScale") == 0.5
    page.evaluate(f"nvwaViewer.pause(); nvwaViewer.setTime({people[0]['first_s'] + 0.3})")
    page.wait_for_timeout(300)
    shot = lambda: np.asarray(Image.open(BytesIO(page.locator("#stage canvas").first.screenshot())).convert("RGB"), dtype=np.int16)  # noqa: E731
    page.add_style_tag(content="#side, #bar, #pip { visibility: hidden !important; }")
    page.wait_for_timeout(200)
    full = shot()
    page.evaluate("document.querySelectorAll('#people input').forEach(b => { b.checked = false; b.dispatchEvent(new Event('change')); })")
    page.wait_for_timeout(200)
    assert (np.abs(full - shot()).sum(axis=2) > 40).sum() > 2000  # the bodies are drawn
    job_id = page.url.split("/jobs/")[1].split("/")[0]
    page.goto(f"{served.url}/")
    page.wait_for_selector(f"tr[data-job='{job_id}']")
    row = page.inner_text(f"tr[data-job='{job_id}']")
    assert "complete" in row and "sports2d_3s.mp4" in row
    import httpx

    options = httpx.get(f"{served.url}/jobs/{job_id}", timeout=30).json()["options"]
    assert options["max_side"] == 640 and options["max_fps"] == 0 and options["smoothing"] == "fast" and options["capture_fps"] == 60
    assert page.get_attribute(f"tr[data-job='{job_id}'] a", "href") == f"/viewer/{job_id}"
    assert page.errors == []


def test_a_bad_file_is_answered_in_the_apis_words(page, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 100)
    page.set_input_files("#file", str(bad))
    page.click("#go")
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    text = page.inner_text("#error")
    assert text.startswith("notes.mp4: ") and "not a readable video" in text
    assert page.is_hidden("#job") and page.is_enabled("#go")
    assert page.errors == []
