"""Phase 2, motion smoothing: One-Euro on the root trajectory and on every joint rotation.

Rotations are filtered as sign-continuous unit quaternions (a chart of the rotation manifold), never
per Euler angle. Each step uses the real timestamps. Low-confidence frames lower their cutoff. Frames
that cannot be used (NaN, a timestamp that does not increase, nothing seen) are left out of the
filter and filled afterwards by interpolation from their neighbours (slerp for rotations), so a short
gap moves instead of freezing; every output frame says whether it was observed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from nvwa.rig.motion import RigMotion, carry_joints
from nvwa.rig.segments import Segments, in_chunks, in_groups
from nvwa.rig.skeleton import local_from_global
from nvwa.smoothing.one_euro import OneEuroConfig, one_euro_many, rotations_from_channels, sign_continuous


@dataclass(frozen=True)
class MotionSmoothConfig:
    root: OneEuroConfig  # on the root trajectory (metres)
    rotations: OneEuroConfig  # on joint quaternions
    zero_lag: bool = True  # offline: a forward and a backward pass (no lag)
    passes: int = 2  # offline: how many forward-backward pairs (each steepens the roll-off)
    max_gap_s: float = 0.5  # gaps up to this long are filled and count as motion; longer ones are marked


def usable_frames(motion: RigMotion, t: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(T,) bool of frames the filter may use, and warnings naming what was wrong with the others."""
    warnings = []
    finite = np.isfinite(motion.root_position).all(axis=1) & np.isfinite(motion.local_rotations).all(axis=(1, 2))
    finite &= np.isfinite(t)
    if (~finite).any():
        warnings.append(f"{int((~finite).sum())} frames with NaN/inf values")
    seen = np.nan_to_num(confidence).max(axis=1) > 0
    if (~seen & finite).any():
        warnings.append(f"{int((~seen & finite).sum())} frames with every joint missing")
    ok = finite & seen
    # a frame's timestamp must pass every earlier usable frame's (those it passes are the ones kept)
    before = np.maximum.accumulate(np.concatenate([[-np.inf], np.where(ok, t, -np.inf)[:-1]])) if len(t) else t
    late = ok & ~(t > before)
    ok &= ~late
    bad_time = int(late.sum())
    if bad_time:
        warnings.append(f"{bad_time} frames with a duplicated or decreasing timestamp")
    return ok, warnings


def _fill(values_t: np.ndarray, ok: np.ndarray, quats: bool) -> np.ndarray:
    """Fill the frames not ``ok`` by interpolating over frame index (their timestamps may be bad)."""
    idx = np.arange(len(ok))
    good = idx[ok]
    out = values_t.copy()
    if len(good) == 0 or len(good) == len(ok):  # nothing to fill from, or nothing to fill
        return out
    if quats:
        if len(good) == 1:
            out[~ok] = values_t[good[0]]
            return out
        # scipy's Slerp over the good frames, every joint at once (its steps, element by element: the same
        # numbers as one Slerp per joint), worked out for the frames filled only (the good ones keep their own)
        J = values_t.shape[1]
        missing = idx[~ok]
        times, inside = good.astype(np.float64), np.clip(missing, good[0], good[-1]).astype(np.float64)
        ind = np.searchsorted(times, inside) - 1
        ind[inside == times[0]] = 0
        alpha = (inside - times[ind]) / np.diff(times)[ind]
        keys = Rotation.from_quat(values_t[good].reshape(-1, 4))  # (good frames x joints)
        k = (ind[:, None] * J + np.arange(J)).reshape(-1)
        starts = keys[k]
        rotvecs = (starts.inv() * keys[k + J]).as_rotvec()
        moved = starts * Rotation.from_rotvec(rotvecs * np.repeat(alpha, J)[:, None])
        out[missing] = moved.as_quat().reshape(len(missing), J, 4)
        return out
    for d in range(values_t.shape[1]):
        out[:, d] = np.interp(idx, good, values_t[good, d])
    return out


def smooth_motion(motion: RigMotion, t: np.ndarray, confidence: np.ndarray, config: MotionSmoothConfig) -> tuple[RigMotion, np.ndarray, dict]:
    """motion over T frames, t (T,) s, confidence (T, 24) -> (smoothed motion (T frames), observed (T,) bool, summary)."""
    return smooth_motions([motion], [t], [confidence], config)[0]


def smooth_motions(motions: list[RigMotion], ts: list[np.ndarray], confidences: list[np.ndarray],
                   config: MotionSmoothConfig) -> list[tuple[RigMotion, np.ndarray, dict]]:
    """:func:`smooth_motion` for many people at once -> one (motion, observed, summary) per person, each
    exactly what it gives alone. Everyone's usable frames end to end: the conversions run over all of
    them at once (in pieces), the filter's recursion over everyone side by side; a long video's people in
    groups (:func:`~nvwa.rig.segments.in_groups`), so what it holds at once stays bounded."""
    groups = in_groups([len(t) for t in ts])
    if len(groups) > 1:
        return [r for g in groups for r in smooth_motions([motions[k] for k in g], [ts[k] for k in g],
                                                          [confidences[k] for k in g], config)]
    ts = [np.asarray(t, dtype=np.float64) for t in ts]
    usable = [usable_frames(m, t, c) for m, t, c in zip(motions, ts, confidences)]
    oks = [ok for ok, _ in usable]
    people = Segments([int(ok.sum()) for ok in oks])  # each person's usable frames
    root = people.join([m.root_position[ok] for m, ok in zip(motions, oks)], (3,))
    # filtered as global rotations: a joint's position then depends on its own filtered rotation
    # only, so a noisy twist of a parent (which moves no joint) cannot bend its children's bones
    glob = people.join([m.global_quaternions()[ok] for m, ok in zip(motions, oks)], (24, 4))
    X = np.concatenate([root, sign_continuous(glob, people).reshape(len(glob), 96)], axis=1)
    conf = np.clip(np.nan_to_num(people.join([np.asarray(c)[ok] for c, ok in zip(confidences, oks)], (24,))), 0.0, 1.0)
    C = np.concatenate([np.repeat(conf.mean(axis=1, keepdims=True), 3, axis=1), np.repeat(conf, 4, axis=1)], axis=1)
    todo = np.flatnonzero(people.lengths >= 2)
    if len(todo):
        spans = [slice(people.starts[k], people.stops[k]) for k in todo]
        filtered = one_euro_many([X[s] for s in spans], [ts[k][oks[k]] for k in todo], [(config.root, 3), (config.rotations, X.shape[1] - 3)],
                                 [C[s] for s in spans], zero_lag=config.zero_lag, passes=config.passes)
        for s, f in zip(spans, filtered):
            X[s] = f
    glob = rotations_from_channels(X[:, 3:], 24)
    local = in_chunks(local_from_global, glob)
    out = [_finished(m, t, ok, warnings, root_raw, x[:, :3], q, config) for m, t, (ok, warnings), root_raw, x, q in
           zip(motions, ts, usable, people.split(root), people.split(X), people.split(local))]
    # their joints next (every stage after this one needs them): from the filtered global rotations,
    # for the people seen on every frame (the others' gaps were filled in their local rotations)
    carry_joints([m for m, _, _ in out], [g if ok.all() else None for g, ok in zip(people.split(glob), oks)])
    return out


def _finished(motion: RigMotion, t: np.ndarray, ok: np.ndarray, warnings: list[str], root: np.ndarray, root_s: np.ndarray,
              quats_s: np.ndarray, config: MotionSmoothConfig) -> tuple[RigMotion, np.ndarray, dict]:
    """One person's filtered usable frames (root ``root_s``, local quaternions ``quats_s``; ``root`` as
    it was) back into a motion of their full length, gaps filled."""
    T = len(ok)
    summary = {"frames": T, "frames_filled": int((~ok).sum()), "warnings": warnings}
    if not ok.any():
        summary["warnings"].append("no usable frame: motion returned unsmoothed")
        summary["max_correction_m"] = 0.0
        return motion, ok, summary
    full_root, full_q = root_s.copy(), quats_s.copy()
    if not ok.all():
        full_root = np.zeros((T, 3))
        full_root[ok] = root_s
        full_q = np.tile(np.array([0, 0, 0, 1.0]), (T, 24, 1))
        full_q[ok] = quats_s
        full_root = _fill(full_root, ok, quats=False)
        full_q = _fill(full_q, ok, quats=True)
    # long gaps are filled too (output keeps its length) but stay marked as not observed
    summary["max_correction_m"] = float(np.max(np.linalg.norm(root_s - root, axis=1)))
    summary["gaps_over_max"] = int(sum(g > config.max_gap_s for g in _gap_lengths(ok, t)))
    return motion.moved(full_q, full_root), ok.copy(), summary


def _gap_lengths(ok: np.ndarray, t: np.ndarray) -> list[float]:
    """The time across each run of frames not ``ok`` that a usable frame ends, from the usable frame
    before it (inf where there is none, or a timestamp is not finite)."""
    starts, stops = Segments([len(ok)]).runs(~ok)
    starts, stops = starts[stops < len(ok)], stops[stops < len(ok)]
    span = np.full(len(starts), np.inf)
    inner = starts > 0
    with np.errstate(invalid="ignore"):
        d = t[stops[inner]] - t[starts[inner] - 1]
    span[inner] = np.where(np.isfinite(d), d, np.inf)
    return span.tolist()
