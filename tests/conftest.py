"""Shared fixtures: small real clips (tests/data, see LICENSES.md there) and videos made on the fly."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


def make_video(path: Path, n: int = 10, *, size=(64, 48), fps: int = 10, codec: str = "mjpeg",
               corrupt: set[int] = frozenset(), frame_fn=None, lossless: bool = False,
               display_rotation: float | None = None, pixel_aspect=None, options: dict | None = None) -> Path:
    """Write a small real video with PyAV. Packets of the frames in ``corrupt`` are replaced by garbage
    bytes (what a damaged file holds), so their decode fails. ``frame_fn(i)`` gives frame i's RGB.
    ``lossless`` (libx264): 4:4:4 at qp 0, so frames decode to the same pixels whichever way they were
    stored; ``display_rotation``: degrees counter-clockwise a player turns the frames (a phone's -90);
    ``pixel_aspect`` (a Fraction): the stored pixels' width over height, which a player stretches;
    ``options``: the encoder's (a keyframe every so many frames: ``{"g": "5"}``)."""
    import av

    w, h = size
    out = av.open(str(path), "w")
    s = out.add_stream(codec, rate=fps)
    s.width, s.height = w, h
    s.pix_fmt = "yuvj420p" if codec == "mjpeg" else ("yuv444p" if lossless else "yuv420p")
    if lossless:
        s.options = {"qp": "0", "preset": "ultrafast", "threads": "1"}
    if options:
        s.options = {**s.options, **options}
    if display_rotation is not None:
        s.set_display_rotation(display_rotation)
    if pixel_aspect is not None:
        s.codec_context.sample_aspect_ratio = pixel_aspect
    for i in range(n):
        img = frame_fn(i) if frame_fn else np.full((h, w, 3), (i * 20) % 255, np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        for p in s.encode(frame):
            if i in corrupt:
                bad = av.Packet(b"\x00garbage" * 20)
                bad.pts, bad.dts, bad.stream, bad.time_base = p.pts, p.dts, s, p.time_base
                out.mux(bad)
            else:
                out.mux(p)
    for p in s.encode():
        out.mux(p)
    out.close()
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The verified BlazePose bundle's directory; tests that need the real model skip (saying why) without it."""
    from nvwa.models import blazepose_task_path, default_models_dir

    d = default_models_dir()
    model_or_skip(lambda: blazepose_task_path(d), "BlazePose model")
    return d


@pytest.fixture(scope="session")
def blazepose(models_dir):
    """One BlazePose backend for the whole session (models load once per process, as in production)."""
    from nvwa.body.blazepose import BlazePoseBody, BlazePoseConfig
    from nvwa.models import blazepose_task_path

    body = BlazePoseBody(BlazePoseConfig(str(blazepose_task_path(models_dir))))
    yield body
    body.close()


from nvwa.scene.synthetic import synthetic_person, synthetic_scene  # noqa: E402,F401  (tests import them from here)


@pytest.fixture(scope="session")
def sports_export(blazepose, tmp_path_factory):
    """The Sports2D clip through the pipeline once per session, exported in every format:
    (Scene, output directory). The exporter and viewer tests read it; none writes into it."""
    from nvwa.export import export_scene
    from nvwa.pipeline import Pipeline, PipelineConfig

    out = tmp_path_factory.mktemp("sports_export")
    *_, done = Pipeline(PipelineConfig(), body=blazepose).run(DATA / "sports2d_3s.mp4", out)
    scene = done.data["scene"]
    assert scene.people, "the clip has people"
    export_scene(scene, out, ["glb", "bvh", "ply", "npz"])
    return scene, out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedApp:
    """An ASGI app served by uvicorn in a thread on a free loopback port (``with ServedApp(app) as s: s.url``)."""

    def __init__(self, app):
        import threading

        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        import time

        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(30)


# -- the service's tests: SSE reading, uploads, a real S3-compatible server ---------------------------

def parse_sse(lines, stop_after: int | None = None) -> list[dict]:
    """SSE lines -> [{"id", "event", "data"}]; stops after ``stop_after`` events."""
    events, cur = [], {}
    for line in lines:
        if line == "":
            if cur:
                events.append(cur)
                cur = {}
                if stop_after and len(events) >= stop_after:
                    break
            continue
        if line.startswith(":"):
            continue
        k, _, v = line.partition(":")
        cur[k] = v[1:] if v.startswith(" ") else v
    return events


def sse(client, url: str, headers=None, stop_after: int | None = None) -> list[dict]:
    """Read an SSE stream; stop after ``stop_after`` events (a disconnect)."""
    with client.stream("GET", url, headers=headers or {}, timeout=120) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return parse_sse(r.iter_lines(), stop_after)


def post_video(client, path: Path, options: dict | None = None, **fields):
    files = {"file": (path.name, path.read_bytes(), "video/mp4")}
    data = {**fields, **({"options": json.dumps(options)} if options is not None else {})}
    return client.post("/jobs", files=files, data=data)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A real S3-compatible server (moto_server) on loopback, for the session."""
    import httpx

    exe = Path(sys.executable).parent / "moto_server"
    if not exe.exists():
        pytest.skip("moto_server not installed (dev extra moto[server])")
    port = free_port()
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            assert time.time() < deadline and proc.poll() is None, "moto_server did not start"
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)


def model_or_skip(load, what: str):
    """``load()`` (a model or asset `nvwa models fetch` builds), or the test skipped saying which is missing."""
    from nvwa.errors import ModelMissingError

    try:
        return load()
    except ModelMissingError as exc:
        pytest.skip(f"needs the {what}: {exc}")

