"""Shared fixtures: small real clips (tests/data, see LICENSES.md there) and videos made on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


def make_video(path: Path, n: int = 10, *, size=(64, 48), fps: int = 10, codec: str = "mjpeg",
               corrupt: set[int] = frozenset(), frame_fn=None) -> Path:
    """Write a small real video with PyAV. Packets of the frames in ``corrupt`` are replaced by garbage
    bytes (what a damaged file holds), so their decode fails. ``frame_fn(i)`` gives frame i's RGB."""
    import av

    w, h = size
    out = av.open(str(path), "w")
    s = out.add_stream(codec, rate=fps)
    s.width, s.height = w, h
    s.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
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
    from nvwa.errors import ModelMissingError
    from nvwa.models import blazepose_task_path

    d = REPO / "models"
    try:
        blazepose_task_path(d)
    except ModelMissingError as exc:
        pytest.skip(f"needs the BlazePose model: {exc}")
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
