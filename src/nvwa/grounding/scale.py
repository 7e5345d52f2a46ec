"""Metric scale and each person's true size.

The body model's 3D pose has one size for everyone (BlazePose's world landmarks are ~1.5 m people), so a
person's depth from their size alone is off by their size. Pinned by their feet to the floor (the camera
ray through the foot meets the ground plane), each person is placed where they stand, and the factor the
pinning applied to their distance is the factor their size was off by: a child pinned nearer the
camera comes out smaller, a tall man further away comes out taller. Those sizes are relative to the
camera's height; one number, from a population prior on adult stature (the median person of the video is
taken to be ADULT_STATURE_M tall), makes everything metric. Where a user gives a person's real height
or the camera's, that number comes from it instead (not yet exposed).
"""

from __future__ import annotations

import numpy as np

ADULT_STATURE_M = 1.70  # m, median adult standing height (sole to crown), both sexes
HEAD_AND_HEEL_SHARE = 0.11  # of stature: ankle joint to sole (~4%) + head joint to crown (~7%), not in the bones
SCALE_RANGE = (0.5, 2.0)  # a prior-based scale outside this is not believed (tiny or huge people: kept as placed)


def stature_from_bones(bone_lengths: np.ndarray) -> float:
    """Standing height, sole to crown (m), of a rig with these SMPL-24 bone lengths: the leg (hip to
    ankle) and the trunk (pelvis to head joint) standing straight, plus the heel and the skull."""
    b = np.asarray(bone_lengths, dtype=np.float64)
    leg = (b[4] + b[5]) / 2 + (b[7] + b[8]) / 2  # the rig's hips are level with its pelvis
    trunk = b[3] + b[6] + b[9] + b[12] + b[15]
    return float((leg + trunk) / (1.0 - HEAD_AND_HEEL_SHARE))


def metric_scale(statures: dict, seconds: dict) -> tuple[float, dict]:
    """{person id: stature as placed (m, the body model's units)}, {person id: how long their size was seen (s)} ->
    (the factor that makes the median person ADULT_STATURE_M tall, what it rests on)."""
    ids = [pid for pid in statures if np.isfinite(statures[pid]) and statures[pid] > 0]
    if not ids:
        return 1.0, {"method": "none", "people": 0}
    h = np.array([statures[pid] for pid in ids])
    w = np.array([max(seconds.get(pid, 1.0), 1e-3) for pid in ids])
    order = np.argsort(h)
    cum = np.cumsum(w[order]) / w.sum()
    median = float(h[order][np.searchsorted(cum, 0.5)])
    scale = ADULT_STATURE_M / median
    info = {"method": "adult stature prior", "prior_m": ADULT_STATURE_M, "people": len(ids),
            "median_stature_as_placed_m": round(median, 3), "scale": round(scale, 4)}
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        info["method"] = "kept (prior scale out of range)"
        return 1.0, info
    return scale, info


__all__ = ["ADULT_STATURE_M", "stature_from_bones", "metric_scale"]
