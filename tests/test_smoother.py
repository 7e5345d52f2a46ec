"""The three smoothing phases on fixed cases with known answers, and the bad inputs they must survive."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nvwa.rig.fit import RigMotion
from nvwa.rig.skeleton import JOINT, forward_kinematics
from nvwa.smoothing import (ContactConfig, MotionSmoothConfig, OneEuroConfig, constrain_rig, detect_contacts,
                            lock_identity, one_euro, one_euro_zero_lag, plant_feet, smooth_motion)
from nvwa.smoothing.smoother import foot_points

LENGTHS = np.array([0, .1, .1, .12, .42, .42, .12, .42, .42, .12, .14, .14, .1, .08, .08, .15, .1, .1, .26, .26, .25, .25, .08, .08])
CONFIG = MotionSmoothConfig(OneEuroConfig(1.0, 0.3), OneEuroConfig(1.5, 0.4))


def _standing(T, fps=30.0, drift=(0.0, 0.0, 0.0)):
    """A person in the rest pose, toes on the floor, the root drifting by ``drift`` m/s."""
    t = np.arange(T) / fps
    q = np.tile([0, 0, 0, 1.0], (T, 24, 1))
    toe_below_root = forward_kinematics(q[:1], np.zeros((1, 3)), LENGTHS)[0, JOINT["left_foot"], 1]
    root = np.zeros((T, 3))
    root[:, 1] = -toe_below_root
    root += np.outer(t, drift)
    return RigMotion(LENGTHS, q, root), t


def test_zero_lag_one_euro_tracks_a_noisy_sine_without_lag():
    rng = np.random.default_rng(0)
    t = np.arange(0, 6, 1 / 30)
    truth = 0.3 * np.sin(2 * np.pi * 0.5 * t)
    noisy = truth + rng.normal(scale=0.02, size=t.shape)
    cfg = OneEuroConfig(min_cutoff=3.0, beta=1.0)
    out = one_euro_zero_lag(noisy[:, None], t, cfg)[:, 0]
    causal = one_euro(noisy[:, None], t, cfg)[:, 0]
    rms = lambda x: np.sqrt(np.mean((x - truth) ** 2))  # noqa: E731
    assert rms(out) < 0.6 * 0.02  # well under the noise
    assert rms(out) < 0.5 * rms(causal)  # the backward pass takes the causal filter's lag away
    lags = range(-5, 6)
    best = max(lags, key=lambda k: np.dot(np.roll(out, k)[10:-10], truth[10:-10]))
    assert best == 0


def test_identity_lock_fixes_lengths_from_the_first_frame():
    rng = np.random.default_rng(1)
    m, _ = _standing(60)
    joints = m.joints()
    settling = joints.copy()
    settling[:10] = joints[:10, :1] + (joints[:10] - joints[:10, :1]) * 0.8  # first frames 20% small
    noisy = settling + rng.normal(scale=0.005, size=joints.shape)
    lengths, summary = lock_identity(noisy, np.ones((60, 24)))
    assert abs(lengths[JOINT["left_knee"]] - 0.42) < 0.02  # the settling frames do not shrink anyone
    assert summary["frames_changed"] >= 10


def test_planted_foot_stays_within_a_millimetre():
    m, t = _standing(40, drift=(0.15, 0.0, 0.0))  # feet skate 15 cm/s under a drifting body
    contact = detect_contacts(foot_points(m.joints()), t)
    assert contact[5:35].all()
    planted, summary = plant_feet(m, t, contact)
    ankle = planted.joints()[:, JOINT["left_ankle"]]
    inside = contact[:, 0]
    assert np.ptp(ankle[inside], axis=0).max() < 1e-3
    assert summary["contacts"] == [1, 1]
    # the bone lengths never change, and nothing went through the floor
    j = planted.joints()
    assert np.allclose(np.linalg.norm(j[:, JOINT["left_knee"]] - j[:, JOINT["left_hip"]], axis=1), 0.42)
    assert foot_points(j)[..., 1].min() > -1e-6


def test_a_jumps_flight_has_no_contact():
    m, t = _standing(60)
    root = m.root_position.copy()
    flight = (t > 0.8) & (t < 1.3)
    root[flight, 1] += 0.4 * np.sin(np.pi * (t[flight] - 0.8) / 0.5)
    jump = RigMotion(LENGTHS, m.local_rotations, root)
    contact = detect_contacts(foot_points(jump.joints()), t, ContactConfig())
    high = foot_points(jump.joints())[:, :, 1].min(axis=1) > 0.1
    assert high.any() and not contact[high].any()
    assert contact[:20].all() and contact[-15:].all()


def test_no_ground_penetration_after_phase_3():
    m, t = _standing(30)
    sunk = RigMotion(LENGTHS, m.local_rotations, m.root_position - [0, 0.05, 0])
    out, _, summary = constrain_rig(sunk, t, "balanced")
    assert foot_points(out.joints())[..., 1].min() > -1e-6
    assert summary["frames_lifted"] == 30


def _noisy_motion(T=30, seed=0):
    rng = np.random.default_rng(seed)
    q = Rotation.from_rotvec(rng.normal(scale=0.1, size=(T * 24, 3))).as_quat().reshape(T, 24, 4)
    return RigMotion(LENGTHS, q, rng.normal(scale=0.01, size=(T, 3)) + [0, 1, 3]), np.arange(T) / 30


def test_nan_frames_are_filled_and_marked():
    m, t = _noisy_motion()
    root = m.root_position.copy()
    root[10:13] = np.nan
    q = m.local_rotations.copy()
    q[20] = np.nan
    out, observed, summary = smooth_motion(RigMotion(LENGTHS, q, root), t, np.ones((30, 24)), CONFIG)
    assert out.root_position.shape == (30, 3) and np.isfinite(out.root_position).all()
    assert np.isfinite(out.local_rotations).all()
    assert list(np.nonzero(~observed)[0]) == [10, 11, 12, 20]
    assert any("NaN" in w for w in summary["warnings"])
    # a filled gap moves between its neighbours instead of freezing on the last value
    assert len(np.unique(out.root_position[10:13, 0].round(9))) == 3


def test_all_missing_joints_and_bad_timestamps_are_warnings_not_crashes():
    m, t = _noisy_motion()
    conf = np.ones((30, 24))
    conf[5] = 0.0  # every joint missing
    t = t.copy()
    t[15] = t[14]  # duplicated
    t[22] = t[20]  # decreasing
    out, observed, summary = smooth_motion(m, t, conf, CONFIG)
    assert len(out.root_position) == 30 and np.isfinite(out.root_position).all()
    assert not observed[5] and not observed[15] and not observed[22]
    text = " ".join(summary["warnings"])
    assert "every joint missing" in text and "timestamp" in text


@pytest.mark.parametrize("T", [0, 1])
def test_tiny_tracks(T):
    m, t = _noisy_motion(T=max(T, 1))
    m = RigMotion(LENGTHS, m.local_rotations[:T], m.root_position[:T])
    out, observed, summary = smooth_motion(m, t[:T], np.ones((T, 24)), CONFIG)
    assert len(out.root_position) == T and observed.sum() == T
    out3, contact, _ = constrain_rig(out, t[:T], "balanced")
    assert contact.shape == (T, 2)


def test_everything_missing_is_returned_as_is_with_a_warning():
    m, t = _noisy_motion(T=5)
    out, observed, summary = smooth_motion(m, t, np.zeros((5, 24)), CONFIG)
    assert not observed.any() and "no usable frame" in summary["warnings"][-1]


def test_a_thrown_keypoint_is_repaired_before_it_bends_the_rig():
    from nvwa.smoothing.identity_lock import repair_keypoints

    m, t = _standing(20, drift=(0.3, 0.0, 0.0))
    joints = m.joints()
    thrown = joints.copy()
    thrown[7, JOINT["left_knee"]] += [0.0, 0.3, 0.2]  # 36 cm off for one frame
    conf = np.ones((20, 24))
    conf[12, JOINT["right_wrist"]] = 0.05  # a stale, unseen joint
    fixed, new_conf, summary = repair_keypoints(thrown, conf, LENGTHS, t)
    assert np.abs(fixed[7, JOINT["left_knee"]] - joints[7, JOINT["left_knee"]]).max() < 1e-9  # straight-line motion
    assert summary["joints_repaired"] >= 2 and new_conf[7, JOINT["left_knee"]] <= 0.3
    assert np.abs(fixed[:, JOINT["pelvis"]] - joints[:, JOINT["pelvis"]]).max() == 0.0


def test_a_noisy_parent_twist_does_not_bend_the_children():
    """A twist of a knee about its shin moves no joint when the ankle's local rotation takes it back
    (the rig fit produces exactly such pairs from a noisy twist cue). Filtering must not turn that twist noise into joint motion (it would if local
    rotations were filtered one by one: the parent's and the child's filtered twists no longer cancel)."""
    rng = np.random.default_rng(3)
    m, t = _standing(90)
    T = len(t)
    local = m.local_rotations.copy()
    for ankle in (JOINT["left_ankle"], JOINT["right_ankle"]):  # the feet flex up and down
        local[:, ankle] = Rotation.from_rotvec(np.outer(0.5 * np.sin(2 * np.pi * t), [1.0, 0.0, 0.0])).as_quat()
    m = m.moved(local)
    clean = m.joints()
    local = local.copy()
    for knee, ankle in ((JOINT["left_knee"], JOINT["left_ankle"]), (JOINT["right_knee"], JOINT["right_ankle"])):
        twist = Rotation.from_rotvec(np.outer(rng.normal(scale=0.6, size=T), [0.0, 1.0, 0.0]))  # shins rest along Y
        local[:, knee] = (Rotation.from_quat(local[:, knee]) * twist).as_quat()
        local[:, ankle] = (twist.inv() * Rotation.from_quat(local[:, ankle])).as_quat()
    noisy = m.moved(local)
    assert np.abs(noisy.joints() - clean).max() < 1e-9
    out, _, _ = smooth_motion(noisy, t, np.ones((T, 24)), CONFIG)
    reference, _, _ = smooth_motion(m, t, np.ones((T, 24)), CONFIG)  # the same motion without the twist noise
    assert np.abs(out.joints() - reference.joints()).max() < 1e-3


def test_more_forward_backward_passes_remove_more_jitter():
    rng = np.random.default_rng(4)
    t = np.arange(0, 6, 1 / 30)
    truth = 0.3 * np.sin(2 * np.pi * 0.5 * t)
    noisy = (truth + rng.normal(scale=0.02, size=t.shape))[:, None]
    cfg = OneEuroConfig(min_cutoff=3.0, beta=1.0)
    jerk = lambda x: np.abs(np.diff(x[:, 0], 3)).mean()  # noqa: E731
    one, two = (one_euro_zero_lag(noisy, t, cfg, passes=k) for k in (1, 2))
    assert jerk(two) < 0.5 * jerk(one)
    assert np.sqrt(np.mean((two[:, 0] - truth) ** 2)) < 0.6 * 0.02  # and still no lag to speak of


def test_channel_configs_must_cover_the_signal():
    t = np.arange(10) / 30
    with pytest.raises(ValueError, match="cover 3 channels, the signal has 4"):
        one_euro(np.zeros((10, 4)), t, [(OneEuroConfig(), 3)])


def test_pelvis_holds_its_height_while_standing_on_both_feet():
    rng = np.random.default_rng(5)
    m, t = _standing(60)
    root = m.root_position.copy()
    root[:, 1] += rng.normal(scale=0.015, size=len(t))  # depth noise bobs the pelvis 1.5 cm
    bobbing = m.moved(root_position=root)
    out, contact, summary = constrain_rig(bobbing, t, "balanced")
    both = contact.all(axis=1)
    assert both[10:50].all() and summary["pelvis_locked_frames"] >= 40
    pelvis_y = out.root_position[both, 1]
    assert np.ptp(pelvis_y) < 1e-3
    j = out.joints()
    assert foot_points(j)[..., 1].min() > -1e-6  # the legs followed (IK), nothing went through the floor


def test_contact_hysteresis_without_a_loop_is_the_state_machine():
    """Contacts turn on when low and slow, stay on while not clearly high or fast: the vectorised form
    equals the frame-by-frame state machine on random inputs, nested thresholds or not."""
    from nvwa.smoothing.foot_contact import _hysteresis

    rng = np.random.default_rng(8)
    for trial in range(500):
        T = int(rng.integers(0, 50))
        stay = rng.random(T) < 0.7
        enter = (rng.random(T) < 0.3) & (stay if trial % 2 else True)
        expected, on = np.zeros(T, dtype=bool), False
        for i in range(T):
            on = stay[i] if on else enter[i]
            expected[i] = on
        assert np.array_equal(_hysteresis(enter, stay), expected)


def test_the_floor_envelope_is_exactly_zero_where_nothing_is_needed():
    """The envelope's box filters are running sums: past a raise they left a rounding residue (+-1e-17 m)
    where every value averaged is 0. A positive one turned the leg IK on for frames that need nothing
    (a straight leg then moved by millimetres, decided by rounding) and counted them as lifted."""
    from nvwa.smoothing.footskate import smooth_envelope

    t = np.arange(120) / 30
    for seed in range(20):
        need = np.zeros(120)
        need[10:20] = np.random.default_rng(seed).uniform(0.0, 0.03, 10)
        out = smooth_envelope(need, t)
        assert (out >= need).all() and (out[10:20] > 0).all()
        assert not out[40:].any()


def test_a_free_foot_does_not_jump_with_a_micrometre_when_the_pelvis_moves():
    """A body drifting 0.6 m/s with its left foot planted: the leg cannot reach the anchor, so the pelvis
    moves. The right foot is free (no contact); lowered by 1 um into the floor it is held up by the IK, at
    0 it was left alone and went with the pelvis, 15 cm down into the floor, and the whole body, planted
    foot too, was then lifted 7.5 cm (vtest's walkers moved 6-17 cm on rounding-level differences). Now
    both legs reach for their targets wherever the pelvis moved: the two agree to 20 um and nothing is
    lifted."""
    m0, t = _standing(40, drift=(0.6, 0.0, 0.0))
    root = m0.root_position.copy()
    root[:, 1] -= 1e-6
    m1 = m0.moved(root_position=root)
    contact = np.zeros((40, 2), dtype=bool)
    contact[:, 0] = True
    (p0, s0), (p1, _) = plant_feet(m0, t, contact), plant_feet(m1, t, contact)
    assert s0["pelvis_moved_frames"] > 0
    assert np.abs(p0.joints() - p1.joints()).max() < 2e-5
    assert s0["max_lift_m"] < 1e-3 and foot_points(p0.joints())[..., 1].min() > -1e-6


def test_only_the_frames_that_sank_are_lifted():
    rng = np.random.default_rng(9)
    m, t = _standing(90)
    root = m.root_position.copy()
    root[:15, 1] -= rng.uniform(0.0, 0.03, 15)  # sunk into the floor
    root[30:, 1] += 0.4  # then up in the air: nothing to lift
    m = m.moved(root_position=root)
    _, summary = plant_feet(m, t, detect_contacts(foot_points(m.joints()), t))
    assert summary["frames_lifted"] < 30


def test_phase_3_for_everyone_at_once_equals_each_alone():
    """Real clips (walk, jump, kick, backflip; 16-60 fps) degraded, fitted, smoothed and grounded as the
    bench does: contacts, pelvis lock, planted feet and lift over everyone's frames give each person
    exactly what they get alone (a one-frame person and an unconstrained preset pass through)."""
    from mocap_people import world_motions

    from nvwa.smoothing import constrain_rigs

    motions, ts, _ = world_motions(seed=3)
    motions.append(motions[0].moved(root_position=motions[0].root_position[:1].copy(), local_rotations=motions[0].local_rotations[:1]))
    ts.append(ts[0][:1])
    together = constrain_rigs(motions, ts, "balanced")
    planted = 0
    for m, t, (out, contact, summary) in zip(motions, ts, together):
        alone, contact_alone, summary_alone = constrain_rig(m, t, "balanced")
        assert np.array_equal(out.joints(), alone.joints()) and np.array_equal(out.local_rotations, alone.local_rotations)
        assert np.array_equal(contact, contact_alone) and summary == summary_alone
        planted += summary.get("max_correction_m", 0.0) > 0
    assert planted >= 6 and together[-1][0] is motions[-1]
    assert all(out is m for m, (out, _, _) in zip(motions, constrain_rigs(motions, ts, "none")))


def test_blend_weights_without_a_loop_are_the_contact_by_contact_ramps():
    """The written-out rule: each contact in turn sets 1 on its frames and ramps down before and after
    it until blend_s or a frame already at 1, a frame keeping the larger weight (a tie: the earlier contact)."""
    from nvwa.rig.segments import Segments
    from nvwa.runs import true_runs
    from nvwa.smoothing.footskate import _blend_weights, _smootherstep

    def ramps(c, t, first_run, blend_s=0.1):
        w, owner = np.zeros(len(c)), np.full(len(c), -1)
        for k, (a, b) in enumerate(true_runs(c)):
            w[a:b], owner[a:b] = 1.0, first_run + k
            for frames, d_of in ((range(a - 1, -1, -1), lambda i: t[a] - t[i]), (range(b, len(c)), lambda i: t[i] - t[b - 1])):
                for i in frames:
                    if d_of(i) >= blend_s or w[i] >= 1.0:
                        break
                    x = _smootherstep(1.0 - d_of(i) / blend_s)
                    if x > w[i]:
                        w[i], owner[i] = x, first_run + k
        return w, owner

    rng = np.random.default_rng(11)
    for _ in range(200):
        lengths = rng.integers(0, 40, rng.integers(1, 5))
        contact = rng.random(lengths.sum()) < rng.uniform(0.2, 0.8)
        t = np.concatenate([np.cumsum(rng.uniform(0.01, 0.05, n)) for n in lengths])
        people = Segments(lengths)
        w, owner = _blend_weights(contact, t, people, 0.1)
        runs = 0
        for a, b in zip(people.starts, people.stops):
            expected_w, expected_owner = ramps(contact[a:b], t[a:b], runs)
            assert np.array_equal(w[a:b], expected_w) and np.array_equal(owner[a:b], expected_owner)
            runs += len(true_runs(contact[a:b]))


def test_envelopes_and_contacts_side_by_side_equal_each_alone():
    from nvwa.rig.segments import Segments
    from nvwa.smoothing.foot_contact import detect_contacts_many
    from nvwa.smoothing.footskate import smooth_envelope, smooth_envelopes

    rng = np.random.default_rng(12)
    lengths = np.array([90, 2, 0, 40, 61, 7, 33])
    t = np.concatenate([np.cumsum(rng.uniform(0.03, 0.035, n)) * s for n, s in zip(lengths, (1, 1, 1, 1, 0.5, 1, 1))])
    need = np.where(rng.random(lengths.sum()) < 0.1, rng.uniform(0.0, 0.03, lengths.sum()), 0.0)  # sinking now and then
    ends = np.cumsum(lengths)[lengths > 10]
    need[ends - 5], need[ends - 10] = 0.04, 0.05  # and where the filters' windows reach past a person's end
    feet = rng.normal(scale=0.05, size=(lengths.sum(), 2, 3)).cumsum(axis=0) * [1, 0.2, 1] + [0, 0.05, 0]
    people = Segments(lengths)
    env, contact = smooth_envelopes(need, t, people), detect_contacts_many(feet, t, people)
    for a, b in zip(people.starts, people.stops):
        assert np.array_equal(env[a:b], smooth_envelope(need[a:b], t[a:b]))
        assert np.array_equal(contact[a:b], detect_contacts(feet[a:b], t[a:b]))
    assert contact.any() and not contact.all()


def test_a_long_videos_people_are_smoothed_in_groups_each_as_all_at_once(monkeypatch):
    """Phases 2 and 3 run everyone's frames side by side, whose temporaries grow with the frames: past
    PEOPLE_FRAMES_AT_ONCE frames they run group by group (consecutive people, a longer one alone), so a
    long video's reconstruction holds a bounded amount at once, and everyone gets exactly what they got."""
    from mocap_people import world_motions

    import nvwa.rig.segments as segments
    from nvwa.rig.segments import in_groups
    from nvwa.smoothing import constrain_rigs
    from nvwa.smoothing.motion_smooth import smooth_motions

    assert in_groups([5, 3, 4, 20, 1, 1], limit=8) == [[0, 1], [2], [3], [4, 5]]
    assert in_groups([], limit=8) == [] and in_groups([9], limit=8) == [[0]]
    motions, ts, _ = world_motions(seed=3)
    confs = [np.full((len(t), 24), 0.9) for t in ts]
    smoothed, constrained = smooth_motions(motions, ts, confs, CONFIG), constrain_rigs(motions, ts, "balanced")
    assert len(in_groups([len(t) for t in ts])) == 1  # all at once here
    calls = []
    original = segments.in_groups
    monkeypatch.setattr(segments, "PEOPLE_FRAMES_AT_ONCE", max(len(t) for t in ts))
    monkeypatch.setattr("nvwa.smoothing.motion_smooth.in_groups", lambda n: calls.append(len(original(n))) or original(n))
    fresh, _, _ = world_motions(seed=3)  # (the calls above cached their forward kinematics: grouped work them out anew)
    grouped, grouped_3 = smooth_motions(fresh, ts, confs, CONFIG), constrain_rigs(world_motions(seed=3)[0], ts, "balanced")
    assert calls[0] >= 3  # in groups
    for (a, ok_a, s_a), (b, ok_b, s_b) in zip(smoothed, grouped):
        assert np.array_equal(a.local_rotations, b.local_rotations) and np.array_equal(a.root_position, b.root_position)
        assert np.array_equal(ok_a, ok_b) and s_a == s_b
    for (a, c_a, s_a), (b, c_b, s_b) in zip(constrained, grouped_3):
        assert np.array_equal(a.joints(), b.joints()) and np.array_equal(c_a, c_b) and s_a == s_b


def test_gaps_in_rotations_are_filled_as_scipys_slerp_fills_each_joint():
    """Every joint's unusable frames filled at once give, number for number, what scipy's Slerp gives that
    joint over the usable frames (frame index as time; before the first and after the last: their values);
    the usable frames keep their own numbers (not Slerp's rounding of them, which may also turn the sign);
    one usable frame is copied to the rest."""
    from scipy.spatial.transform import Slerp

    from nvwa.smoothing.motion_smooth import _fill

    rng = np.random.default_rng(3)
    for T, share in ((60, 0.5), (200, 0.9), (30, 0.1), (12, 0.0)):
        q = Rotation.random(T * 24, random_state=int(rng.integers(1 << 30))).as_quat().reshape(T, 24, 4)
        ok = rng.random(T) < share
        ok[rng.integers(T)] = True
        ok[:2] = False  # a gap at the start
        out = _fill(q, ok, quats=True)
        good = np.flatnonzero(ok)
        if len(good) == 1:
            assert np.array_equal(out, np.broadcast_to(q[good[0]], q.shape))
            continue
        inside = np.clip(np.arange(T), good[0], good[-1])
        want = np.stack([Slerp(good, Rotation.from_quat(q[good, j]))(inside).as_quat() for j in range(24)], axis=1)
        assert np.array_equal(out[~ok], want[~ok]) and np.array_equal(out[ok], q[ok])
