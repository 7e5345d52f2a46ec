"""The canonical rig: forward kinematics, bone-length lock, and fitting rotations back from positions."""

import numpy as np
from scipy.spatial.transform import Rotation

from nvwa.rig import SMPL24_NAMES, SMPL24_PARENTS, RigTargets, fit_rig, forward_kinematics, lock_bone_lengths
from nvwa.rig.motion import RigMotion
from nvwa.rig.skeleton import JOINT

LENGTHS = np.array([0, .1, .1, .12, .4, .4, .12, .4, .4, .12, .14, .14, .1, .08, .08, .15, .1, .1, .26, .26, .25, .25, .08, .08])


def test_smpl_names_and_order():
    assert SMPL24_NAMES[0] == "pelvis" and SMPL24_NAMES[10] == "left_foot" and SMPL24_NAMES[11] == "right_foot"
    assert len(SMPL24_PARENTS) == 24 and SMPL24_PARENTS[0] == -1


def test_rest_pose_is_a_t_pose_standing_up():
    q = np.tile([0, 0, 0, 1.0], (1, 24, 1))
    j = forward_kinematics(q, np.zeros((1, 3)), LENGTHS)[0]
    assert j[JOINT["head"], 1] > j[JOINT["neck"], 1] > 0 > j[JOINT["left_ankle"], 1]
    assert j[JOINT["left_wrist"], 0] > 0.5 and j[JOINT["right_wrist"], 0] < -0.5  # +X is the body's left
    assert j[JOINT["left_foot"], 2] > j[JOINT["left_ankle"], 2]  # feet point forward (+Z)


def _random_motion(T=20, seed=0):
    rng = np.random.default_rng(seed)
    q = Rotation.from_rotvec(rng.normal(scale=0.35, size=(T * 24, 3))).as_quat().reshape(T, 24, 4)
    q[:, [10, 11, 15, 22, 23]] = [0, 0, 0, 1]  # leaves have no bone of their own to turn
    root = rng.normal(size=(T, 3))
    return q, root


def _targets_from(joints, q, root):
    T = len(joints)
    from nvwa.rig.skeleton import global_rotations

    G = global_rotations(q)
    fwd = lambda j: G[:, j] @ np.array([0, 0, 1.0])  # noqa: E731
    left = lambda j: G[:, j] @ np.array([1.0, 0, 0])  # noqa: E731
    return RigTargets(
        joints=joints, confidence=np.ones((T, 24)),
        foot_forward=np.stack([fwd(JOINT["left_ankle"]), fwd(JOINT["right_ankle"])], 1),
        hand_forward=np.stack([fwd(JOINT["left_wrist"]), fwd(JOINT["right_wrist"])], 1),
        head_left=left(JOINT["neck"]),
    )


def test_fit_reproduces_the_joint_positions_it_was_given():
    q, root = _random_motion()
    joints = forward_kinematics(q, root, LENGTHS)
    motion = fit_rig(_targets_from(joints, q, root), LENGTHS)
    assert motion.local_rotations.shape == (20, 24, 4)
    assert np.allclose(np.linalg.norm(motion.local_rotations, axis=-1), 1.0)
    err = np.linalg.norm(motion.joints() - joints, axis=-1)
    assert err.max() < 1e-6


def test_bone_lengths_are_locked_from_a_robust_estimate():
    q, root = _random_motion(T=50)
    joints = forward_kinematics(q, root, LENGTHS)
    noisy = joints.copy()
    noisy[::10, JOINT["left_knee"]] += 0.5  # an outlier frame every 10
    conf = np.ones((50, 24))
    conf[5, :] = 0.0  # a frame nobody trusts
    lengths = lock_bone_lengths(noisy, conf)
    assert abs(lengths[JOINT["spine1"]] - LENGTHS[JOINT["spine1"]]) < 1e-9
    assert abs(lengths[JOINT["left_ankle"]] - 0.4) < 0.06  # trimmed mean shrugs off the outliers
    assert lengths[JOINT["left_knee"]] == lengths[JOINT["right_knee"]]  # symmetric


def test_fitted_motion_keeps_locked_bone_lengths_every_frame():
    q, root = _random_motion(T=10, seed=3)
    joints = forward_kinematics(q, root, LENGTHS)
    rng = np.random.default_rng(0)
    noisy = joints + rng.normal(scale=0.02, size=joints.shape)
    motion = fit_rig(_targets_from(noisy, q, root))
    out = motion.joints()
    for j in range(1, 24):
        d = np.linalg.norm(out[:, j] - out[:, SMPL24_PARENTS[j]], axis=-1)
        assert np.allclose(d, motion.bone_lengths[j])


def test_fit_learns_this_persons_shoulder_spread():
    """Collars leave the chest at an angle that differs from person to person; the fit measures it."""
    from nvwa.rig.skeleton import REST_DIRECTIONS

    q, root = _random_motion(T=15, seed=5)
    dirs = REST_DIRECTIONS.copy()
    dirs[JOINT["left_collar"]] = np.array([0.9, 0.3, -0.1]) / np.linalg.norm([0.9, 0.3, -0.1])
    dirs[JOINT["right_collar"]] = np.array([-0.9, 0.3, -0.1]) / np.linalg.norm([0.9, 0.3, -0.1])
    joints = forward_kinematics(q, root, LENGTHS, dirs)
    motion = fit_rig(_targets_from(joints, q, root), LENGTHS)
    assert np.abs(motion.joints() - joints).max() < 1e-6
    assert np.allclose(motion.rest_directions[JOINT["left_collar"]], dirs[JOINT["left_collar"]], atol=1e-6)


def test_joints_carried_through_a_root_move_and_a_change_of_frame_equal_forward_kinematics():
    """RigMotion carries computed joints along when only the root moves or the whole motion changes
    frame (both exact for forward kinematics): what it carries must be what FK gives afresh."""
    rng = np.random.default_rng(7)
    T = 30
    q = Rotation.from_rotvec(rng.normal(scale=0.4, size=(T * 24, 3))).as_quat().reshape(T, 24, 4)
    m = RigMotion(rng.uniform(0.05, 0.4, 24), q, rng.normal(size=(T, 3)))
    m.joints()
    R, t = Rotation.from_rotvec([0.3, -1.2, 0.5]).as_matrix(), np.array([1.0, 2.0, -3.0])
    for carried in (m.moved(root_position=m.root_position + rng.normal(size=(T, 3))), m.in_frame(R, t)):
        fresh = RigMotion(carried.bone_lengths, carried.local_rotations, carried.root_position, carried.rest_directions)
        assert carried._joints is not None
        assert np.allclose(carried.joints(), fresh.joints(), atol=1e-12)


def test_fitting_everyone_at_once_equals_fitting_each_alone():
    """Real clips, degraded (12 people, 666 frames: the solve runs in pieces of 256 frames across
    people's edges): each person's rotations, rest spread and joints exactly as fitted alone."""
    from mocap_people import degraded_people
    from motion_quality import people_targets

    from nvwa.rig import fit_rigs

    targets = people_targets(degraded_people(seed=4))
    together = fit_rigs([tg for tg, _ in targets], [lengths for _, lengths in targets])
    for (tg, lengths), m in zip(targets, together):
        alone = fit_rig(tg, lengths)
        assert np.array_equal(m.local_rotations, alone.local_rotations) and np.array_equal(m.rest_directions, alone.rest_directions)
        assert np.array_equal(m.joints(), alone.joints())
        assert np.abs(m.joints() - tg.joints)[:, [1, 2, 4, 5, 16, 17, 18, 19]].mean() < 0.05  # close to what it was fitted to


def test_a_fitted_motion_carries_the_global_rotations_its_local_ones_came_from():
    """The rig fit hands its global rotations on (phase 2 filters those): they are the local ones' composed
    down the tree (one rotation; q and -q alike); a motion made anew (other rotations, turned into another
    frame) computes its own, never the old one's."""
    from mocap_people import degraded_people
    from motion_quality import people_targets

    from nvwa.rig import fit_rigs
    from nvwa.rig.motion import in_frames
    from nvwa.rig.skeleton import global_quaternions

    targets = people_targets(degraded_people(seed=4)[:3])
    for m in fit_rigs([tg for tg, _ in targets], [lengths for _, lengths in targets]):
        assert m._global is not None  # handed on by the fit, before anyone asks
        carried = m.global_quaternions()
        assert m._global is carried and not carried.flags.writeable
        dot = np.abs(np.sum(carried * global_quaternions(m.local_rotations), axis=-1))
        assert np.allclose(dot, 1.0, atol=1e-12)
        still = m.moved(local_rotations=np.roll(m.local_rotations, 1, axis=0))
        assert np.allclose(np.abs(np.sum(still.global_quaternions() * global_quaternions(still.local_rotations), axis=-1)), 1.0, atol=1e-12)
        assert m.moved(root_position=m.root_position + 1.0)._global is carried  # the same rotations
        turned = in_frames([m], [Rotation.from_rotvec([0.0, 0.5, 0.0]).as_matrix()], [np.zeros(3)])[0]
        assert turned._global is None and np.array_equal(turned.global_quaternions(), global_quaternions(turned.local_rotations))


def test_quaternion_routes_equal_the_matrix_routes():
    """Global rotations composed as quaternions are the matrices' rotations; local ones from them are
    what scipy's matrix conversion gives, sign included (its largest component positive); the legs'
    chain alone is those joints' columns of the whole tree's."""
    from nvwa.rig.skeleton import global_quaternions, global_rotations, local_from_global, quaternions

    q, _ = _random_motion(T=40, seed=5)
    G = global_rotations(q)
    assert np.allclose(Rotation.from_quat(global_quaternions(q).reshape(-1, 4)).as_matrix().reshape(G.shape), G, atol=1e-12)
    parent = np.array(SMPL24_PARENTS[1:])
    local = np.concatenate([G[:, :1], np.swapaxes(G[:, parent], -1, -2) @ G[:, 1:]], axis=1)
    assert np.allclose(local_from_global(quaternions(G)), quaternions(local), atol=1e-12)
    tie = np.tile([0.0, 0.0, 0.0, 1.0], (2, 24, 1))  # components equal in size: the first of them decides the sign
    tie[0, 1], tie[1, 1] = [-0.5, 0.5, 0.5, 0.5], [0.5, -0.5, -0.5, -0.5]
    assert np.array_equal(local_from_global(tie)[:, 1], [[0.5, -0.5, -0.5, -0.5]] * 2)
    chain = [0, 1, 2, 4, 5, 7, 8]
    assert np.array_equal(global_rotations(q, chain), G[:, chain])


def test_forward_kinematics_and_frame_changes_for_many_motions_equal_each():
    from nvwa.rig.motion import carry_joints, in_frames

    rng = np.random.default_rng(8)
    motions = []
    for T in (300, 0, 1, 120):  # more frames than a piece of the per-frame math, and none
        q, root = _random_motion(T=T, seed=T)
        motions.append(RigMotion(rng.uniform(0.05, 0.4, 24), q, root))
    carry_joints(motions)
    for m in motions:
        assert (m._joints is not None or not len(m.root_position)) and np.array_equal(m.joints(), forward_kinematics(m.local_rotations, m.root_position, m.bone_lengths))
    from nvwa.rig.skeleton import global_quaternions

    fresh = [RigMotion(m.bone_lengths, m.local_rotations, m.root_position) for m in motions]
    carry_joints(fresh, [global_quaternions(m.local_rotations) for m in fresh])  # from global rotations the caller has
    for m, f in zip(motions, fresh):
        assert np.allclose(f.joints(), m.joints(), rtol=0, atol=1e-12)
    Rs = [Rotation.from_rotvec(rng.normal(size=3)).as_matrix() for _ in motions]
    ts = [rng.normal(size=3) for _ in motions]
    for m, moved, R, t in zip(motions, in_frames(motions, Rs, ts), Rs, ts):
        alone = m.in_frame(R, t)
        assert np.array_equal(moved.local_rotations, alone.local_rotations) and np.array_equal(moved.joints(), alone.joints())


def test_small_matrix_products_written_out_equal_numpys():
    """matmul3, the 3x3 products entry by entry, is numpy's matmul to rounding: stacks, broadcasting, views
    of transposes and gathers (the layouts the rig hands it)."""
    from nvwa.rig.segments import matmul3

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 7, 3, 3)), rng.normal(size=(50, 7, 3, 3))
    for x, y in ((a, b), (np.swapaxes(a, -1, -2), b), (a[:, [2, 0, 5]], np.take(b, [1, 1, 6], axis=1)), (a, b[0]), (a[0, 0], b)):
        got = matmul3(x, y)
        assert got.shape == (x @ y).shape and np.allclose(got, x @ y, rtol=0, atol=1e-14)
