"""The real GPU backends on a real clip: runs where CUDA, the upstream packages and the gated checkpoints
are present (`setup_runpod.sh`), and skips saying which is missing everywhere else (as on our CPU
machines and in CI)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from gpu import why_not  # noqa: E402  the bench and this test agree on what "can run" means

from conftest import DATA  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(why_not() is not None, reason=f"GPU path cannot run here: {why_not()}")
def test_sam3_and_sam3d_body_on_a_real_clip(tmp_path):
    from nvwa.config import ModelsConfig, VideoConfig
    from nvwa.pipeline import Pipeline, PipelineConfig

    pipe = Pipeline(PipelineConfig(VideoConfig(max_frames=60), ModelsConfig(body_model="sam3d_body", tracker="sam3")))
    try:
        done = [e for e in pipe.run(DATA / "vtest_4s.mp4", tmp_path)][-1]
    finally:
        pipe.close()
    scene = done.data["scene"]
    assert len(scene.people) >= 3 and scene.mesh_faces.shape == (36874, 3)
    for p in scene.people:
        assert p.mesh_vertices.shape[1:] == (18439, 3) and np.isfinite(p.joints_world).all()
        assert 1.2 < p.summary()["height_m"] < 2.1  # metres, not centimetres
