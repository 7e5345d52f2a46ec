"""One-Euro on positions and on rotations, with real (irregular) timestamps."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nvwa.rig.fit import RigMotion
from nvwa.smoothing import OneEuroConfig, one_euro, one_euro_many, one_euro_quaternions, one_euro_zero_lag, smooth_rig, smooth_rigs
from nvwa.smoothing.one_euro import sign_continuous


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


def _reference_one_euro(x, t, cfg, conf=None):
    """The recursion written out frame by frame, as the paper gives it: what every fast path must equal."""
    out, prev, dx = np.empty_like(x), x[0].copy(), np.zeros(x.shape[1])
    out[0] = prev
    for i in range(1, len(x)):
        dt = t[i] - t[i - 1]
        a_d = 1 / (1 + 1 / (2 * np.pi * cfg.d_cutoff * dt))
        dx = dx + a_d * ((x[i] - prev) / dt - dx)
        scale = 1.0 if conf is None else max(conf[i], 0.5)
        cutoff = (cfg.min_cutoff + cfg.beta * np.abs(dx)) * scale
        a = 1 / (1 + 1 / (2 * np.pi * cutoff * dt))
        prev = prev + a * (x[i] - prev)
        out[i] = prev
    return out


@pytest.mark.parametrize("beta", [0.0, 0.7])
@pytest.mark.parametrize("T", [1, 2, 64, 80, 200])  # one frame, a block exactly, a block and a piece, several
def test_fast_paths_equal_the_written_out_recursion(beta, T):
    """beta = 0 on even frames runs as a fixed low-pass a block of frames at a time; otherwise the
    vectorised loop. Both equal the recursion, at a slow and a fast cutoff."""
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(size=(T, 3)), axis=0)
    for min_cutoff in (0.05, 1.5, 40.0):
        cfg = OneEuroConfig(min_cutoff=min_cutoff, beta=beta)
        for t in (np.arange(T) / 30, np.cumsum(rng.uniform(0.01, 0.1, T))):
            assert np.allclose(one_euro(x, t, cfg), _reference_one_euro(x, t, cfg), atol=1e-12)


def test_confidence_and_per_channel_cutoffs_equal_the_written_out_recursion():
    """A frame's confidence lowers its cutoff (both the rest cutoff and the speed's share), and channels under
    configs of their own (their own speed cutoff too) each run the paper's recursion with theirs, forward
    and as the zero-lag pair; uneven frames."""
    rng = np.random.default_rng(6)
    T = 90
    x = np.cumsum(rng.normal(size=(T, 5)), axis=0)
    t = np.cumsum(rng.uniform(0.01, 0.08, T))
    conf = rng.uniform(0.0, 1.0, T)
    parts = [(OneEuroConfig(1.5, 0.7, d_cutoff=0.8), 2), (OneEuroConfig(0.3, 2.0, d_cutoff=3.0), 3)]
    for c in (None, conf):
        got = one_euro(x, t, parts, c)
        twice = one_euro_zero_lag(x, t, parts, c)
        for cols, cfg in ((slice(0, 2), parts[0][0]), (slice(2, 5), parts[1][0])):
            assert np.allclose(got[:, cols], _reference_one_euro(x[:, cols], t, cfg, c), atol=1e-12)
            back = _reference_one_euro(_reference_one_euro(x[:, cols], t, cfg, c)[::-1], -t[::-1], cfg, None if c is None else c[::-1])
            assert np.allclose(twice[:, cols], back[::-1], atol=1e-12)
    assert not np.allclose(one_euro(x, t, parts, conf), one_euro(x, t, parts))  # the confidence did something


def test_many_people_at_once_equal_each_alone():
    """Different lengths, timestamps, confidences (one of a single frame, one empty): the batched filter
    gives every person exactly what they get alone, forward only and zero-lag."""
    rng = np.random.default_rng(4)
    cfg = [(OneEuroConfig(2.0, 0.5), 3), (OneEuroConfig(4.0, 1.0), 8)]
    lengths = [120, 7, 1, 0, 63]
    xs = [np.cumsum(rng.normal(size=(n, 11)), axis=0) for n in lengths]
    ts = [np.cumsum(rng.uniform(0.02, 0.1, n)) for n in lengths]
    confs = [rng.uniform(0, 1, (n, 11)) for n in lengths[:2]] + [None, None, rng.uniform(0, 1, lengths[4])]
    for zero_lag, passes in ((False, 1), (True, 2)):
        got = one_euro_many(xs, ts, cfg, confs, zero_lag=zero_lag, passes=passes)
        for x, t, c, g in zip(xs, ts, confs, got):
            alone = one_euro_zero_lag(x, t, cfg, c, passes=passes) if zero_lag else one_euro(x, t, cfg, c)
            assert g.shape == x.shape and np.allclose(g, alone, atol=1e-12)
    with pytest.raises(ValueError, match="timestamps must increase"):
        one_euro_many([np.zeros((3, 1))], [np.array([0.0, 0.2, 0.1])], OneEuroConfig())


def test_people_of_different_lengths_at_the_same_rate_get_exactly_what_they_get_alone():
    """beta = 0 on even frames (the fixed low-pass) for series of one rate side by side, each padded to the
    longest: every number the same as alone, bit for bit (a block-wise matrix product rounded a short
    series differently next to a long one)."""
    rng = np.random.default_rng(8)
    cfg = OneEuroConfig(min_cutoff=1.7, beta=0.0)
    lengths = [200, 50, 64, 1, 107, 40]
    xs = [np.cumsum(rng.normal(size=(n, 5)), axis=0) for n in lengths]
    ts = [np.arange(n) / 30 for n in lengths]
    for zero_lag, passes in ((False, 1), (True, 2)):
        got = one_euro_many(xs, ts, cfg, zero_lag=zero_lag, passes=passes)
        for x, t, g in zip(xs, ts, got):
            alone = one_euro_many([x], [t], cfg, zero_lag=zero_lag, passes=passes)[0]
            assert np.array_equal(g, alone)


def test_smoothing_people_together_equals_smoothing_each():
    rng = np.random.default_rng(5)
    motions, ts, confs = [], [], []
    for T in (40, 9, 25):
        q = Rotation.from_rotvec(rng.normal(scale=0.3, size=(T * 24, 3))).as_quat().reshape(T, 24, 4)
        motions.append(RigMotion(np.full(24, 0.2), q, rng.normal(size=(T, 3))))
        ts.append(np.cumsum(rng.uniform(0.02, 0.06, T)))
        c = rng.uniform(0.2, 1.0, (T, 24))
        c[T // 2] = 0.0  # a frame with nothing seen: left out and filled
        confs.append(c)
    together = smooth_rigs(motions, ts, "balanced", confs)
    for m, t, c, (s, observed, summary) in zip(motions, ts, confs, together):
        alone, observed_alone, summary_alone = smooth_rig(m, t, "balanced", c)
        assert np.allclose(s.joints(), alone.joints(), atol=1e-9)
        fresh = RigMotion(s.bone_lengths, s.local_rotations, s.root_position, s.rest_directions)
        assert np.allclose(s.joints(), fresh.joints(), rtol=0, atol=1e-12)  # the joints it carries are its own
        assert (observed == observed_alone).all() and summary == summary_alone


def test_sign_continuity_without_a_loop_matches_the_frame_by_frame_rule():
    q = np.random.default_rng(6).normal(size=(50, 4, 4))
    ref = q.copy()
    for i in range(1, len(ref)):
        ref[i][np.sum(ref[i] * ref[i - 1], axis=-1) < 0] *= -1
    assert np.array_equal(sign_continuous(q), ref)


def test_the_whole_smoother_for_everyone_equals_each_person_alone():
    """The bench's run (phase 1, rig fit, phase 2, depth pinned to each person's floor, phase 3) over 12
    real degraded clips at once gives every person exactly the joints and contacts they get alone."""
    from mocap_people import degraded_people
    from motion_quality import run_smoother

    people = degraded_people(seed=6)
    together = run_smoother(people, "balanced")
    for person, (joints, contact) in zip(people, together):
        [(alone, contact_alone)] = run_smoother([person], "balanced")
        assert np.array_equal(joints, alone) and np.array_equal(contact, contact_alone)
    assert sum(c.sum() for _, c in together) > 100  # feet were planted


def test_usable_frames_keep_the_timestamps_that_pass_every_earlier_one():
    """The written-out rule: walking the usable frames in order, a frame whose timestamp does not pass
    the last kept one's is left out."""
    from nvwa.smoothing.motion_smooth import usable_frames

    rng = np.random.default_rng(7)
    for _ in range(200):
        T = int(rng.integers(0, 30))
        t = np.cumsum(rng.normal(0.03, 0.04, T))  # some steps go back
        t[rng.random(T) < 0.1] = np.nan
        conf = rng.uniform(0, 1, (T, 24)) * (rng.random((T, 1)) < 0.9)
        m = RigMotion(np.full(24, 0.2), np.tile([0, 0, 0, 1.0], (T, 24, 1)), np.zeros((T, 3)))
        ok, warnings = usable_frames(m, t, conf)
        expected, last = np.isfinite(t) & (conf.max(axis=1, initial=0) > 0), -np.inf
        for i in np.flatnonzero(expected):
            expected[i], last = (False, last) if t[i] <= last else (True, t[i])
        assert np.array_equal(ok, expected)
