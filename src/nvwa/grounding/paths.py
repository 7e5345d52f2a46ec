"""What a person's placed root path may do: a speed of their own, no step faster than the time allows, and
smoothing that trusts the path's direction from the camera more than its distance along the camera's ray
(a far walker's depth moves 0.4 m a pixel at 65 m; their direction hardly at all)."""

from __future__ import annotations

import numpy as np

from nvwa.smoothing.one_euro import OneEuroConfig, one_euro_many

MAX_SPEED_M_S = 9.0  # m/s: faster than a sprint between two frames is a misplacement, not a person
FALL_SPEED_M_S = 7.0  # m/s: a body falling 2.5 m (a jump down off a support): how fast a drop off one may go
MIN_SPEED_LIMIT = 2.5  # m/s: the least bound a person gets (someone standing still may still step or turn)
SPEED_BASELINE_S = 3.0  # s: a person's own speed is their displacement over this long (jitter averages out)
PATH_SMOOTHING = OneEuroConfig(min_cutoff=1.0, beta=0.3)  # a zero-lag One-Euro (Hz; m/s across the ray) on the path's direction ...
# ... and a fixed low-pass on its distance along that ray, the weakly seen part: a far walker's depth moves 0.4 m a pixel
# (65 m off on vtest), and a cutoff raised with speed let those pulses through as 5-m/s steps
PATH_DEPTH_SMOOTHING = OneEuroConfig(min_cutoff=1.0, beta=0.0)


def speed_limit(path: np.ndarray, t: np.ndarray) -> float:
    """How fast this person may move between two samples (m/s): twice their own median speed (a walker
    does not sprint for one frame; a runner keeps running), within [MIN_SPEED_LIMIT, MAX_SPEED_M_S]. Their
    speed is their displacement over SPEED_BASELINE_S (half the track if shorter), not from frame to
    frame, where a far person's depth jitter (0.4 m a pixel at 65 m on vtest) passes for speed."""
    span = float(t[-1] - t[0]) if len(t) else 0.0
    if span <= 0:
        return MAX_SPEED_M_S
    j = np.searchsorted(t, t + min(SPEED_BASELINE_S, span / 2))
    i = np.flatnonzero(j < len(t))
    v = np.linalg.norm(path[j[i]] - path[i], axis=1) / (t[j[i]] - t[i])
    return float(np.clip(2.0 * np.median(v), MIN_SPEED_LIMIT, MAX_SPEED_M_S))


def speed_bounded(x: np.ndarray, t: np.ndarray, max_speed: float, up: np.ndarray | None = None,
                  dropping: np.ndarray | None = None) -> np.ndarray:
    """A path (T, 3) m no faster than ``max_speed`` (m/s): followed forward and backward, each step cut
    to what the time allows, the two passes averaged (neither end is trusted more). Where the path is
    within the bound it is unchanged; a jump (a misplaced frame, the end of a track behind something)
    becomes the fastest walk the time allows.
    ``dropping`` (T,): frames of a step down off a support, where the part of a step that goes down both
    in the world (``up``: the floor's up, camera frame) and across the camera's ray may be as fast as a
    fall (FALL_SPEED_M_S; see :func:`_fall`), the rest still bound: a jump off a box comes down in its own time, not spread over
    a second by the walker's bound (and both passes see it as a drop: the backward one as a rise)."""
    idx = np.arange(len(x))
    return (_followed(x, t, idx, max_speed, up, dropping) + _followed(x, t, idx[::-1], max_speed, up, dropping, -1.0)) / 2


def _followed(x: np.ndarray, t: np.ndarray, order: np.ndarray, max_speed: float, up: np.ndarray | None = None,
              dropping: np.ndarray | None = None, forward: float = 1.0) -> np.ndarray:
    """The path taken in ``order``, each step cut to what the time allows, back in the path's order. Step
    by step only from a step over the bound until the cut path meets the path again: everywhere else it
    is the path itself (a vtest run has ~28,000 steps, a handful over the bound). A frame that is not
    finite stays so and the path takes up again after it (a frame-by-frame follow carried it on to the end).
    ``forward``: -1 where ``order`` runs back in time (a drop is then a rise)."""
    xs = x[order]
    y = xs.copy()
    dt = np.abs(np.diff(t[order]))
    limit = max_speed * dt
    drop = dropping[order] if dropping is not None and up is not None else np.zeros(len(xs), dtype=bool)
    over = np.flatnonzero(~(np.linalg.norm(np.diff(xs, axis=0), axis=1) <= limit))  # steps a -> a + 1
    b = 0
    for a in over:
        if a < b:  # within a stretch already followed
            continue
        b = a + 1
        while b < len(xs):
            step = xs[b] - y[b - 1]
            fall = _fall(step, xs[b], up, forward) if drop[b] or drop[b - 1] else None
            if fall is not None:
                step = step - fall
                n_fall = float(np.sqrt(fall @ fall))
                fall = fall * min(1.0, FALL_SPEED_M_S * dt[b - 1] / max(n_fall, 1e-12))
            n = float(np.sqrt(step @ step))
            if not n > limit[b - 1] and (fall is None or n_fall <= FALL_SPEED_M_S * dt[b - 1]):
                break  # back on the path: y[b] is xs[b]
            y[b] = y[b - 1] + step * min(1.0, limit[b - 1] / max(n, 1e-12)) + (fall if fall is not None else 0.0)
            b += 1
    out = np.empty_like(y)
    out[order] = y
    return out


def _fall(step: np.ndarray, at: np.ndarray, up: np.ndarray, forward: float) -> np.ndarray | None:
    """The part of ``step`` (3,) that is a drop (forward in time; a rise where ``forward`` is -1): down along
    ``up`` both across the camera's ray through ``at`` and in the world, as far as the lesser of the two; None
    where there is none. Along the ray a step is depth, the weakly seen part, and a level walk toward a
    camera above goes down across its ray but not in the world: both keep the walker's bound."""
    ray = at / max(float(np.sqrt(at @ at)), 1e-9)
    across = float((step - (step @ ray) * ray) @ up)
    world = float(step @ up)
    if across * forward >= 0 or world * forward >= 0:
        return None
    return -forward * min(abs(across), abs(world)) * up


def smoothed_along_rays(root: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A root path (T, 3) camera frame smoothed as its direction from the camera (PATH_SMOOTHING, on the
    direction times the person's median distance: its speed term in m/s across the ray, as on the whole
    path before) and its distance along that ray (PATH_DEPTH_SMOOTHING), zero-lag. Each end is first carried
    on by the straight line fitted to the samples within 1 s of it (each end its own, where it has 3 or
    more), so a steady walk out of the picture is not pulled back at its last frames (a fixed cutoff lags a
    trend there), and one wrong last sample does not steer it."""
    return smoothed_along_rays_many([root], [t])[0]


def smoothed_along_rays_many(roots: list[np.ndarray], ts: list[np.ndarray]) -> list[np.ndarray]:
    """:func:`smoothed_along_rays` for many people, their filters run side by side (one_euro_many): each
    gets what it gets alone."""
    xs, times, firsts = [], [], []
    for root, t in zip(roots, ts):
        dist = np.linalg.norm(root, axis=1, keepdims=True)
        across = max(float(np.median(dist)), 1e-6)
        x = np.hstack([root / np.maximum(dist, 1e-9) * across, dist])
        a = int(np.searchsorted(t, t[0] + 1.0, side="right")) - 1  # samples after the first within 1 s of it
        b = len(t) - 1 - int(np.searchsorted(t, t[-1] - 1.0, side="left"))  # samples before the last within 1 s
        a, b = (a if a >= 2 else 0), (b if b >= 2 else 0)
        before, after = 2 * t[0] - t[a:0:-1], 2 * t[-1] - t[-2:-b - 2:-1]
        xs.append(np.vstack([_line(t[:a + 1], x[:a + 1], before), x, _line(t[-b - 1:], x[-b - 1:], after)]))
        times.append(np.concatenate([before, t, after]))
        firsts.append(a)
    filtered = one_euro_many(xs, times, [(PATH_SMOOTHING, 3), (PATH_DEPTH_SMOOTHING, 1)], zero_lag=True, passes=1)
    out = []
    for f, a, t in zip(filtered, firsts, ts):
        f = f[a:a + len(t)]
        out.append(f[:, :3] / np.maximum(np.linalg.norm(f[:, :3], axis=1, keepdims=True), 1e-12) * f[:, 3:])
    return out


def _line(t: np.ndarray, x: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The least-squares straight line through x (N, D) over t (N,), at the times ``at`` (none: (0, D))."""
    A = np.column_stack([np.ones_like(t), t - t.mean()])
    coef = np.linalg.lstsq(A, x, rcond=None)[0]
    return np.column_stack([np.ones_like(at), at - t.mean()]) @ coef
