"""Which of the models' tracks are people, for the reconstruction: tracks seen long enough, short gaps
(the body model lost someone for a moment) moved through, and short tracks whose body never stands up
(a broken pose, not a person) told apart. Observations in, observations or a reason out; no model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nvwa.observations import Observations, PersonObservations
from nvwa.rig.motion import RigMotion
from nvwa.rig.skeleton import JOINT


def keep_people(obs: Observations, min_person_s: float) -> list[PersonObservations]:
    """Tracks seen for at least ``min_person_s`` (frames observed x the time one kept frame covers)."""
    fps = float(obs.video.get("fps") or 0.0)
    frame_s = int(obs.options.get("stride") or 1) / fps if fps else 1 / 30
    return [p for p in obs.people if _seen_frames(p) * frame_s >= min_person_s]


def _seen_frames(p: PersonObservations) -> int:
    vis = np.asarray(p.visibility)
    return int((vis.reshape(len(vis), -1).max(axis=1) > 0).sum()) if len(vis) else 0


def with_gaps_filled(obs: Observations, max_gap_s: float) -> Observations:
    """Each track's gaps of at most ``max_gap_s`` (analysed frames where the body model lost a person it
    found before and after) filled in: keypoints, time and placement interpolated, visibility 0 (the
    frames say they were not seen; the smoother moves the body through them as through any unseen
    frame). Tracks with per-frame meshes (the GPU path) are left as they are."""
    if max_gap_s <= 0:
        return obs
    step = int(obs.options.get("stride") or 1)
    return replace(obs, people=tuple(p if p.vertices is not None else _gaps_filled(p, step, max_gap_s) for p in obs.people))


def _gaps_filled(p: PersonObservations, step: int, max_gap_s: float) -> PersonObservations:
    f, t = np.asarray(p.frame_index), np.asarray(p.timestamp_s, dtype=np.float64)
    fill = [np.arange(a + step, b, step) for a, b, ta, tb in zip(f[:-1], f[1:], t[:-1], t[1:])
            if b - a > step and tb - ta <= max_gap_s + 1e-9]
    if not fill:
        return p
    new = np.concatenate([f, *fill])
    order = np.argsort(new, kind="stable")
    new = new[order]
    seen = np.isin(new, f)

    def spread(x, dtype):
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(len(f), -1)
        out = np.stack([np.interp(new, f, flat[:, k]) for k in range(flat.shape[1])], axis=1)
        return out.reshape((len(new),) + x.shape[1:]).astype(dtype)

    vis = np.zeros((len(new),) + np.shape(p.visibility)[1:], dtype=np.asarray(p.visibility).dtype)
    vis[seen] = p.visibility
    placed = {} if p.translation_cam is None else {"translation_cam": spread(p.translation_cam, np.float64)}
    params = {} if p.model_params is None else {"model_params": spread(p.model_params, np.asarray(p.model_params).dtype)}
    return replace(p, frame_index=new.astype(np.int64), timestamp_s=np.interp(new, f, t),
                   keypoints_2d=spread(p.keypoints_2d, np.asarray(p.keypoints_2d).dtype),
                   keypoints_3d=spread(p.keypoints_3d, np.asarray(p.keypoints_3d).dtype), visibility=vis, **placed, **params)


NEVER_UPRIGHT_S = 2.0  # s: a track shorter than this whose body never stands up is a broken pose
UPRIGHT_LEAN_DEG = 65.0  # degrees from the floor's up: a body leaning more than this is lying, not standing or crouching


def never_upright(world: RigMotion, t: np.ndarray) -> str:
    """Why a short track is a broken pose rather than a person ("" when it is a person): its spine (pelvis
    to neck, world frame) leans more than UPRIGHT_LEAN_DEG from up on most of its frames. Seen from the
    side such a track is a body folded on the floor (vtest: a 22-px figure 91 m away); a real person lying
    down is kept when seen for longer than NEVER_UPRIGHT_S."""
    span = float(t[-1] - t[0]) if len(t) else 0.0
    if span >= NEVER_UPRIGHT_S or not len(t):
        return ""
    j = world.joints()
    spine = j[:, JOINT["neck"]] - j[:, JOINT["pelvis"]]
    lean = np.degrees(np.arccos(np.clip(spine[:, 1] / np.maximum(np.linalg.norm(spine, axis=1), 1e-9), -1, 1)))
    if np.median(lean) <= UPRIGHT_LEAN_DEG:
        return ""
    return f"its body never stood upright in its {span:.1f} s (spine {np.median(lean):.0f} deg from up): a broken pose"


__all__ = ["keep_people", "with_gaps_filled", "never_upright", "NEVER_UPRIGHT_S", "UPRIGHT_LEAN_DEG"]
