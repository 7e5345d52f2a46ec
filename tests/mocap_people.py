"""Real motion for the tests that run many people at once: DeepMimic clips (tests/data/mocap, see
LICENSES.md there; 16-60 fps, 29-107 frames) seen by the bench's three cameras and degraded as
bench/motion_quality.py degrades them, so each person has their own length, rate, repairs and contacts."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from motion_quality import load_clip, seen_and_degraded  # noqa: E402  the bench's own degradation

CLIPS = sorted((Path(__file__).resolve().parent / "data" / "mocap").glob("deepmimic_*.npz"))


def degraded_people(seed: int = 0) -> list[tuple]:
    """[(joints_cam (T, 24, 3) noisy, confidence (T, 24), t (T,) s, R_cam_from_world, t_cam_from_world)],
    one per clip and camera."""
    rng = np.random.default_rng(seed)
    return [person for path in CLIPS for person in seen_and_degraded(*load_clip(path)[:3], rng)]


def world_motions(seed: int = 0) -> tuple[list, list[np.ndarray], list[np.ndarray]]:
    """The same people through the bench's phases 1-2 and its grounding (each on their own true floor):
    -> (world-frame RigMotions, timestamps, repaired confidences), what phase 3 starts from."""
    from motion_quality import grounded, people_targets

    from nvwa.rig.fit import fit_rigs
    from nvwa.smoothing import smooth_rigs

    people = degraded_people(seed)
    targets = people_targets(people)
    rigs = fit_rigs([tg for tg, _ in targets], [lengths for _, lengths in targets])
    confs = [tg.confidence for tg, _ in targets]
    smoothed = smooth_rigs(rigs, [p[2] for p in people], "balanced", confs)
    return grounded([m for m, _, _ in smoothed], confs, people), [p[2] for p in people], confs
