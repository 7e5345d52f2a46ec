"""Every person drawn whenever they are present, in the players our users open the GLB with: stock
three.js (its GLTFLoader + AnimationMixer, none of our code: tests/stock_three/index.html) and our viewer,
in Debian's headless Chromium, on GLBs the pipeline made from two real clips where people come and go
(Sports2D: one appears at 2.0 s; vtest: one comes at 0.5 s and leaves at 1.7 s, another comes at 1.5 s).
Each time is reached three ways: opened there (``?t=``), scrubbed to after drawing t = 0, and played to
from t = 0. A present person must have pixels on screen when their pelvis projects into the view; an
absent one none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, REPO, ServedApp
from test_viewer import CHROMIUM, VIEWER, browser, open_viewer  # noqa: F401  (browser: the module's fixture)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; make test does it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) drives the browser")
THREE = REPO / "tools" / "gltf" / "node_modules" / "three"
HARNESS = REPO / "tests" / "stock_three"
W, H = 640, 360


@pytest.fixture(scope="module")
def clips(sports_export, blazepose, tmp_path_factory):
    """{name: (Scene, GLB path)} for the Sports2D clip (the session's export) and the vtest clip."""
    from nvwa.export import export_scene
    from nvwa.pipeline import Pipeline, PipelineConfig

    out = tmp_path_factory.mktemp("vtest_glb")
    *_, done = Pipeline(PipelineConfig(), body=blazepose).run(DATA / "vtest_4s.mp4", out)
    export_scene(done.data["scene"], out, ["glb"])
    scene, sports_out = sports_export
    return {"sports2d": (scene, sports_out / "scene.glb"), "vtest": (done.data["scene"], out / "scene.glb")}


@pytest.fixture(scope="module")
def site(clips, tmp_path_factory):
    import shutil

    from starlette.applications import Starlette
    from starlette.staticfiles import StaticFiles

    if not (THREE / "build" / "three.module.js").exists():
        pytest.skip("stock three.js is not installed (npm ci --prefix tools/gltf; make test does it)")
    root = tmp_path_factory.mktemp("players")
    shutil.copy(HARNESS / "index.html", root / "stock.html")
    shutil.copytree(VIEWER, root / "viewer")
    for name, (_, glb) in clips.items():
        shutil.copy(glb, root / f"{name}.glb")
    app = Starlette()
    app.mount("/three", StaticFiles(directory=THREE))
    app.mount("/", StaticFiles(directory=root))
    with ServedApp(app) as served:
        _roots[served.url] = root
        yield served.url


_roots: dict[str, object] = {}


def site_root(url: str):
    """The folder the site serves (tests add GLBs to it)."""
    return _roots[url]


def samples(scene, n: int = 12) -> list[float]:
    """Times across the clip (players loop it, so not past its end), none within a frame of anyone's
    first or last moment."""
    ends = [float(t) for p in scene.people for t in (p.timestamp_s[0], p.timestamp_s[-1])]
    last = max(float(p.timestamp_s[-1]) for p in scene.people)
    clear = [round(float(t), 3) for t in np.linspace(0.05, last, 4 * n) if all(abs(t - e) > 0.07 for e in ends)]
    return [clear[i] for i in sorted({int(round(i)) for i in np.linspace(0, len(clear) - 1, min(n, len(clear)))})]


def present(p, t: float) -> bool:
    return float(p.timestamp_s[0]) <= t <= float(p.timestamp_s[-1])


def check(scene, t: float, drawn: dict, project) -> list[str]:
    """-> what is wrong at time t: a present person in view with no pixels, an absent one with pixels."""
    bad = []
    for p in scene.people:
        n = drawn[p.person_id]
        if present(p, t):
            xy = project(p.person_id)
            if xy is not None and 0 <= xy[0] < W and 0 <= xy[1] < H and n == 0:
                bad.append(f"t={t}: person {p.person_id} present, pelvis at {np.round(xy)}, not drawn")
        elif n:
            bad.append(f"t={t}: person {p.person_id} absent, {n} pixels drawn")
    return bad


@pytest.mark.parametrize("clip", ["sports2d", "vtest"])
def test_stock_threejs_draws_everyone_present_from_any_start(clip, clips, site, browser):
    scene, _ = clips[clip]
    times = samples(scene)
    assert any(not present(p, times[0]) for p in scene.people)  # someone is absent at the start

    def open_page():
        pg = browser.new_page(viewport={"width": W, "height": H})
        pg.goto(f"{site}/stock.html?src=/{clip}.glb")
        pg.wait_for_function("window.ready || window.failed", timeout=60_000)
        assert pg.evaluate("window.failed || null") is None, pg.evaluate("window.failed")
        return pg

    def state(pg):
        drawn = {int(k): v for k, v in pg.evaluate("stock.count()").items()}
        return drawn, lambda pid: pg.evaluate(f"stock.project({pid}, 'pelvis')")

    bad, checked = [], 0
    # opened at t (the first frame drawn is t)
    for t in times:
        pg = open_page()
        pg.evaluate(f"stock.setTime({t}); stock.render()")
        bad += [f"opened at: {b}" for b in check(scene, t, *state(pg))]
        checked += 1
        pg.close()
    # drawn at 0, then scrubbed to each t
    pg = open_page()
    pg.evaluate("stock.setTime(0); stock.render()")
    for t in times:
        pg.evaluate(f"stock.setTime({t}); stock.render()")
        bad += [f"scrubbed to: {b}" for b in check(scene, t, *state(pg))]
    # played from 0 in 1/30 s steps, every step drawn
    pg.evaluate("stock.setTime(0); stock.render()")
    now = 0.0
    for t in times:
        steps = int(round((t - now) * 30))
        pg.evaluate(f"for (let i = 0; i < {steps}; i++) {{ stock.update(1 / 30); stock.render(); }}")
        now += steps / 30
        bad += [f"played to: {b}" for b in check(scene, round(now, 4), *state(pg))]
    pg.close()
    assert checked >= 8 and bad == [], "\n".join(bad)


@pytest.mark.parametrize("clip", ["sports2d", "vtest"])
def test_our_viewer_draws_everyone_present_from_any_start(clip, clips, site, browser):
    """Our viewer: a person's pixels are what changes on screen when their checkbox hides them."""
    scene, _ = clips[clip]
    times = samples(scene, 8)

    # The canvas's own pixels, read in the page two frames of its render loop after the last change (so
    # they show it; the viewer keeps its drawing buffer) and compared there with the view ``keep`` kept:
    # -> how many changed (with ``keep``, how many were read). A screenshot a view took 0.6 s (88 on vtest).
    read = """keep => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => {
        const gl = document.querySelector('#stage canvas').getContext('webgl2');
        const px = new Uint8Array(gl.drawingBufferWidth * gl.drawingBufferHeight * 4);
        gl.readPixels(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight, gl.RGBA, gl.UNSIGNED_BYTE, px);
        if (keep) { window.fullView = px; done(px.length / 4); return; }
        const full = window.fullView;
        let changed = 0;
        for (let k = 0; k < px.length; k += 4)
            if (Math.abs(px[k] - full[k]) + Math.abs(px[k + 1] - full[k + 1]) + Math.abs(px[k + 2] - full[k + 2]) > 30) changed++;
        done(changed);
    })))"""

    def drawn(pg, t, project) -> dict:
        """{id: pixels that change when their box is unticked}: each present person whose pelvis is in
        view alone (None for one out of view: nothing is asked of them), the absent ones first all at once
        (none drawn if unticking them all changes nothing), then alone only if that changed something."""
        pg.evaluate(f"nvwaViewer.setTime({t})")
        assert pg.evaluate(read, True) > 0
        ids = [p["id"] for p in pg.evaluate("nvwaViewer.people")]
        person = {p.person_id: p for p in scene.people}

        def tick(ks: list[int], on: bool):
            pg.evaluate(f"(() => {{ const b = document.querySelectorAll('#people input'); for (const k of {ks}) {{ b[k].checked = {str(on).lower()}; b[k].dispatchEvent(new Event('change')); }} }})()")

        def hidden(ks: list[int]) -> int:
            tick(ks, False)
            changed = pg.evaluate(read, False)
            tick(ks, True)
            return changed

        def in_view(pid) -> bool:
            xy = project(pid)
            return xy is not None and 0 <= xy[0] < W and 0 <= xy[1] < H

        absent = [k for k, pid in enumerate(ids) if not present(person[pid], t)]
        out = {pid: 0 for pid in ids}
        together = hidden(absent) if absent else 0
        if together:  # someone absent is drawn: who (all of them, if none shows alone)
            alone = {ids[k]: hidden([k]) for k in absent}
            out.update(alone if any(alone.values()) else {pid: together for pid in alone})
        for k, pid in enumerate(ids):
            if k not in absent:
                out[pid] = hidden([k]) if in_view(pid) else None
        return out

    def projector(pg):
        """pid -> their pelvis on screen, asked once per person (a projector is made for one time)."""
        size = pg.evaluate("[innerWidth, innerHeight]")
        seen = {}

        def project(pid):
            if pid not in seen:
                xy = pg.evaluate(f"nvwaViewer.project({pid}, 'pelvis')")
                seen[pid] = None if xy is None else [xy[0] * W / size[0], xy[1] * H / size[1]]
            return seen[pid]
        return project

    def checked(pg, t) -> list[str]:
        project = projector(pg)
        return check(scene, t, drawn(pg, t, project), project)

    bad = []
    for t in times[::2]:  # opened at t
        pg = open_viewer(browser, f"{site}/viewer/index.html?src=/{clip}.glb&autoplay=0&overlays=0&t={t}")
        bad += [f"opened at: {b}" for b in checked(pg, t)]
        assert pg.errors == [], pg.errors
        pg.close()
    pg = open_viewer(browser, f"{site}/viewer/index.html?src=/{clip}.glb&autoplay=0&overlays=0")
    for t in times:  # scrubbed
        bad += [f"scrubbed to: {b}" for b in checked(pg, t)]
    pg.evaluate("nvwaViewer.setTime(0); nvwaViewer.play()")  # played: through every time once
    pg.wait_for_function(f"nvwaViewer.time > {times[-1]}", timeout=30_000)
    pg.evaluate("nvwaViewer.pause()")
    for t in times[1::2]:
        bad += [f"after playing, at: {b}" for b in checked(pg, t)]
    assert pg.errors == [], pg.errors
    pg.close()
    assert bad == [], "\n".join(bad)


def test_edge_cases_play_without_errors(site, browser, tmp_path_factory):
    """A person seen for one frame, one only at the very end, and a file with no people: drawn while
    present (or not at all), nobody when absent, no page errors, in stock three.js and our viewer."""
    from nvwa.export import export_scene
    from nvwa.scene.synthetic import synthetic_person, synthetic_scene

    from conftest import DATA  # noqa: F401  (the site serves its folder; files are added to it below)

    import dataclasses

    def in_view(p):  # moved in front of the synthetic camera (it walks a circle around x = 4 m)
        shift = np.array([np.asarray(p.root_world)[:, 0].mean(), 0.0, 0.0])
        return dataclasses.replace(p, root_world=np.asarray(p.root_world) - shift,
                                   joints_world=np.asarray(p.joints_world) - shift)

    root = Path(site_root(site))
    cases = {"one_frame": synthetic_scene([synthetic_person(1, 60), in_view(synthetic_person(2, 1, t0=1.0))]),
             "at_the_end": synthetic_scene([synthetic_person(1, 60), in_view(synthetic_person(2, 10, t0=1.7))]),
             "nobody": synthetic_scene([])}
    for name, scene in cases.items():
        out = tmp_path_factory.mktemp(name)
        export_scene(scene, out, ["glb"])
        (root / f"{name}.glb").write_bytes((out / "scene.glb").read_bytes())
        pg = browser.new_page(viewport={"width": W, "height": H})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{site}/stock.html?src=/{name}.glb")
        pg.wait_for_function("window.ready || window.failed", timeout=60_000)
        assert pg.evaluate("window.failed || null") is None
        seen_late = 0
        for t in (0.0, 0.5, 1.0, 1.75, 1.8, 1.9, 1.95):
            pg.evaluate(f"stock.setTime({t}); stock.render()")
            drawn = {int(k): v for k, v in pg.evaluate("stock.count()").items()}
            bad = check(scene, t, drawn, lambda pid: pg.evaluate(f"stock.project({pid}, 'pelvis')")) if scene.people else []
            assert bad == [], (name, bad)
            seen_late += drawn.get(2, 0) if name == "at_the_end" else 0
        assert name != "at_the_end" or seen_late > 0  # present at the end: drawn
        pg.close()
        assert errors == []
        viewer = open_viewer(browser, f"{site}/viewer/index.html?src=/{name}.glb&autoplay=0")
        viewer.evaluate("nvwaViewer.setTime(1.9); nvwaViewer.play()")
        viewer.wait_for_timeout(500)
        assert viewer.errors == [] and len(viewer.evaluate("nvwaViewer.people")) == len(scene.people)
        viewer.close()
