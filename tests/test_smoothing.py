"""One-Euro on positions and on rotations, with real (irregular) timestamps."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nvwa.rig.fit import RigMotion
from nvwa.smoothing import OneEuroConfig, one_euro, one_euro_quaternions, smooth_rig


def _jitter(x):
    return np.mean(np.linalg.norm(np.diff(x, 2, axis=0), axis=-1))


def test_one_euro_reduces_jitter_at_rest():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30
    x = np.ones((300, 3)) + rng.normal(scale=0.02, size=(300, 3))
    y = one_euro(x, t, OneEuroConfig(min_cutoff=1.0))
    assert _jitter(y) < 0.2 * _jitter(x)
    assert np.allclose(y[-50:].mean(0), 1.0, atol=0.01)


def test_beta_cuts_lag_on_fast_moves():
    t = np.arange(120) / 30
    x = (t * 3.0)[:, None]  # 3 m/s ramp
    slow = one_euro(x, t, OneEuroConfig(min_cutoff=0.5, beta=0.0))
    fast = one_euro(x, t, OneEuroConfig(min_cutoff=0.5, beta=2.0))
    assert abs(fast[-1, 0] - x[-1, 0]) < 0.3 * abs(slow[-1, 0] - x[-1, 0])


def test_uses_real_timestamps_not_an_assumed_rate():
    """The same signal sampled irregularly is filtered like the regular one at the shared instants."""
    t = np.arange(0, 4, 1 / 30)
    irregular = np.sort(np.concatenate([t[::2], t[1::6]]))
    f = lambda tt: np.sin(2 * np.pi * 0.5 * tt)[:, None]  # noqa: E731
    a = one_euro(f(t), t, OneEuroConfig(min_cutoff=2.0))
    b = one_euro(f(irregular), irregular, OneEuroConfig(min_cutoff=2.0))
    common = np.isin(t, irregular)
    assert np.max(np.abs(a[common, 0] - np.interp(t[common], irregular, b[:, 0]))) < 0.05


def test_timestamps_must_increase():
    with pytest.raises(ValueError, match="timestamps must increase"):
        one_euro(np.zeros((3, 1)), np.array([0.0, 0.1, 0.1]), OneEuroConfig())


def test_quaternion_sign_flips_are_not_motion():
    t = np.arange(60) / 30
    angles = np.linspace(0, 1.0, 60)
    q = Rotation.from_rotvec(np.column_stack([np.zeros(60), angles, np.zeros(60)])).as_quat()[:, None, :]
    flipped = q.copy()
    flipped[::2] *= -1  # the same rotations, every other one written as -q
    a = one_euro_quaternions(q, t, OneEuroConfig(min_cutoff=3.0, beta=1.0))
    b = one_euro_quaternions(flipped, t, OneEuroConfig(min_cutoff=3.0, beta=1.0))
    ang = (Rotation.from_quat(a[:, 0]).inv() * Rotation.from_quat(b[:, 0])).magnitude()
    assert ang.max() < 1e-9
    assert np.allclose(np.linalg.norm(b, axis=-1), 1.0)


def test_smooth_rig_keeps_bone_lengths_and_shapes():
    rng = np.random.default_rng(0)
    T = 40
    q = Rotation.from_rotvec(rng.normal(scale=0.1, size=(T * 24, 3))).as_quat().reshape(T, 24, 4)
    m = RigMotion(np.full(24, 0.2), q, rng.normal(size=(T, 3)))
    s, observed, summary = smooth_rig(m, np.arange(T) / 30, "balanced")
    assert observed.all() and summary["frames_filled"] == 0
    assert s.local_rotations.shape == q.shape and s.root_position.shape == (T, 3)
    assert s.bone_lengths is m.bone_lengths
    assert _jitter(s.root_position) < _jitter(m.root_position)
    with pytest.raises(ValueError, match="smoothing preset 'silky'"):
        smooth_rig(m, np.arange(T) / 30, "silky")
