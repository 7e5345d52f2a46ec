"""Intrinsics parsing and the root-translation solve, against known answers."""

import numpy as np
import pytest

from nvwa.camera import Intrinsics, solve_root_translation
from nvwa.errors import InputError


def _project(X, k):
    return np.column_stack([k.fx * X[:, 0] / X[:, 2] + k.cx, k.fy * X[:, 1] / X[:, 2] + k.cy])


def test_default_focal_is_the_image_diagonal():
    k = Intrinsics.default(640, 480)
    assert k.fx == k.fy == 800.0 and (k.cx, k.cy) == (320, 240)


def test_intrinsics_scale_with_the_decoded_frame():
    k = Intrinsics.from_focal(1000, 1768, 994).scaled(0.5)
    assert (k.fx, k.cx, k.cy) == (500, 442, 248.5)


@pytest.mark.parametrize("text, why", [("1,2,3", "fx,fy,cx,cy"), ("a,b,c,d", "numbers"), ("0,0,1,1", "positive"),
                                       ("-500,500,320,240", "positive"), ("nan,500,320,240", "finite"),
                                       ("1,0,5,0,1,5,0,1,1", "pinhole"), ("800,800,5000,240", "outside the 640x480 frame"),
                                       ("800,800,320,-10", "outside")])
def test_bad_K_is_a_one_line_error(text, why):
    with pytest.raises(InputError, match="--K") as err:
        Intrinsics.from_text(text, 640, 480)
    assert why in str(err.value) and "\n" not in str(err.value)


def test_K_from_nine_numbers():
    k = Intrinsics.from_text("900,0,320,0,910,240,0,0,1", 640, 480)
    assert (k.fx, k.fy, k.cx, k.cy) == (900, 910, 320, 240)


def test_bad_focal_is_rejected():
    with pytest.raises(InputError, match="--focal"):
        Intrinsics.from_focal(-5, 640, 480)


@pytest.mark.parametrize("t_true", [(0.3, -0.2, 4.0), (-2.0, 1.0, 12.0), (0.0, 0.5, 1.5)])
def test_root_translation_recovers_a_known_position(t_true):
    rng = np.random.default_rng(1)
    k = Intrinsics.default(1280, 720)
    X = rng.normal(scale=0.4, size=(33, 3))  # a body-sized cloud around the root
    t_true = np.array(t_true)
    uv = _project(X + t_true, k)
    t, rms = solve_root_translation(X, uv, np.ones(33), k)
    assert np.allclose(t, t_true, atol=1e-6)
    assert rms < 1e-6


def test_root_translation_downweights_invisible_points():
    rng = np.random.default_rng(2)
    k = Intrinsics.default(640, 480)
    X = rng.normal(scale=0.4, size=(33, 3))
    t_true = np.array([0.5, 0.2, 6.0])
    uv = _project(X + t_true, k)
    w = np.ones(33)
    uv[:5] += 80  # five wild 2D points...
    w[:5] = 0.0  # ...that the backend says it did not see
    t, _ = solve_root_translation(X, uv, w, k)
    assert np.allclose(t, t_true, atol=1e-6)


def test_many_frames_roots_are_each_frames_own_least_squares():
    """A video's frames solved together (normal equations, all at once) give each frame the minimum of its
    own weighted reprojection error, as scipy's least squares finds it from the truth: frames with no weight
    (every point counts alike) and with every point far behind the root included; one weighted point (the
    depth not determined) is put exactly on its pixel, in front of the camera."""
    from scipy.optimize import least_squares

    from nvwa.camera import solve_root_translations

    rng = np.random.default_rng(4)
    k = Intrinsics.default(1280, 720)
    T = 40
    X = rng.normal(scale=0.4, size=(T, 33, 3))
    t_true = np.column_stack([rng.uniform(-2, 2, T), rng.uniform(-1, 1, T), rng.uniform(2, 20, T)])
    uv = np.stack([_project(X[i] + t_true[i], k) for i in range(T)]) + rng.normal(scale=3.0, size=(T, 33, 2))
    w = rng.uniform(0, 1, size=(T, 33)) * (rng.random((T, 33)) > 0.3)
    w[0] = 0.0  # nothing weighted: every point counts alike
    w[1] = 0.0
    w[1, 5] = 1.0  # one point: the depth is not determined
    X[2, :, 2] -= 30.0  # every point 30 m behind the root
    t_true[2, 2] += 30.0
    t, rms = solve_root_translations(X, uv, w, k)
    assert t.shape == (T, 3) and np.isfinite(t).all() and (t[:, 2] >= 0.3).all() and np.isfinite(rms).all()
    assert np.abs(_project(X[1, 5:6] + t[1], k) - uv[1, 5]).max() < 1e-6
    for i in [0, *range(2, T)]:
        sw = np.sqrt(np.repeat(w[i] if w[i].any() else np.ones(33), 2))

        def residual(x, i=i, sw=sw):
            return (_project(X[i] + x, k) - uv[i]).reshape(-1) * sw
        best = least_squares(residual, t_true[i], xtol=1e-14, ftol=1e-14, gtol=1e-14).x
        assert np.allclose(t[i], best, atol=1e-6), i
