"""The replay viewer in a real headless Chromium (Debian's, driven by Playwright), on a GLB the pipeline
made from a real clip, served by a plain static HTTP server (the viewer works on its own)."""

from __future__ import annotations

import shutil
import sys
import time

import numpy as np
import pytest

from conftest import DATA, REPO, ServedApp
from test_export import Glb

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
VIEWER = REPO / "src" / "nvwa" / "viewer_static"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; make test does it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) drives the browser")

BROWSER_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync"]


@pytest.fixture(scope="module")
def site(sports_export, tmp_path_factory):
    """viewer files + the pipeline's GLB of the Sports2D clip (and the clip, for picture in picture),
    served with HTTP ranges (browsers seek in a video only over ranges)."""
    from starlette.applications import Starlette
    from starlette.staticfiles import StaticFiles

    scene, out = sports_export
    root = tmp_path_factory.mktemp("site")
    shutil.copy(out / "scene.glb", root / "scene.glb")
    shutil.copytree(VIEWER, root / "viewer")
    shutil.copy(DATA / "sports2d_3s.mp4", root / "clip.mp4")
    app = Starlette()
    app.mount("/", StaticFiles(directory=root))
    with ServedApp(app) as served:
        yield scene, served.url, root


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


def open_viewer(browser, url: str, ready: bool = True):
    """A new page on ``url`` (console errors collected in ``page.errors``), once the viewer is ready."""
    pg = browser.new_page(viewport={"width": 1000, "height": 700})
    errors = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    pg.goto(url)
    if ready:
        pg.wait_for_function("window.nvwaViewer && window.nvwaViewer.ready", timeout=60_000)
    return pg


@pytest.fixture()
def page(site, browser):
    """A fresh page per test: no test sees the time, camera or scene another left (any order passes)."""
    _, base, _ = site
    pg = open_viewer(browser, f"{base}/viewer/index.html?src=/scene.glb&video=/clip.mp4&autoplay=0")
    yield pg
    pg.close()


def test_people_and_duration_match_the_glb(page, site):
    scene, _, root = site
    glb = Glb(root / "scene.glb")
    people = page.evaluate("nvwaViewer.people")
    assert sorted(p["id"] for p in people) == sorted(p.person_id for p in scene.people)
    last = max(float(glb.accessor(s["input"]).max()) for s in glb.json["animations"][0]["samplers"])
    assert page.evaluate("nvwaViewer.duration") == pytest.approx(last, abs=1e-4)
    assert page.errors == []


def test_quarter_speed_advances_a_quarter_of_wall_time(page):
    page.evaluate("nvwaViewer.setTime(0); nvwaViewer.setSpeed(0.25); nvwaViewer.play()")
    page.wait_for_timeout(300)
    a = page.evaluate("[nvwaViewer.time, performance.now()]")
    page.wait_for_timeout(2000)
    b = page.evaluate("[nvwaViewer.time, performance.now()]")
    page.evaluate("nvwaViewer.pause()")
    ratio = (b[0] - a[0]) / ((b[1] - a[1]) / 1000)
    assert ratio == pytest.approx(0.25, rel=0.10), ratio


def test_freeze_stops_time_while_playing(page):
    page.evaluate("nvwaViewer.setTime(0.5); nvwaViewer.setSpeed(1); nvwaViewer.play(); nvwaViewer.toggleFreeze()")
    t0 = page.evaluate("nvwaViewer.time")
    cam0 = page.evaluate("nvwaViewer.cameraPose().position")
    page.mouse.move(500, 350)
    page.mouse.down()
    page.mouse.move(650, 330, steps=10)  # orbit while frozen
    page.mouse.up()
    page.wait_for_timeout(500)
    assert page.evaluate("nvwaViewer.time") == t0 and page.evaluate("nvwaViewer.frozen") is True
    assert page.evaluate("nvwaViewer.cameraPose().position") != cam0
    page.evaluate("nvwaViewer.toggleFreeze(); nvwaViewer.pause()")


def test_scrubbing_shows_the_pose_of_that_time(page, site):
    scene, _, _ = site
    for p in scene.people:
        for i in (0, len(p.timestamp_s) // 2, len(p.timestamp_s) - 1):
            t = float(p.timestamp_s[i])
            page.evaluate(f"nvwaViewer.setTime({t})")
            for k, joint in ((7, "left_ankle"), (20, "left_wrist"), (15, "head")):
                got = page.evaluate(f"nvwaViewer.jointPosition({p.person_id}, '{joint}')")
                assert np.linalg.norm(np.array(got) - p.joints_world[i][k]) < 2e-3, (p.person_id, t, joint)


def test_screenshot_shows_the_bodies_in_their_colours(page, site, tmp_path):
    """The followed person's body is drawn: in their clothes' colours (human bodies with sampled colours),
    else in their id colour."""
    from PIL import Image

    scene, _, _ = site
    p = scene.people[0]
    page.evaluate(f"nvwaViewer.setTime({float(p.timestamp_s[len(p.timestamp_s) // 2])}); nvwaViewer.followPerson({p.person_id})")
    page.wait_for_timeout(500)
    page.screenshot(path=tmp_path / "with.png")
    page.evaluate("document.querySelectorAll('#people input').forEach(i => { i.checked = false; i.dispatchEvent(new Event('change')); })")
    page.wait_for_timeout(300)
    page.screenshot(path=tmp_path / "without.png")
    page.evaluate("document.querySelectorAll('#people input').forEach(i => { i.checked = true; i.dispatchEvent(new Event('change')); })")
    page.evaluate("nvwaViewer.followPerson(null)")
    a = np.asarray(Image.open(tmp_path / "with.png").convert("RGB"), dtype=float)
    b = np.asarray(Image.open(tmp_path / "without.png").convert("RGB"), dtype=float)
    body = np.abs(a - b).sum(axis=2) > 40
    assert body.sum() > 2000, body.sum()  # bodies cover a real part of the frame
    hsv = np.asarray(Image.open(tmp_path / "with.png").convert("HSV"), dtype=float)[body]
    if p.colours is not None:
        # human bodies wear the person's own clothes (sampled from the video): as saturated as those are,
        # not the person's id colour (that stays on labels and trails)
        clothes = np.asarray(Image.fromarray(np.asarray(p.colours[None, :2], dtype=np.uint8)).convert("HSV"), dtype=float)[0]
        assert abs(np.median(hsv[:, 1]) - clothes[:, 1].mean()) < 60, (np.median(hsv[:, 1]), clothes[:, 1])
        return
    import colorsys

    colours = {q["id"]: q["colour"] for q in page.evaluate("nvwaViewer.people")}
    target = [int(colours[p.person_id][i:i + 2], 16) / 255 for i in (1, 3, 5)]
    hue_target = colorsys.rgb_to_hsv(*target)[0] * 255
    coloured = hsv[:, 1] > 60  # saturated pixels: the bodies (labels, floor and background are grey)
    assert coloured.mean() > 0.5, coloured.mean()
    dh = np.abs(hsv[coloured, 0] - hue_target)
    dh = np.minimum(dh, 255 - dh) * 360 / 255
    assert np.median(dh) < 20, np.median(dh)  # the followed person's hue dominates


def test_skeleton_toggle_draws_skeletons_instead_of_bodies(page, site, tmp_path):
    """k (or the skeleton button): the bodies give way to lines between each person's joints, and back."""
    from PIL import Image

    scene, _, _ = site
    p = scene.people[0]
    page.evaluate(f"nvwaViewer.setTime({float(p.timestamp_s[len(p.timestamp_s) // 2])}); nvwaViewer.followPerson({p.person_id})")
    page.wait_for_timeout(400)
    shots = {}
    for name, js in (("bodies", ""), ("skeleton", "nvwaViewer.toggleSkeleton()"), ("none", "document.querySelectorAll('#people input')"
                     ".forEach(i => { i.checked = false; i.dispatchEvent(new Event('change')); })")):
        if js:
            page.evaluate(js)
        page.wait_for_timeout(300)
        page.screenshot(path=tmp_path / f"{name}.png")
        shots[name] = np.asarray(Image.open(tmp_path / f"{name}.png").convert("RGB"), dtype=float)
    assert page.evaluate("nvwaViewer.skeleton") is True
    drawn = {k: int((np.abs(shots[k] - shots["none"]).sum(axis=2) > 40).sum()) for k in ("bodies", "skeleton")}
    assert drawn["skeleton"] > 50 and drawn["bodies"] > 3 * drawn["skeleton"], drawn  # thin lines, not bodies
    page.keyboard.press("k")
    assert page.evaluate("nvwaViewer.skeleton") is False and page.errors == []


def test_vr_button_present_and_unsupported_is_reported(page):
    page.wait_for_function("nvwaViewer.xr.vr !== 'checking'")
    assert page.evaluate("nvwaViewer.xr.vr") == "unsupported"
    text = page.inner_text("#vr")
    assert "VR" in text.upper()
    assert page.errors == []


def test_help_on_question_mark_and_frame_step(page):
    assert page.is_hidden("#keys")
    page.keyboard.press("?")
    assert page.is_visible("#keys") and "bullet time" in page.inner_text("#keys")
    page.keyboard.press("Escape")
    page.evaluate("nvwaViewer.setTime(1.0)")
    page.keyboard.press(".")
    assert page.evaluate("nvwaViewer.time") == pytest.approx(1.0 + 1 / 30, abs=1e-6)
    assert page.evaluate("nvwaViewer.playing") is False


def test_picture_in_picture_follows_scene_time(page):
    page.wait_for_function("document.getElementById('pip').readyState >= 1", timeout=20_000)
    page.evaluate("nvwaViewer.setTime(1.7)")
    page.wait_for_timeout(300)
    assert page.evaluate("document.getElementById('pip').currentTime") == pytest.approx(1.7, abs=0.05)


def test_a_slow_motions_video_follows_the_scene_in_real_time(site, browser):
    """A slow motion's scene runs in real time (its GLB says how many of the moment's seconds the video plays a
    second: time_scale); the picture in picture shows the same moment, so it is 4x further into a 4x slow
    motion and plays 4x faster. A time_scale that is not a positive number is taken as 1."""
    sys.path.insert(0, str(REPO / "bench"))
    from slow_motion import stretched_copy

    _, base, root = site
    stretched_copy(root / "clip.mp4", root / "slow.mp4", 4, capture_fps=30)

    def slowed(value):
        def patch(doc):
            doc["scenes"][0]["extras"]["time_scale"] = value
        return patch
    for name, value in (("slow", 0.25), ("faster", 1 / 32), ("odd", "fast"), ("negative", -4)):
        _patched_glb(root / "scene.glb", root / f"{name}.glb", slowed(value))
    pg = open_viewer(browser, f"{base}/viewer/index.html?src=/slow.glb&video=/slow.mp4&autoplay=0")
    try:
        assert pg.evaluate("nvwaViewer.timeScale") == 0.25
        assert "shown in real time (the video is slowed 4x)" in pg.inner_text("#status")
        pg.wait_for_function("document.getElementById('pip').readyState >= 1", timeout=20_000)
        pg.evaluate("nvwaViewer.setTime(0.5)")
        pg.wait_for_timeout(300)
        assert pg.evaluate("document.getElementById('pip').currentTime") == pytest.approx(2.0, abs=0.05)
        pg.evaluate("nvwaViewer.play()")
        pg.wait_for_timeout(300)
        assert pg.evaluate("document.getElementById('pip').playbackRate") == 4
        assert pg.errors == []
    finally:
        pg.close()
    # a 32x slow motion in real time: past the 16x a browser plays at, the video is not played but shown at the
    # scene's moment a few times a second (before, it was sought on every frame and never showed)
    pg = open_viewer(browser, f"{base}/viewer/index.html?src=/faster.glb&video=/slow.mp4&autoplay=0")
    try:
        pg.wait_for_function("document.getElementById('pip').readyState >= 1", timeout=20_000)
        pg.evaluate("nvwaViewer.setTime(0.05); nvwaViewer.play()")
        pg.wait_for_timeout(250)
        assert pg.evaluate("document.getElementById('pip').paused") is True
        pg.evaluate("nvwaViewer.pause()")
        pg.wait_for_timeout(200)
        shown = pg.evaluate("document.getElementById('pip').currentTime")
        assert shown == pytest.approx(min(32 * pg.evaluate("nvwaViewer.time"), pg.evaluate("document.getElementById('pip').duration")), abs=0.05)
        pg.evaluate("nvwaViewer.setTime(0.2)")
        pg.wait_for_timeout(200)
        assert pg.evaluate("document.getElementById('pip').currentTime") == pytest.approx(6.4, abs=0.05)
        assert pg.errors == []
    finally:
        pg.close()
    for name in ("odd", "negative"):
        pg = open_viewer(browser, f"{base}/viewer/index.html?src=/{name}.glb&autoplay=0")
        try:
            assert pg.evaluate("nvwaViewer.timeScale") == 1 and "real time" not in pg.inner_text("#status")
        finally:
            pg.close()


def test_a_video_the_browser_cannot_play_is_hidden_with_the_reason(site, browser):
    """The service links every job's viewer to its source video; a format the browser does not play (vtest's
    AVI, a camcorder's .MTS) leaves no blank box: the picture in picture is hidden and says why."""
    from conftest import make_video

    _, base, root = site
    make_video(root / "clip.avi", 10, codec="mpeg4")  # MPEG-4 part 2 in AVI, as vtest.avi
    pg = open_viewer(browser, f"{base}/viewer/index.html?src=/scene.glb&video=/clip.avi&autoplay=0")
    try:
        pg.wait_for_function("(nvwaViewer.pip || '').startsWith('picture in picture off')", timeout=20_000)
        assert pg.evaluate("nvwaViewer.pip") == ("picture in picture off: /clip.avi: this browser cannot play this kind of "
                                                 "video (convert it to H.264 MP4 or WebM to see it here)")
        assert pg.is_hidden("#pip") and pg.errors == []
        pg.wait_for_function("window.nvwaViewer.ready")
        assert "this browser cannot play this kind of video" in pg.inner_text("#status")  # said on the page
    finally:
        pg.close()


def test_the_video_camera_view_follows_a_zoom(site, browser):
    """A zooming camera's zoom at each analysed frame rides in the GLB's camera extras (glTF cannot animate a
    field of view): the video camera's view narrows as the zoom goes in, between frames linearly. Keys that
    are not numbers (a string, [[2]]) leave the camera's own field of view."""
    scene, base, root = site
    f, height = float(scene.K[1, 1]), int(scene.video["height"])

    def keyed(zoom):
        def patch(doc):
            doc["cameras"][0]["extras"]["zoom_at"] = {"times_s": [0.0, 2.0], "zoom": zoom}
        return patch
    _patched_glb(root / "scene.glb", root / "zoom.glb", keyed([1.0, 2.0]))
    _patched_glb(root / "scene.glb", root / "badzoom.glb", keyed(["wide", [[2]]]))
    pg = open_viewer(browser, f"{base}/viewer/index.html?src=/zoom.glb&autoplay=0")
    try:
        for t, focal in ((0.0, f), (1.0, 1.5 * f), (2.5, 2 * f)):
            pg.evaluate(f"nvwaViewer.setTime({t}); nvwaViewer.snapToVideoCamera()")
            fov = pg.evaluate("nvwaViewer.cameraPose().fov")
            assert fov == pytest.approx(np.degrees(2 * np.arctan(height / (2 * focal))), abs=0.01), t
        assert pg.errors == []
    finally:
        pg.close()
    pg = open_viewer(browser, f"{base}/viewer/index.html?src=/badzoom.glb&autoplay=0")
    try:
        pg.evaluate("nvwaViewer.setTime(1.0); nvwaViewer.snapToVideoCamera()")
        assert pg.evaluate("nvwaViewer.cameraPose().fov") == pytest.approx(np.degrees(2 * np.arctan(height / (2 * f))), abs=0.01)
        assert pg.errors == []
    finally:
        pg.close()


def test_snap_to_the_video_camera_and_an_empty_scene(site, page):
    from nvwa.export import export_scene
    from nvwa.scene.synthetic import synthetic_scene

    scene, base, root = site
    page.evaluate("nvwaViewer.snapToVideoCamera()")
    pose = page.evaluate("nvwaViewer.cameraPose()")
    assert np.allclose(pose["position"], scene.t_world_from_cam, atol=1e-4)
    assert page.evaluate("nvwaViewer.cameraMode") == "video"
    export_scene(synthetic_scene([]), root / "empty", ["glb"])
    page.evaluate("nvwaViewer.load('/empty/scene.glb')")
    page.wait_for_function("nvwaViewer.ready", timeout=20_000)
    assert page.evaluate("nvwaViewer.people") == [] and page.evaluate("nvwaViewer.duration") == 0
    time.sleep(0.2)
    assert page.errors == []


def test_the_video_camera_view_follows_a_handheld_camera(site, page):
    """A scene whose camera pans 20 degrees over its 2 s: in "video camera" mode the view turns with it."""
    from dataclasses import replace

    from scipy.spatial.transform import Rotation

    from nvwa.export import ExportConfig, export_scene
    from nvwa.scene.synthetic import synthetic_person, synthetic_scene

    _, _, root = site
    still = synthetic_scene([synthetic_person(1, 60)])
    ts = np.arange(60) / 30.0
    turn = Rotation.from_euler("y", np.linspace(0, 20, 60)[:, None], degrees=True).as_matrix()
    scene = replace(still, camera_motion="rotating", camera_timestamp_s=ts,
                    camera_R_world_from_cam=still.R_world_from_cam @ turn,
                    camera_t_world_from_cam=np.tile(still.t_world_from_cam, (60, 1)))
    export_scene(scene, root / "panning", ["glb"], ExportConfig(body="capsule"))
    page.evaluate("nvwaViewer.load('/panning/scene.glb')")
    page.wait_for_function("nvwaViewer.ready", timeout=20_000)
    page.evaluate("nvwaViewer.snapToVideoCamera()")
    looks = []
    for i in (0, 45):
        page.evaluate(f"nvwaViewer.setTime({ts[i]})")
        page.wait_for_timeout(300)  # a few frames drawn
        q = page.evaluate("nvwaViewer.cameraPose().quaternion")
        want = Rotation.from_matrix(scene.camera_R_world_from_cam[i] @ np.diag([1.0, -1.0, -1.0]))
        looks.append((Rotation.from_quat(q) * want.inv()).magnitude())
    assert max(looks) < 1e-3, looks
    assert page.evaluate("nvwaViewer.cameraMode") == "video" and page.errors == []


def _patched_glb(src, dst, patch) -> None:
    """Copy a GLB with its JSON chunk changed by ``patch(json_dict)`` (what a hostile file can hold)."""
    import json
    import struct

    data = src.read_bytes()
    n = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20:20 + n])
    patch(doc)
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + n:]
    dst.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + 8 + len(text) + len(rest)) +
                    struct.pack("<II", len(text), 0x4E4F534A) + text + rest)


def test_a_glbs_strings_are_shown_as_text_never_run(site, browser):
    """A person id carrying markup stays text: no element is made of it and no script of it runs."""
    _, base, root = site
    evil = '<img src=x onerror="window.__pwned=1">'

    def patch(doc):
        for node in doc["nodes"]:
            if (node.get("extras") or {}).get("person_id") is not None:
                node["extras"]["person_id"] = evil
    _patched_glb(root / "scene.glb", root / "evil.glb", patch)
    pg = open_viewer(browser, f"{base}/viewer/index.html?src=/evil.glb&autoplay=0")
    try:
        pg.wait_for_timeout(500)
        assert pg.evaluate("window.__pwned") is None
        assert pg.evaluate("document.querySelectorAll('#side img, .label img, #tracks img').length") == 0
        assert evil in pg.inner_text("#people")  # shown literally
    finally:
        pg.close()


def test_a_glb_from_another_origin_is_refused(site, browser):
    """?src= naming another server is not fetched (a link must not make the viewer run someone's file)."""
    from starlette.applications import Starlette
    from starlette.staticfiles import StaticFiles

    _, base, root = site
    files = Starlette()
    files.mount("/", StaticFiles(directory=root))
    asked = []

    async def other(scope, receive, send):  # the other server, counting what it is asked
        if scope["type"] == "http":
            asked.append(scope["path"])
        await files(scope, receive, send)

    with ServedApp(other) as elsewhere:
        pg = open_viewer(browser, f"{base}/viewer/index.html?src={elsewhere.url}/scene.glb&video={elsewhere.url}/clip.mp4",
                         ready=False)
        try:
            pg.wait_for_function("window.nvwaViewer && window.nvwaViewer.error", timeout=20_000)
            assert "another origin" in pg.evaluate("nvwaViewer.error")
            assert pg.evaluate("nvwaViewer.people") == [] and asked == []
            assert pg.evaluate("document.getElementById('pip').getAttribute('src')") is None
        finally:
            pg.close()


def test_the_camera_stays_above_the_floor_and_near_the_people(page):
    """Orbit hard downward, drag far, zoom out a lot, follow a person through the clip: the eye never
    goes under the floor, and the people stay within reach."""
    def eye():
        return page.evaluate("nvwaViewer.cameraPose().position")

    page.mouse.move(500, 300)
    page.mouse.down()
    page.mouse.move(500, 10, steps=15)  # drag up = orbit under the target
    page.mouse.up()
    page.wait_for_timeout(600)  # damping settles
    assert eye()[1] >= 0.14
    start = np.array(eye())
    page.mouse.move(400, 350)
    page.mouse.down()
    page.mouse.move(550, 350, steps=10)  # a 150 px drag
    page.mouse.up()
    page.wait_for_timeout(600)
    moved = np.linalg.norm(np.array(eye()) - start)
    people = page.evaluate("nvwaViewer.people")
    seen = [page.evaluate(f"nvwaViewer.project({p['id']}, 'pelvis')") for p in people]
    size = page.evaluate("[innerWidth, innerHeight]")
    assert any(xy and 0 <= xy[0] <= size[0] and 0 <= xy[1] <= size[1] for xy in seen), (moved, seen)
    for _ in range(40):
        page.mouse.wheel(0, 2000)  # zoom far out
    page.wait_for_timeout(600)
    assert np.linalg.norm(np.array(eye())) < 200 and eye()[1] >= 0.14
    page.evaluate(f"nvwaViewer.followPerson({people[0]['id']}); nvwaViewer.setTime(0)")
    lowest = 1e9
    for k in range(12):
        page.evaluate(f"nvwaViewer.setTime({k * 0.25})")
        page.wait_for_timeout(50)
        lowest = min(lowest, eye()[1])
    assert lowest >= 0.14


def test_picture_in_picture_without_http_ranges_and_at_t(site, browser):
    """Under a plain static server (python -m http.server: no ranges) the video is downloaded once and
    seeks; &t= moves it too."""
    import subprocess
    import sys

    from conftest import free_port

    _, _, root = site
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import httpx

        deadline = time.time() + 20
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/clip.mp4", headers={"Range": "bytes=0-0"})
                break
            except httpx.HTTPError:
                assert time.time() < deadline
                time.sleep(0.1)
        assert r.status_code == 200  # no ranges: the case this is about
        pg = open_viewer(browser, f"http://127.0.0.1:{port}/viewer/index.html?src=/scene.glb&video=/clip.mp4&autoplay=0&t=1.2")
        try:
            pg.wait_for_function("document.getElementById('pip').readyState >= 1", timeout=20_000)
            assert pg.evaluate("nvwaViewer.pip") == "downloaded"
            pg.wait_for_timeout(300)
            assert pg.evaluate("document.getElementById('pip').currentTime") == pytest.approx(1.2, abs=0.05)
            pg.evaluate("nvwaViewer.setTime(2.1)")
            pg.wait_for_timeout(300)
            assert pg.evaluate("document.getElementById('pip').currentTime") == pytest.approx(2.1, abs=0.05)
            assert pg.errors == []
        finally:
            pg.close()
    finally:
        server.terminate()
        server.wait(10)


def test_a_software_renderer_is_detected_and_drawn_for_cheaply(page):
    """Chromium here draws with SwiftShader (no GPU): the viewer says so and draws the bodies with Lambert
    shading without multisampling (bench/viewer.py: twice the frame rate of physically based shading)."""
    assert page.evaluate("nvwaViewer.softwareRenderer") is True
    assert page.evaluate("nvwaViewer.bodyMaterials()") == ["MeshLambertMaterial"]
    assert page.errors == []
