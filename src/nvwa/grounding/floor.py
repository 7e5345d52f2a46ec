"""The floor: a plane fitted robustly to the low, slow foot points of every person, in the camera frame.

Camera frame is OpenCV's (y down), so "up" starts as -y and is refined by the people themselves
(standing bodies are vertical on average). A plane fitted to feet that all move along one line leaves
the sideways tilt free; then the normal comes from the bodies' up direction and only the height is
fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvwa.rig.segments import Segments, nan_median
from nvwa.smoothing.one_euro import OneEuroConfig, one_euro_many


@dataclass(frozen=True)
class Floor:
    """Points x on the floor satisfy normal_cam . x + offset = 0 (camera frame, metres)."""

    normal_cam: np.ndarray  # (3,) unit, pointing up (against gravity)
    offset: float  # m: the camera's height above the floor
    inliers: int  # contact points within the inlier distance of the plane
    candidates: int  # contact points offered
    rms: float  # m: inliers' distance to the plane
    method: str  # "ransac" (normal fitted) or "up-prior" (normal from the bodies, height fitted)

    def height(self, points_cam: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points -> (...,) signed height above the floor (m)."""
        return points_cam @ self.normal_cam + self.offset


def body_up_direction(pelvis_cam: np.ndarray, neck_cam: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The mean pelvis->neck direction (camera frame) of upright bodies; falls back to -y (camera up)."""
    v = np.asarray(neck_cam) - np.asarray(pelvis_cam)
    n = np.linalg.norm(v, axis=-1)
    ok = n > 1e-6
    if not ok.any():
        return np.array([0.0, -1.0, 0.0])
    u = v[ok] / n[ok, None]
    w = np.ones(len(u)) if weights is None else np.asarray(weights)[ok]
    w = w * (u[:, 1] < -0.5)  # only bodies roughly upright in the image: not lying, not upside down
    if w.sum() <= 0:
        return np.array([0.0, -1.0, 0.0])
    m = (u * w[:, None]).sum(0)
    return m / np.linalg.norm(m)


CONTACT_SPEED_SPAN_S = 1 / 30  # s: the least span a foot's speed is taken over (one frame at 30 fps, where it was set)


def contact_mask(soles_cam: np.ndarray, t: np.ndarray, up: np.ndarray, confidence: np.ndarray,
                 *, max_speed: float = 0.6, low_band: float = 0.06, min_confidence: float = 0.5) -> np.ndarray:
    """Which foot points are likely on the ground: slow (across the camera ray), near the person's
    lowest sole point that frame, confidently seen. The speed is taken over at least CONTACT_SPEED_SPAN_S
    (one frame up to 30 fps, two at 60): over one frame of a 60-fps video a still foot's jitter alone
    reads twice as fast, and a planted foot passes for a moving one.

    soles_cam (T, S, 3) m, t (T,) s, up (3,), confidence (T, S) -> (T, S) bool.
    """
    T = len(soles_cam)
    if T == 0:
        return np.zeros(soles_cam.shape[:2], dtype=bool)
    height = soles_cam @ up  # (T, S): larger = higher
    lowest = np.min(np.where(confidence >= min_confidence, height, np.inf), axis=1, keepdims=True)
    low = height <= lowest + low_band
    speed = np.full(height.shape, np.inf)
    if T >= 2:
        k = min(frames_spanning(t, CONTACT_SPEED_SPAN_S), max(1, (T - 1) // 2))  # a short track (90 fps and up): both sides fit
        # Monocular depth is noisy along the camera ray; a planted foot is still in the other two
        # directions, so speed is measured across the ray.
        step = soles_cam[k:] - soles_cam[:-k]
        ray = soles_cam[:-k] / np.maximum(np.linalg.norm(soles_cam[:-k], axis=-1, keepdims=True), 1e-9)
        across = step - np.sum(step * ray, axis=-1, keepdims=True) * ray
        v = np.linalg.norm(across, axis=-1) / (t[k:] - t[:-k])[:, None]  # v[i]: from frame i to frame i + k
        speed[k:] = v
        speed[:k] = v[:k]
        speed[k:T - k] = np.minimum(v[:T - 2 * k], v[k:])  # central: the slower of the two sides
    return low & (speed <= max_speed) & (confidence >= min_confidence)


def frames_spanning(t: np.ndarray, span_s: float) -> int:
    """How many of a series' frames (at its median step, ``t`` (T,) s) make ``span_s`` seconds: at least 1.
    A window meant in time, counted in frames, means the same at 10 and at 60 fps."""
    steps = np.diff(np.asarray(t, dtype=np.float64))
    steps = steps[steps > 0]
    return max(1, int(round(span_s / float(np.median(steps))))) if len(steps) else 1


def _plane_through(points: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    c = points.mean(0)
    _, s, vt = np.linalg.svd(points - c, full_matrices=False)
    n = vt[-1]
    return n, float(-n @ c), s


def _lowest_supported_height(h: np.ndarray, band: float, min_share: float) -> float:
    """The lowest height (along up) with at least ``min_share`` of the points within +-``band``:
    people stand on the floor or on things above it (a box, a step), never below it."""
    hs = np.sort(h)
    need = max(3, int(np.ceil(min_share * len(hs))))
    counts = np.searchsorted(hs, hs + 2 * band, side="right") - np.arange(len(hs))
    ok = np.nonzero(counts >= need)[0]
    i = ok[0] if len(ok) else int(np.argmax(counts))
    window = hs[i: i + counts[i]]
    return float(np.median(window))


def fit_floor(points_cam: np.ndarray, up_hint: np.ndarray, *, inlier_distance: float = 0.08,
              max_tilt_deg: float = 15.0, min_share: float = 0.15, iterations: int = 300, seed: int = 0,
              fixed_normal: bool = False) -> Floor:
    """The floor under everyone's contact points (N, 3) m, camera frame.

    1. Along ``up_hint`` (the bodies' mean up), the floor is the lowest height that a good share of
       the contact points rest on: feet on a raised box or a step are above it, not part of it.
    2. RANSAC over the points near that height fits the plane, its normal within ``max_tilt_deg``
       of ``up_hint``. With fewer than 8 points, or points along one line (one person walking
       straight leaves the tilt about that line free), the normal stays ``up_hint``.
    ``fixed_normal``: ``up_hint`` is gravity, known (vanishing points): only the floor's height is fitted.
    """
    up = np.asarray(up_hint, dtype=np.float64)
    up = up / np.linalg.norm(up)
    P = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    N = len(P)
    if N == 0:
        raise ValueError("no foot contact points to fit a floor to")
    h = P @ up
    level = _lowest_supported_height(h, inlier_distance, min_share)
    near = np.abs(h - level) <= 3 * inlier_distance

    def prior_fit() -> Floor:
        offset = -float(np.median(h[near]))
        d = np.abs(h + offset)
        inl = d <= inlier_distance
        return Floor(up, offset, int(inl.sum()), N, float(np.sqrt(np.mean(d[inl] ** 2))) if inl.any() else 0.0,
                     "gravity" if fixed_normal else "up-prior")

    Q = P[near]
    if fixed_normal or len(Q) < 8:
        return prior_fit()
    cos_max = np.cos(np.radians(max_tilt_deg))
    best = _ransac_plane(Q, up, cos_max, inlier_distance, iterations, seed)
    if best is None:
        return prior_fit()
    n, d = best
    inl = np.abs(Q @ n + d) <= inlier_distance
    n, d, s = _plane_through(Q[inl])
    if n @ up < 0:
        n, d = -n, -d
    if s[1] < 0.15 * s[0] or n @ up < cos_max:
        return prior_fit()
    dist = np.abs(P @ n + d)
    inl = dist <= inlier_distance
    return Floor(n, float(d), int(inl.sum()), N, float(np.sqrt(np.mean(dist[inl] ** 2))), "ransac")


def _ransac_plane(Q: np.ndarray, up: np.ndarray, cos_max: float, inlier_distance: float, iterations: int,
                  seed: int) -> tuple[np.ndarray, float] | None:
    """The plane (n, d) through 3 of the points ``Q`` that most of them lie on (within ``inlier_distance``),
    its normal within acos(cos_max) of ``up``; None when no sample qualifies."""
    rng = np.random.default_rng(seed)
    best_count, best = 0, None
    for _ in range(iterations):
        sample = Q[rng.choice(len(Q), 3, replace=False)]
        n = np.cross(sample[1] - sample[0], sample[2] - sample[0])
        norm = np.linalg.norm(n)
        if norm < 1e-9:
            continue
        n = n / norm if n @ up >= 0 else -n / norm
        if n @ up < cos_max:
            continue
        d = -n @ sample[0]
        count = int(np.sum(np.abs(Q @ n + d) <= inlier_distance))
        if count > best_count:
            best_count, best = count, (n, d)
    return best


def world_from_camera(floor: Floor, forward_cam: np.ndarray = np.array([0.0, 0.0, 1.0])) -> tuple[np.ndarray, np.ndarray]:
    """(R_world_from_cam (3, 3), t_world_from_cam (3,)): x_world = R x_cam + t.

    World (glTF): +Y up = the floor normal, floor at Y=0, origin on the floor under the camera,
    and the camera looking along -Z (its forward projected on the floor), as glTF cameras do.
    """
    y = floor.normal_cam / np.linalg.norm(floor.normal_cam)
    f = forward_cam - (forward_cam @ y) * y
    if np.linalg.norm(f) < 1e-6:  # looking straight down: any horizontal direction will do
        f = np.array([0.0, -1.0, 0.0]) - (np.array([0.0, -1.0, 0.0]) @ y) * y
    z = -f / np.linalg.norm(f)
    x = np.cross(y, z)
    R = np.stack([x, y, z])  # rows: world axes in camera coordinates
    t = R @ (floor.offset * y)  # the camera centre sits floor.offset above the floor
    return R, t


def lowest_sole(rel: np.ndarray, confidence: np.ndarray, up: np.ndarray, min_confidence: float = 0.5) -> np.ndarray:
    """(T, 3): per frame the sole point (relative to the root) lowest along ``up`` ((3,), or (T, 3) one
    per frame) among the confident ones (all of them where none is)."""
    h = rel @ up if up.ndim == 1 else np.einsum("tsi,ti->ts", rel, up)
    hc = np.where(confidence >= min_confidence, h, np.inf)
    idx = np.where(np.isfinite(hc).any(axis=1), hc.argmin(axis=1), h.argmin(axis=1))
    return rel[np.arange(len(rel)), idx]


def pin_depth_to_floor(root: np.ndarray, rel: np.ndarray, confidence: np.ndarray, floor: Floor, t: np.ndarray,
                       *, window_s: float = 1.0, min_grazing: float = 0.03, min_confidence: float = 0.5,
                       limits: tuple[float, float] = (0.4, 2.5)) -> np.ndarray:
    """Per-frame factors along the camera ray through a person's lowest foot that put it on the floor.

    root (T, 3) m camera frame, rel (T, S, 3) sole points relative to the root, confidence (T, S),
    t (T,) s -> scale (T,). The raw per-frame factor s_t solves n . s_t (r_t + q_t) + d = 0 for the
    lowest confident sole point q_t: the foot slides along its own camera ray (its pixel stays) until
    it meets the floor; scaling the whole person by s_t about the camera keeps every joint's pixel.
    A running median over ``window_s`` keeps the majority (feet on the ground) through short flights
    such as a jump. Where the ray grazes the floor (|n . ray| < ``min_grazing``, a level camera) the
    floor says little about depth and the person's median factor is used.
    """
    return pin_depth_to_floor_many([root], [rel], [confidence], floor, [t], window_s=window_s, min_grazing=min_grazing,
                                   min_confidence=min_confidence, limits=limits)[0]


def pin_depth_to_floor_many(roots: list[np.ndarray], rels: list[np.ndarray], confidences: list[np.ndarray], floors: Floor | list[Floor],
                            ts: list[np.ndarray], *, window_s: float = 1.0, min_grazing: float = 0.03, min_confidence: float = 0.5,
                            limits: tuple[float, float] = (0.4, 2.5)) -> list[np.ndarray]:
    """:func:`pin_depth_to_floor` for many people (one floor for all, or one each) in one pass over their
    frames: the factors, the running medians and the smoothing of everyone at once -> one scale (T_k,) each."""
    people = Segments.of(roots)
    if not len(people):
        return []
    floors = [floors] * len(people) if isinstance(floors, Floor) else floors
    n = people.per_row(np.array([f.normal_cam for f in floors], dtype=np.float64))  # each person's floor on each of their frames
    d = people.per_row(np.array([f.offset for f in floors], dtype=np.float64))
    S = rels[0].shape[1] if len(rels) and np.ndim(rels[0]) == 3 else 0
    t = people.join(ts)
    raw = _ray_factors(people.join(roots, (3,)), people.join(rels, (S, 3)), people.join(confidences, (S,)), n, d,
                       min_grazing=min_grazing, min_confidence=min_confidence, limits=limits)
    ok = np.isfinite(raw)
    seen = people.reduce(np.logical_or, ok, empty=False)
    fallback = nan_median(people.padded(raw, fill=np.nan))  # each person's median factor
    out = running_median_many(raw, t, people, window_s, people.per_row(fallback))
    scales = [np.ones(T) if not s else o for T, s, o in zip(people.lengths, seen, people.split(out))]
    # a running median moves in steps; the depth it sets moves the whole body, so smooth it too
    smooth = [k for k, (T, s) in enumerate(zip(people.lengths, seen)) if s and T > 2]
    smoothed = one_euro_many([scales[k] for k in smooth], [ts[k] for k in smooth], OneEuroConfig(min_cutoff=1.0 / window_s, beta=0.0))
    for k, x in zip(smooth, smoothed):
        scales[k] = x[:, 0]
    return scales


def foot_ray_factors(root: np.ndarray, rel: np.ndarray, confidence: np.ndarray, floor: Floor, *, min_grazing: float = 0.03,
                     min_confidence: float = 0.5, limits: tuple[float, float] = (0.4, 2.5), level=0.0) -> np.ndarray:
    """(T,) per frame, the factor s that puts the lowest confident sole point on the floor (or on a
    surface ``level`` (T,) m above it) along its camera ray (n . s (r + q) + d - level = 0); NaN where
    the ray grazes the floor or s is out of ``limits``."""
    return _ray_factors(root, rel, confidence, floor.normal_cam, floor.offset - np.asarray(level, dtype=np.float64),
                        min_grazing=min_grazing, min_confidence=min_confidence, limits=limits)


def _ray_factors(root, rel, confidence, n, d, *, min_grazing, min_confidence, limits) -> np.ndarray:
    """:func:`foot_ray_factors` with the plane n . x + d = 0 given as n (3,) and d, or one of each per frame."""
    foot = root + lowest_sole(rel, confidence, n, min_confidence)
    nr = foot @ n if n.ndim == 1 else np.einsum("ti,ti->t", foot, n)
    grazing = np.abs(nr) / np.maximum(np.linalg.norm(foot, axis=1), 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = -d / nr
    ok = (grazing >= min_grazing) & np.isfinite(raw) & (raw > limits[0]) & (raw < limits[1])
    return np.where(ok, raw, np.nan)


def running_median(x: np.ndarray, t: np.ndarray, window_s: float, fallback=np.nan) -> np.ndarray:
    """Median over a time window centred on each sample (samples may be irregular in time); NaNs are
    skipped, ``fallback`` where a window holds none. ``x`` (T,) or (T, D)."""
    x = np.asarray(x, dtype=np.float64)
    return running_median_many(x, np.asarray(t, dtype=np.float64), Segments([len(x)]), window_s, fallback)


def running_median_many(x: np.ndarray, t: np.ndarray, people: Segments, window_s: float, fallback=np.nan) -> np.ndarray:
    """:func:`running_median` of each person's rows of x (N,) or (N, D), sampled at t (N,), all at once;
    ``fallback`` one for all or (N,) one per row. People sampled evenly with the same window go through
    one vectorised pass side by side; unevenly sampled ones through the window search of their own."""
    x = np.asarray(x, dtype=np.float64)
    fallback = np.broadcast_to(np.asarray(fallback, dtype=np.float64), (len(x),))
    out = np.empty_like(x)
    step = np.append(np.diff(t), 0.0)  # (N,) row i -> i + 1 (a person's last row: no step of theirs)
    dt0 = np.zeros(len(people))
    has = people.lengths > 2
    dt0[has] = step[people.starts[has]]
    dt0_row = people.per_row(dt0)
    close = people.last() | (np.abs(step - dt0_row) <= 1e-8 + 0.01 * np.abs(dt0_row))  # np.allclose's test, rtol 1%
    even = has & (dt0 > 0) & people.reduce(np.logical_and, close, empty=True)
    half = np.zeros(len(people), dtype=np.intp)
    half[even] = (window_s / 2 / dt0[even] + 1e-9).astype(np.intp)
    width = int(np.prod(x.shape[1:], dtype=np.intp))
    for h in np.unique(half[even]):
        for members in _side_by_side(np.flatnonzero(even & (half == h)), people.lengths, width):
            rows = np.isin(people.owner, members)
            out[rows] = _even_running_median(x[rows], Segments(people.lengths[members]), int(h), fallback[rows])
    for k in np.flatnonzero(~even):
        a, b = people.starts[k], people.stops[k]
        out[a:b] = _uneven_running_median(x[a:b], t[a:b], window_s, fallback[a:b])
    return out


MEDIAN_VALUES_AT_ONCE = 1 << 20  # values laid side by side, or sorted in windows, at once (8 MB): a long video's in pieces


def _side_by_side(members: np.ndarray, lengths: np.ndarray, width: int) -> list[np.ndarray]:
    """``members`` (person indices) in groups to lay side by side, each padded to its longest: the longest
    first, as many as fit MEDIAN_VALUES_AT_ONCE (a person longer than that alone); each group in index order."""
    groups, current, longest = [], [], 0
    for k in members[np.argsort(-lengths[members], kind="stable")]:
        longest = max(longest, int(lengths[k])) if current else int(lengths[k])
        if current and (len(current) + 1) * longest * width > MEDIAN_VALUES_AT_ONCE:
            groups.append(current)
            current, longest = [], int(lengths[k])
        current.append(k)
    return [np.sort(np.asarray(g, dtype=np.intp)) for g in groups + ([current] if current else [])]


def _even_running_median(x: np.ndarray, people: Segments, half: int, fallback: np.ndarray) -> np.ndarray:
    """Evenly sampled people side by side, NaN past each one's ends, windows of 2 half + 1 samples (in pieces
    of frames: every window's samples are sorted)."""
    pad = people.padded(x, fill=np.nan)
    pad = np.pad(pad, [(0, 0), (half, half)] + [(0, 0)] * (x.ndim - 1), constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1, axis=1)  # (P, T_max, [D,] W): a view
    med = np.empty(win.shape[:-1])
    step = max(1, MEDIAN_VALUES_AT_ONCE // max(1, win[:, :1].size))
    for a in range(0, win.shape[1], step):
        piece = win[:, a:a + step]
        if x.ndim > 1:  # a sample counts only where all its coordinates are finite
            piece = np.where(np.isfinite(piece).all(axis=2, keepdims=True), piece, np.nan)
        med[:, a:a + step] = nan_median(piece)
    out = people.unpadded(med)
    return np.where(np.isfinite(out), out, fallback if x.ndim == 1 else fallback[:, None])


def _uneven_running_median(x: np.ndarray, t: np.ndarray, window_s: float, fallback: np.ndarray) -> np.ndarray:
    """One unevenly sampled person: each sample's window found by time, laid out padded (NaN) to the
    longest window, and every window's median taken at once (in pieces of samples)."""
    a = np.searchsorted(t, t - window_s / 2)
    b = np.searchsorted(t, t + window_s / 2)
    width = int((b - a).max()) if len(t) else 0
    out = np.empty_like(x)
    step = max(1, MEDIAN_VALUES_AT_ONCE // max(1, width * int(np.prod(x.shape[1:], dtype=np.intp))))
    for s in range(0, len(x), step):
        idx = a[s:s + step, None] + np.arange(width)  # (n, W) each window's samples, past its end masked
        inside = idx < b[s:s + step, None]
        w = x[np.minimum(idx, len(x) - 1)]  # (n, W[, D])
        good = inside & (np.isfinite(w) if w.ndim == 2 else np.isfinite(w).all(axis=2))
        w = np.where(good if w.ndim == 2 else good[..., None], w, np.nan)
        med = nan_median(w if w.ndim == 2 else np.moveaxis(w, 1, 2))  # (n[, D])
        seen = good.any(axis=1)
        out[s:s + step] = np.where(seen if x.ndim == 1 else seen[:, None], med,
                                   fallback[s:s + step] if x.ndim == 1 else fallback[s:s + step, None])
    return out
