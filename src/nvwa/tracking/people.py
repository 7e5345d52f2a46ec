"""Which of the models' tracks are people, for the reconstruction: tracks seen long enough, short gaps
(the body model lost someone for a moment) moved through, and short tracks whose body never stands up
(a broken pose, not a person) and tracks that are a piece of another person (their head and shoulders
beside their whole track) told apart. Observations in, observations or a reason out; no model. Tracks
of one person the tracker split are joined in :mod:`nvwa.tracking.handover`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nvwa.observations import Observations, PersonObservations
from nvwa.rig.motion import RigMotion
from nvwa.rig.skeleton import JOINT
from nvwa.video.speed import moment_fps


def keep_people(obs: Observations, min_person_s: float) -> list[PersonObservations]:
    """Tracks seen for at least ``min_person_s``: each frame a person is seen on counts the time it stands
    for (half the steps to the analysed frames beside it: a variable-rate video's stretches each their own),
    or for observations that do not list the analysed frames, the container's frame rate x the stride (where
    it gives none, the frames' own median step)."""
    analysed = analysed_frames(obs)
    if analysed is not None:
        index, share = analysed[0], _shares(analysed[1])
        return [p for p in obs.people if _seen_s(p, index, share) >= min_person_s - 1e-6]  # (sums of 0.1 s steps)
    fps = moment_fps(obs.video)
    frame_s = int(obs.options.get("stride") or 1) / fps if fps else _median_step(obs.people)
    return [p for p in obs.people if _seen_frames(p) * frame_s >= min_person_s]


def analysed_frames(obs: Observations) -> tuple[np.ndarray, np.ndarray] | None:
    """Every analysed frame's number and time, (F,) each, in order (the camera's track lists each one), or
    None where the observations do not say (made before it was kept, or by a path that keeps none)."""
    track = getattr(obs, "camera_track", None)
    if track is None or len(track.frame_index) < 2:
        return None
    return np.asarray(track.frame_index, np.int64), np.asarray(track.timestamp_s, np.float64)


def _shares(t: np.ndarray) -> np.ndarray:
    """The time each analysed frame stands for: half the steps to its two neighbours (one at either end),
    at most 1.5x the shorter (a frame beside a stretch lost to corrupt packets is not given half of it)."""
    dt = np.diff(t)
    before, after = np.r_[dt[:1], dt], np.r_[dt, dt[-1:]]
    return np.minimum((before + after) / 2, 1.5 * np.minimum(before, after))


def _seen_s(p: PersonObservations, index: np.ndarray, share: np.ndarray) -> float:
    vis = np.asarray(p.visibility)
    if not len(vis):
        return 0.0
    seen = np.asarray(p.frame_index)[vis.reshape(len(vis), -1).max(axis=1) > 0]
    at = np.clip(np.searchsorted(index, seen), 0, len(index) - 1)
    return float(np.where(index[at] == seen, share[at], np.median(share)).sum())


def _median_step(people: list[PersonObservations]) -> float:
    """The median time between a person's successive analysed frames, over everyone (1/30 s with no two frames
    anywhere): a 10-fps file that declares no frame rate is not taken for a 30-fps one (its people a third as long)."""
    steps = np.concatenate([np.diff(np.asarray(p.timestamp_s, dtype=np.float64)) for p in people] + [np.zeros(0)])
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else 1 / 30


def _seen_frames(p: PersonObservations) -> int:
    vis = np.asarray(p.visibility)
    return int((vis.reshape(len(vis), -1).max(axis=1) > 0).sum()) if len(vis) else 0


PIECE_INSIDE = 0.6  # a piece's box lies at least this share inside the other person's box ...
PIECE_TOP = 0.15  # ... its top level with theirs (within this share of their height) ...
PIECE_SHORTER = 0.65  # ... and it is under this share of their height ...
PIECE_SHARE = 0.5  # ... on at least this share of the frames they share, which are this share of the piece's own


def pieces_of_others(people: list[PersonObservations], min_visibility: float = 0.5) -> dict[int, str]:
    """Person id -> why, for tracks that are a piece of another person seen at the same time: on most of
    the frames both are seen (and those are most of the piece's own), the piece's keypoints lie inside the
    other's box, from its top down, and cover under PIECE_SHORTER of its height: the same person's head and
    shoulders, followed as a second track beside their whole one (vtest 137-155: the man behind the sign).
    Only the shorter-lived of two is a piece. Someone further off seen over a nearer person's shoulder is
    not one: their head is not level with the nearer person's."""
    boxes = {p.person_id: _boxes(p, min_visibility) for p in people}
    out: dict[int, str] = {}
    for a in people:
        fa, ba = boxes[a.person_id]
        for b in people:
            if b is a or len(b.frame_index) <= len(a.frame_index):
                continue
            fb, bb = boxes[b.person_id]
            both, ia, ib = np.intersect1d(fa, fb, return_indices=True)
            if len(both) < PIECE_SHARE * len(a.frame_index):
                continue
            x, y = ba[ia], bb[ib]
            hb = np.maximum(y[:, 3] - y[:, 1], 1e-9)
            inter = (np.clip(np.minimum(x[:, 2], y[:, 2]) - np.maximum(x[:, 0], y[:, 0]), 0, None)
                     * np.clip(np.minimum(x[:, 3], y[:, 3]) - np.maximum(x[:, 1], y[:, 1]), 0, None))
            inside = inter >= PIECE_INSIDE * np.maximum((x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1]), 1e-9)
            piece = inside & (np.abs(x[:, 1] - y[:, 1]) <= PIECE_TOP * hb) & (x[:, 3] - x[:, 1] < PIECE_SHORTER * hb)
            if piece.sum() >= PIECE_SHARE * len(both):
                out[a.person_id] = (f"a piece of person {b.person_id} (inside their box, from its top down, on "
                                    f"{int(piece.sum())} of the {len(both)} frames both are seen)")
                break
    return out


def _boxes(p: PersonObservations, min_visibility: float) -> tuple[np.ndarray, np.ndarray]:
    """The frames a person is seen on (3 keypoints at ``min_visibility``) and the box of those keypoints there."""
    kp, vis = np.asarray(p.keypoints_2d, dtype=np.float64), np.asarray(p.visibility)
    ok = (vis >= min_visibility) & np.isfinite(kp).all(axis=-1)
    seen = ok.sum(axis=1) >= 3
    x, y = np.where(ok, kp[..., 0], np.nan)[seen], np.where(ok, kp[..., 1], np.nan)[seen]
    box = np.column_stack([np.nanmin(x, 1), np.nanmin(y, 1), np.nanmax(x, 1), np.nanmax(y, 1)]) if seen.any() else np.zeros((0, 4))
    return np.asarray(p.frame_index)[seen], box


def with_gaps_filled(obs: Observations, max_gap_s: float) -> Observations:
    """Each track's gaps of at most ``max_gap_s`` (analysed frames where the body model lost a person it
    found before and after) filled in: keypoints, time and placement interpolated, visibility 0 (the
    frames say they were not seen; the smoother moves the body through them as through any unseen
    frame). Tracks with per-frame meshes (the GPU path) are left as they are."""
    if max_gap_s <= 0:
        return obs
    analysed = analysed_frames(obs)
    if analysed is None:  # the frames 0, stride, 2 stride, ...
        step = int(obs.options.get("stride") or 1)
        return replace(obs, people=tuple(p if p.vertices is not None else _gaps_filled(p, step, max_gap_s) for p in obs.people))
    return replace(obs, people=tuple(p if p.vertices is not None else _gaps_filled(p, 1, max_gap_s, analysed)
                                     for p in obs.people))


def _gaps_filled(p: PersonObservations, step: int, max_gap_s: float,
                 analysed: tuple[np.ndarray, np.ndarray] | None = None) -> PersonObservations:
    """With ``analysed`` (every analysed frame's number and time), the frames between are those; without,
    every ``step``-th frame, at times interpolated."""
    f, t = np.asarray(p.frame_index), np.asarray(p.timestamp_s, dtype=np.float64)
    index, times = analysed if analysed is not None else (f, t)
    lo, hi = np.searchsorted(index, f[:-1], "right"), np.searchsorted(index, f[1:], "left")  # (the frames between)
    fill = [index[i:j] if analysed is not None else np.arange(a + step, b, step)
            for a, b, ta, tb, i, j in zip(f[:-1], f[1:], t[:-1], t[1:], lo, hi) if b - a > step and tb - ta <= max_gap_s + 1e-9]
    fill = [x for x in fill if len(x)]
    if not fill:
        return p
    new = np.sort(np.concatenate([f, *fill]), kind="stable")
    seen = np.isin(new, f)
    new_t = np.interp(new, index, times)  # each frame's own time (a variable-rate video's are not evenly spaced)
    new_t[seen] = t

    def spread(x, dtype):  # linear in time between the frames seen
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(len(f), -1)
        out = np.stack([np.interp(new_t, t, flat[:, k]) for k in range(flat.shape[1])], axis=1)
        return out.reshape((len(new),) + x.shape[1:]).astype(dtype)

    vis = np.zeros((len(new),) + np.shape(p.visibility)[1:], dtype=np.asarray(p.visibility).dtype)
    vis[seen] = p.visibility
    placed = {} if p.translation_cam is None else {"translation_cam": spread(p.translation_cam, np.float64)}
    params = {} if p.model_params is None else {"model_params": spread(p.model_params, np.asarray(p.model_params).dtype)}
    return replace(p, frame_index=new.astype(np.int64), timestamp_s=new_t,
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


__all__ = ["analysed_frames", "keep_people", "pieces_of_others", "with_gaps_filled", "never_upright", "NEVER_UPRIGHT_S", "UPRIGHT_LEAN_DEG"]
