"""Phase 1, identity lock: one set of bone lengths per person for the whole sequence.

Offline, the estimate comes from every confident frame at once (a trimmed mean), so a person whose
per-frame estimate is still settling in the first frames neither shrinks nor grows: frame 0 already
has the final lengths.
"""

from __future__ import annotations

import numpy as np

from nvwa.rig.fit import bone_lengths, locked_bone_lengths
from nvwa.rig.segments import Segments
from nvwa.rig.skeleton import PARENT_INDEX

_PARENTS = PARENT_INDEX[1:]


def lock_identity(joints: np.ndarray, confidence: np.ndarray, *, tolerance: float = 0.1) -> tuple[np.ndarray, dict]:
    """joints (T, 24, 3) m, confidence (T, 24) -> (bone lengths (24,) m, summary).

    The summary counts the frames whose raw bone lengths were more than ``tolerance`` (relative) off the
    locked ones - the frames the lock changes - and the largest correction in metres.
    """
    return lock_identity_many([joints], [confidence], tolerance=tolerance)[0]


def lock_identity_many(joints: list[np.ndarray], confidences: list[np.ndarray], *, tolerance: float = 0.1) -> list[tuple[np.ndarray, dict]]:
    """:func:`lock_identity` for many people in one pass over everyone's frames -> one (lengths, summary) each."""
    people = Segments.of(joints)
    X, C = people.join(joints, (24, 3)), people.join(confidences, (24,))
    finite = np.isfinite(X).all(axis=(1, 2))
    conf = np.where(finite[:, None], np.nan_to_num(C), 0.0)
    raw = bone_lengths(X)  # (N, 23)
    clean = raw.copy()  # the lock sees non-finite joints as 0 (their frames have no confidence)
    clean[~finite] = bone_lengths(np.nan_to_num(X[~finite]))
    lengths = locked_bone_lengths(clean, conf, people)
    locked = people.per_row(lengths[:, 1:])
    err = np.abs(raw - locked)
    rel = err / np.maximum(locked, 1e-6)
    changed = people.reduce(np.add, (np.nan_to_num(rel, nan=0.0).max(axis=1, initial=0.0) > tolerance).astype(np.intp))
    with np.errstate(invalid="ignore"):
        worst = people.reduce(np.fmax, np.fmax.reduce(err, axis=1, initial=-np.inf), empty=-np.inf)
    seen = people.reduce(np.logical_or, np.isfinite(err).any(axis=1), empty=False)
    return [(lengths[k], {"frames_changed": int(changed[k]), "max_correction_m": float(worst[k]) if seen[k] else 0.0,
                          "bone_lengths_m": [round(float(v), 4) for v in lengths[k]]}) for k in range(len(people))]


def repair_keypoints(joints: np.ndarray, confidence: np.ndarray, lengths: np.ndarray, t: np.ndarray,
                     *, min_confidence: float = 0.3, max_stretch: float = 0.3, min_error_m: float = 0.12) -> tuple[np.ndarray, np.ndarray, dict]:
    """Replace the joints a frame cannot vouch for by interpolation in time from the frames that can.

    A joint is unreliable where its confidence is under ``min_confidence`` or its bone to the parent is
    more than ``max_stretch`` (relative) and ``min_error_m`` off the locked length - a thrown keypoint
    or a stale value, not the centimetres of noise every short bone has.
    Left in, one would bend every bone below it through the rig; interpolated (linearly in time between
    the nearest reliable frames before and after it, held at a clip's ends), it moves on with its
    neighbours. A joint reliable on fewer than 2 frames is left as it is. joints (T, 24, 3), confidence
    (T, 24), lengths (24,), t (T,) increasing -> (joints, confidence with repaired joints at most
    ``min_confidence``, summary).
    """
    return repair_keypoints_many([joints], [confidence], [lengths], [t], min_confidence=min_confidence,
                                 max_stretch=max_stretch, min_error_m=min_error_m)[0]


def repair_keypoints_many(joints: list[np.ndarray], confidences: list[np.ndarray], lengths: list[np.ndarray], ts: list[np.ndarray],
                          *, min_confidence: float = 0.3, max_stretch: float = 0.3, min_error_m: float = 0.12) -> list[tuple[np.ndarray, np.ndarray, dict]]:
    """:func:`repair_keypoints` for many people in one pass over everyone's frames -> one (joints,
    confidence, summary) each, exactly what each gets alone."""
    people = Segments.of(joints)
    X, conf, t = people.join(joints, (24, 3)), people.join(confidences, (24,)), people.join(ts)
    L = people.per_row(np.asarray(lengths, dtype=np.float64).reshape(-1, 24)[:, 1:])
    error = np.abs(bone_lengths(X) - L)
    bad = np.zeros(conf.shape, dtype=bool)
    bad[:, 1:] = ~((error <= max_stretch * L) | (error <= min_error_m))  # NaN counts as bad
    bad |= ~(conf >= min_confidence) | ~np.isfinite(X).all(axis=-1)
    good_count = people.reduce(np.add, (~bad).astype(np.intp))  # (P, 24)
    fix = bad & people.per_row((good_count >= 2) & (good_count < people.lengths[:, None]))
    if fix.any():
        X[fix] = _interpolated(X, ~bad, fix, t, people)
        conf[fix] = np.minimum(conf[fix], min_confidence)
    repaired = people.reduce(np.add, fix.sum(axis=1))
    return [(x, c, {"joints_repaired": int(n)}) for x, c, n in zip(people.split(X), people.split(conf), repaired)]


def _interpolated(X: np.ndarray, good: np.ndarray, fix: np.ndarray, t: np.ndarray, people: Segments) -> np.ndarray:
    """X (N, 24, 3) at the joint-frames ``fix`` (N, 24), linear in time between the nearest ``good``
    frames of the same joint and person before and after (the nearer one's value past either end),
    with np.interp's own arithmetic -> (n_fix, 3)."""
    N = len(X)
    rows = np.arange(N)[:, None]
    before = np.maximum.accumulate(np.where(good, rows, -1), axis=0)
    after = np.minimum.accumulate(np.where(good, rows, N)[::-1], axis=0)[::-1]
    i, j = np.nonzero(fix)
    a, b = before[i, j], after[i, j]
    has_a, has_b = a >= people.starts[people.owner[i]], b < people.stops[people.owner[i]]
    a, b = np.where(has_a, a, b), np.where(has_b, b, a)  # one side missing: the other's value, held
    ya, yb = X[a, j], X[b, j]
    span = (t[b] - t[a])[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = ((yb - ya) / span) * (t[i] - t[a])[:, None] + ya
    return np.where((has_a & has_b)[:, None], inside, ya)
