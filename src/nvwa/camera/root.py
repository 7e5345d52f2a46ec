"""Where is a person in the camera? Solve the root translation from 2D + root-relative 3D keypoints.

Given root-relative points X_i (metres, camera axes) and their pixels u_i, find t that minimises
sum_i w_i |pi(K (X_i + t)) - u_i|^2. The projection equations are linear in t once multiplied out
(fx (X+t)_x - (u - cx)(X+t)_z = 0), which gives the start; a few Gauss-Newton steps on the true
reprojection error refine it.
"""

from __future__ import annotations

import numpy as np

from nvwa.camera.intrinsics import Intrinsics


def solve_root_translation(
    points_3d: np.ndarray, points_2d: np.ndarray, weights: np.ndarray, intrinsics: Intrinsics,
    *, iterations: int = 5, min_depth: float = 0.3,
) -> tuple[np.ndarray, float]:
    """points_3d (J, 3) m root-relative, points_2d (J, 2) px, weights (J,) -> (t (3,) m, rms px).

    ``t`` places the root in the camera frame (OpenCV axes). Depth is kept at least ``min_depth``.
    """
    t, rms = solve_root_translations(np.asarray(points_3d)[None], np.asarray(points_2d)[None], np.asarray(weights)[None],
                                     intrinsics, iterations=iterations, min_depth=min_depth)
    return t[0], float(rms[0])


def solve_root_translations(
    points_3d: np.ndarray, points_2d: np.ndarray, weights: np.ndarray, intrinsics: Intrinsics,
    *, iterations: int = 5, min_depth: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`solve_root_translation` for many frames at once: points_3d (T, J, 3), points_2d (T, J, 2),
    weights (T, J) -> (t (T, 3) m, rms (T,) px). Each frame's 3x3 least squares is solved through its
    normal equations, all frames together; a frame whose system is degenerate (fewer than two points
    weighted, or nearly singular) is solved on its own by SVD, as the minimum-norm answer it then has."""
    X = np.asarray(points_3d, dtype=np.float64)
    uv = np.asarray(points_2d, dtype=np.float64)
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    w = np.where(w.sum(axis=1, keepdims=True) <= 1e-9, 1.0, w)
    k = intrinsics
    du, dv = uv[..., 0] - k.cx, uv[..., 1] - k.cy
    # linear start: fx (X + t)_x - du (X + t)_z = 0, fy (X + t)_y - dv (X + t)_z = 0, weighted
    A = np.zeros(X.shape[:2] + (2, 3))
    A[..., 0, 0], A[..., 0, 2], A[..., 1, 1], A[..., 1, 2] = k.fx, -du, k.fy, -dv
    b = np.stack([du * X[..., 2] - k.fx * X[..., 0], dv * X[..., 2] - k.fy * X[..., 1]], axis=-1)
    t = _weighted_least_squares(A, b, w)
    bad = ~np.all(np.isfinite(t), axis=1) | (t[:, 2] < min_depth)
    if bad.any():
        # behind the camera or degenerate: start from the depth at which the body's 2D spread matches its 3D spread
        wb = w[bad] / w[bad].sum(axis=1, keepdims=True)
        c3 = np.einsum("tj,tjd->td", wb, X[bad][..., :2])
        c2 = np.einsum("tj,tjd->td", wb, uv[bad])
        spread3 = np.sqrt(np.sum(wb * np.sum((X[bad][..., :2] - c3[:, None]) ** 2, axis=2), axis=1))
        spread2 = np.sqrt(np.sum(wb * np.sum((uv[bad] - c2[:, None]) ** 2, axis=2), axis=1))
        z = np.maximum(k.fx * spread3 / np.maximum(spread2, 1e-6), min_depth)
        t[bad] = np.column_stack([(c2[:, 0] - k.cx) * z / k.fx, (c2[:, 1] - k.cy) * z / k.fy, z])
    active = np.ones(len(t), dtype=bool)
    for _ in range(iterations):  # Gauss-Newton on the reprojection error, each frame until its step is tiny
        i = np.flatnonzero(active)
        if not len(i):
            break
        P = X[i] + t[i, None]
        z = np.maximum(P[..., 2], 1e-3)
        r = np.stack([k.fx * P[..., 0] / z + k.cx - uv[i, :, 0], k.fy * P[..., 1] / z + k.cy - uv[i, :, 1]], axis=-1)
        J = np.zeros(P.shape[:2] + (2, 3))
        J[..., 0, 0], J[..., 0, 2] = k.fx / z, -k.fx * P[..., 0] / z**2
        J[..., 1, 1], J[..., 1, 2] = k.fy / z, -k.fy * P[..., 1] / z**2
        step = _weighted_least_squares(J, -r, w[i])
        t[i] += step
        t[i, 2] = np.maximum(t[i, 2], min_depth)
        active[i] = np.linalg.norm(step, axis=1) >= 1e-6
    P = X + t[:, None]
    z = np.maximum(P[..., 2], 1e-3)
    proj = np.stack([k.fx * P[..., 0] / z + k.cx, k.fy * P[..., 1] / z + k.cy], axis=-1)
    rms = np.sqrt(np.sum(w * np.sum((proj - uv) ** 2, axis=2), axis=1) / np.sum(w, axis=1))
    return t, rms


def _weighted_least_squares(A: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per frame, the x (3,) minimising sum_j w_j |A_j x - b_j|^2: A (T, J, 2, 3), b (T, J, 2), w (T, J) -> (T, 3)."""
    Aw = A * w[..., None, None]
    N = np.einsum("tjri,tjrk->tik", Aw, A)
    rhs = np.einsum("tjri,tjr->ti", Aw, b)
    ok = (np.count_nonzero(w > 0, axis=1) >= 2) & (np.linalg.cond(N) < 1e10)
    x = np.empty(rhs.shape)
    if ok.any():
        x[ok] = np.linalg.solve(N[ok], rhs[ok][..., None])[..., 0]
    for f in np.flatnonzero(~ok):  # degenerate: the minimum-norm answer, as a least-squares solver gives it
        sw = np.sqrt(np.repeat(w[f], 2))
        x[f] = np.linalg.lstsq(A[f].reshape(-1, 3) * sw[:, None], b[f].reshape(-1) * sw, rcond=None)[0]
    return x
