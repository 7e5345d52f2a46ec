"""Where is a person in the camera? Solve the root translation from 2D + root-relative 3D keypoints.

Given root-relative points X_i (metres, camera axes) and their pixels u_i, find t that minimises
sum_i w_i |pi(K (X_i + t)) - u_i|^2. The projection equations are linear in t once multiplied out
(fx (X+t)_x - (u - cx)(X+t)_z = 0), which gives the start; a few Gauss-Newton steps on the true
reprojection error refine it.
"""

from __future__ import annotations

import numpy as np

from nvwa.camera.intrinsics import Intrinsics


def _linear_start(X: np.ndarray, uv: np.ndarray, w: np.ndarray, k: Intrinsics) -> np.ndarray:
    du, dv = uv[:, 0] - k.cx, uv[:, 1] - k.cy
    n = len(X)
    A = np.zeros((2 * n, 3))
    b = np.zeros(2 * n)
    A[0::2, 0], A[0::2, 2] = k.fx, -du
    b[0::2] = du * X[:, 2] - k.fx * X[:, 0]
    A[1::2, 1], A[1::2, 2] = k.fy, -dv
    b[1::2] = dv * X[:, 2] - k.fy * X[:, 1]
    sw = np.sqrt(np.repeat(w, 2))
    t, *_ = np.linalg.lstsq(A * sw[:, None], b * sw, rcond=None)
    return t


def solve_root_translation(
    points_3d: np.ndarray, points_2d: np.ndarray, weights: np.ndarray, intrinsics: Intrinsics,
    *, iterations: int = 5, min_depth: float = 0.3,
) -> tuple[np.ndarray, float]:
    """points_3d (J, 3) m root-relative, points_2d (J, 2) px, weights (J,) -> (t (3,) m, rms px).

    ``t`` places the root in the camera frame (OpenCV axes). Depth is kept at least ``min_depth``.
    """
    X = np.asarray(points_3d, dtype=np.float64)
    uv = np.asarray(points_2d, dtype=np.float64)
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if w.sum() <= 1e-9:
        w = np.ones_like(w)
    t = _linear_start(X, uv, w, intrinsics)
    if not np.all(np.isfinite(t)) or t[2] < min_depth:
        # behind the camera or degenerate: start from the depth at which the body's 2D spread matches its 3D spread
        spread3 = np.sqrt(np.average(np.sum((X[:, :2] - np.average(X[:, :2], 0, w)) ** 2, 1), weights=w))
        spread2 = np.sqrt(np.average(np.sum((uv - np.average(uv, 0, w)) ** 2, 1), weights=w))
        z = max(intrinsics.fx * spread3 / max(spread2, 1e-6), min_depth)
        c = np.average(uv, 0, w)
        t = np.array([(c[0] - intrinsics.cx) * z / intrinsics.fx, (c[1] - intrinsics.cy) * z / intrinsics.fy, z])
    sw = np.sqrt(np.repeat(w, 2))
    for _ in range(iterations):
        P = X + t
        z = np.maximum(P[:, 2], 1e-3)
        proj = np.column_stack([intrinsics.fx * P[:, 0] / z + intrinsics.cx, intrinsics.fy * P[:, 1] / z + intrinsics.cy])
        r = (proj - uv).reshape(-1)
        J = np.zeros((2 * len(X), 3))
        J[0::2, 0] = intrinsics.fx / z
        J[0::2, 2] = -intrinsics.fx * P[:, 0] / z**2
        J[1::2, 1] = intrinsics.fy / z
        J[1::2, 2] = -intrinsics.fy * P[:, 1] / z**2
        step, *_ = np.linalg.lstsq(J * sw[:, None], -r * sw, rcond=None)
        t = t + step
        t[2] = max(t[2], min_depth)
        if np.linalg.norm(step) < 1e-6:
            break
    P = X + t
    z = np.maximum(P[:, 2], 1e-3)
    proj = np.column_stack([intrinsics.fx * P[:, 0] / z + intrinsics.cx, intrinsics.fy * P[:, 1] / z + intrinsics.cy])
    rms = float(np.sqrt(np.average(np.sum((proj - uv) ** 2, axis=1), weights=w)))
    return t, rms
