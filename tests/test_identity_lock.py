"""Phase 1 (bone lengths locked, keypoints repaired) for many people at once: each person gets exactly
what they get alone, and what the written-out per-bone, per-joint rules give."""

import numpy as np

from mocap_people import degraded_people
from nvwa.rig.fit import lock_bone_lengths
from nvwa.rig.skeleton import SMPL24_PARENTS
from nvwa.smoothing.identity_lock import lock_identity, lock_identity_many, repair_keypoints, repair_keypoints_many


def test_locking_everyone_at_once_equals_locking_each_alone():
    people = degraded_people()
    people.append((np.zeros((0, 24, 3)), np.zeros((0, 24)), np.zeros(0), None, None))  # nobody seen yet
    together = lock_identity_many([p[0] for p in people], [p[1] for p in people])
    for (joints, conf, *_), (lengths, summary) in zip(people, together):
        alone, summary_alone = lock_identity(joints, conf)
        assert np.array_equal(lengths, alone) and summary == summary_alone
    assert together[-1][1]["frames_changed"] == 0 and not together[-1][0].any()


def test_locked_lengths_are_each_bones_trimmed_mean():
    """The written-out rule: per bone, the frames where both ends are confident (all frames when fewer
    than 3 are), sorted, 10% cut at each end, averaged; left and right share their mean."""
    for joints, conf, *_ in degraded_people(seed=1)[::3]:
        conf = conf.copy()
        conf[:, 20] = 0.0  # a wrist never seen confidently: all its frames count
        expected = np.zeros(24)
        for j in range(1, 24):
            p = SMPL24_PARENTS[j]
            d = np.linalg.norm(joints[:, j] - joints[:, p], axis=-1)
            ok = np.minimum(conf[:, j], conf[:, p]) >= 0.5
            v = np.sort(d[ok] if ok.sum() >= 3 else d)
            k = int(len(v) * 0.1)
            expected[j] = np.mean(v[k: len(v) - k])
        for a, b in [(1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23)]:
            expected[a] = expected[b] = (expected[a] + expected[b]) / 2
        assert np.allclose(lock_bone_lengths(joints, conf), expected, rtol=0, atol=1e-15)


def test_repairing_everyone_at_once_equals_each_alone_and_np_interp():
    people = degraded_people(seed=2)
    lengths = [lock_identity(j, c)[0] for j, c, *_ in people]
    people[0][1][:, 7] = 0.0  # a joint never seen: nothing to interpolate from, left as it is
    together = repair_keypoints_many([p[0] for p in people], [p[1] for p in people], lengths, [p[2] for p in people])
    repaired = 0
    for (joints, conf, t, *_), L, (fixed, new_conf, summary) in zip(people, lengths, together):
        alone = repair_keypoints(joints, conf, L, t)
        assert np.array_equal(fixed, alone[0]) and np.array_equal(new_conf, alone[1]) and summary == alone[2]
        expected, expected_conf = joints.copy(), conf.copy()
        bone = np.linalg.norm(joints[:, 1:] - joints[:, SMPL24_PARENTS[1:]], axis=-1)
        error = np.abs(bone - L[1:])
        bad = conf < 0.3
        bad[:, 1:] |= (error > 0.3 * L[1:]) & (error > 0.12)
        for j in range(24):
            good = ~bad[:, j]
            if good.all() or good.sum() < 2:
                continue
            for d in range(3):
                expected[~good, j, d] = np.interp(t[~good], t[good], joints[good, j, d])
            expected_conf[~good, j] = np.minimum(conf[~good, j], 0.3)
        assert np.array_equal(fixed, expected) and np.array_equal(new_conf, expected_conf)
        repaired += summary["joints_repaired"]
    assert repaired > 100 and np.array_equal(together[0][0][:, 7], people[0][0][:, 7])
