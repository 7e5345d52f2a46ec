"""The replay viewer's frame rate with 10 people, per body kind, in headless Chromium.

    python bench/viewer.py [--people 10] [--seconds 5] [--gpu] [--out bench/results/viewer.json]

A 20 s scene of ``--people`` walkers (each on their own circle, all in view), exported as GLB with each
body (`human`, `human-lowpoly`, `capsule`), served by a static HTTP server, played in the viewer at
1280x720 while the page counts its animation frames for ``--seconds``. Target (issue 19): >= 30 fps for
10 people. Without ``--gpu`` Chromium draws with its software renderer (SwiftShader), which is what a
machine without a GPU has; ``--gpu`` lets it use the machine's GPU. Needs the dev extra (Playwright) and
Debian's Chromium.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEWER = ROOT / "src" / "nvwa" / "viewer_static"
BODIES = ("human", "human-lowpoly", "capsule")
SOFTWARE = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu"]
COMMON = ["--headless=new", "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync"]

COUNT_FRAMES = """async (seconds) => {
  let frames = 0;
  const tick = () => { frames += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const t0 = performance.now();
  await new Promise((done) => setTimeout(done, seconds * 1000));
  return frames / ((performance.now() - t0) / 1000);
}"""


def _site(root: Path, people: int) -> None:
    from nvwa.export import ExportConfig, export_scene
    from nvwa.scene.synthetic import synthetic_person, synthetic_scene

    scene = synthetic_scene([synthetic_person(pid, 600, seed=pid) for pid in range(1, people + 1)])
    for body in BODIES:
        export_scene(scene, root / body, ["glb"], ExportConfig(body=body))
    shutil.copytree(VIEWER, root / "viewer")


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--gpu", action="store_true", help="let Chromium use the GPU (default: its software renderer)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "viewer.json"))
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("bench/viewer.py: Chromium is not installed (apt-get install chromium)")
    result = {"people": args.people, "viewport": [1280, 720], "seconds": args.seconds,
              "renderer": "gpu" if args.gpu else "swiftshader", "machine": platform.node(), "fps": {}, "glb_mb": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _site(root, args.people)
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=COMMON + ([] if args.gpu else SOFTWARE))
            for body in BODIES:
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.goto(f"{base}/viewer/index.html?src=/{body}/scene.glb")
                page.wait_for_function("window.nvwaViewer && window.nvwaViewer.ready", timeout=120_000)
                assert len(page.evaluate("nvwaViewer.people")) == args.people
                page.evaluate(COUNT_FRAMES, 1.0)  # warm up: shaders compiled, first poses drawn
                result["fps"][body] = round(page.evaluate(COUNT_FRAMES, args.seconds), 1)
                result["renderer_string"] = page.evaluate(
                    "(() => { const gl = document.createElement('canvas').getContext('webgl2');"
                    " const x = gl && gl.getExtension('WEBGL_debug_renderer_info');"
                    " return x ? gl.getParameter(x.UNMASKED_RENDERER_WEBGL) : null; })()")
                result["glb_mb"][body] = round((root / body / "scene.glb").stat().st_size / 1e6, 2)
                page.close()
            browser.close()
        server.shutdown()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would drown the result
        pass


if __name__ == "__main__":
    raise SystemExit(main())
