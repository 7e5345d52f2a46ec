"""Phase 3b, footskate removal: a foot in contact stays planted, and nothing goes below the floor.

For each contact, the foot's anchor is where it stood on average. Each frame of the contact (and a
short blend before and after it) moves the ankle to the anchor with a two-bone IK on hip-knee-ankle,
keeping the knee in its own bending plane and the foot's orientation; if the leg cannot reach, the
pelvis moves by what is missing. Last, any frame with an ankle or toe below Y=0 is lifted.
All positions are world metres, floor at Y=0.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.spatial.transform import Rotation

from nvwa.rig.motion import RigMotion
from nvwa.rig.skeleton import JOINT, PARENT_INDEX, global_rotations, joints_from_global, quaternions
from nvwa.smoothing.foot_contact import contact_segments

LEGS = (("left_hip", "left_knee", "left_ankle", "left_foot"), ("right_hip", "right_knee", "right_ankle", "right_foot"))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3), (N, 3) -> (N, 3, 3) the smallest rotations taking direction a onto direction b."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1)
    angle = np.arctan2(s, np.sum(a * b, axis=-1))
    rotvec = _unit(axis) * angle[:, None]
    rotvec[s < 1e-12] = 0.0
    return Rotation.from_rotvec(rotvec).as_matrix()


def _blend_weights(contact: np.ndarray, t: np.ndarray, blend_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(T,) weight of the planted target (1 inside a contact, ramping to 0 over ``blend_s`` outside)
    and (T,) the contact segment each frame's weight belongs to (-1: none)."""
    T = len(contact)
    w = np.zeros(T)
    owner = np.full(T, -1)
    for k, (a, b) in enumerate(contact_segments(contact)):
        w[a:b] = 1.0
        owner[a:b] = k
        for i in range(a - 1, -1, -1):
            d = t[a] - t[i]
            if d >= blend_s or w[i] >= 1.0:
                break
            x = _smootherstep(1.0 - d / blend_s)
            if x > w[i]:
                w[i], owner[i] = x, k
        for i in range(b, T):
            d = t[i] - t[b - 1]
            if d >= blend_s or w[i] >= 1.0:
                break
            x = _smootherstep(1.0 - d / blend_s)
            if x > w[i]:
                w[i], owner[i] = x, k
    return w, owner


def smooth_envelope(need: np.ndarray, t: np.ndarray, window_s: float = 0.2) -> np.ndarray:
    """A smooth curve never below ``need`` (T,): a running maximum over 2w, then two box averages of
    width w (each output averages maxima that all cover its own frame, so it stays >= need)."""
    if len(need) < 3 or not need.any():
        return need.copy()
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    w = max(int(round(window_s / max(dt, 1e-6))) | 1, 3)
    m = maximum_filter1d(need, 2 * w - 1, mode="nearest")
    out = uniform_filter1d(uniform_filter1d(m, w, mode="nearest"), w, mode="nearest")
    # the box filters are running sums: where every value they average is 0 they leave a rounding
    # residue (+-1e-17 m), and a positive one would turn the IK on for a frame that needs nothing
    out[maximum_filter1d(m, 2 * w - 1, mode="nearest") == 0] = 0.0
    return np.maximum(out, need)  # exact at the clip's ends, where "nearest" padding can undercut


def _smootherstep(x: float) -> float:
    """0 -> 1 with zero first and second derivatives at both ends: a blend that adds no jerk spike."""
    return x * x * x * (x * (6 * x - 15) + 10)


def lock_pelvis_height(motion: RigMotion, t: np.ndarray, contact: np.ndarray, *, blend_s: float = 0.1,
                       min_s: float = 0.3, max_lean_deg: float = 25.0) -> tuple[RigMotion, dict]:
    """While both feet are planted and the body is upright, the pelvis keeps one height (the median of
    that stance) instead of bobbing with the depth noise; blended in and out. World frame, Y up.
    The legs follow when the feet are planted afterwards (two-bone IK)."""
    t = np.asarray(t, dtype=np.float64)
    j = motion.joints()
    spine = j[:, JOINT["neck"]] - j[:, JOINT["pelvis"]]
    upright = spine[:, 1] >= np.cos(np.radians(max_lean_deg)) * np.linalg.norm(spine, axis=1)
    standing = contact[:, 0] & contact[:, 1] & upright
    for a, b in contact_segments(standing):
        if t[b - 1] - t[a] < min_s:
            standing[a:b] = False
    w, owner = _blend_weights(standing, t, blend_s)
    root = motion.root_position.copy()
    levels = [float(np.median(root[a:b, 1])) for a, b in contact_segments(standing)]
    m = owner >= 0
    moved = 0.0
    if m.any():
        target = np.array(levels)[owner[m]]
        new_y = (1 - w[m]) * root[m, 1] + w[m] * target
        moved = float(np.max(np.abs(new_y - root[m, 1])))
        root[m, 1] = new_y
    return motion.moved(root_position=root), {"pelvis_locked_frames": int(standing.sum()), "pelvis_max_move_m": round(moved, 4)}


def _ankle_target(joints: np.ndarray, contact: np.ndarray, t: np.ndarray, blend_s: float, names) -> tuple[np.ndarray, np.ndarray]:
    """One leg: where its ankle should be per frame (held at each contact's anchor, blended in and out,
    raised out of the floor) and how much the IK should act (0-1) -> (target (T, 3), weight (T,))."""
    _, _, ankle, foot = (JOINT[n] for n in names)
    w, owner = _blend_weights(contact, t, blend_s)
    anchors = []
    for a, b in contact_segments(contact):
        anchor = joints[a:b, ankle].mean(axis=0)
        # the toe rests on the floor: the ankle stands as high above it as it does above the toe
        anchor[1] = max(float(np.mean(joints[a:b, ankle, 1] - joints[a:b, foot, 1])), 0.0)
        anchors.append(anchor)
    target = joints[:, ankle].copy()
    m = owner >= 0
    if m.any():
        anchor_of = np.array(anchors)[owner[m]]
        target[m] = (1 - w[m, None]) * joints[m, ankle] + w[m, None] * anchor_of
    # no penetration: the foot's lowest point (ankle or toe; the foot keeps its orientation, so the
    # toe stays where it is relative to the ankle) must not go below Y=0. The ankle is raised by a
    # smooth envelope of what is missing, so noise in the feet does not become jerk in the legs.
    below = np.minimum(joints[:, foot, 1] - joints[:, ankle, 1], 0.0)
    raise_by = smooth_envelope(np.clip(-(target[:, 1] + below), 0.0, None), t)
    target[:, 1] += raise_by
    return target, np.maximum(w, np.minimum(raise_by / 1e-3, 1.0))


def _pelvis_shift(motion: RigMotion, joints: np.ndarray, targets) -> np.ndarray:
    """(T, 3): the pelvis moves only when a leg cannot reach its ankle's target, by what is missing."""
    shift = np.zeros((len(joints), 3))
    for side, names in enumerate(LEGS):
        hip, knee, ankle, _ = (JOINT[n] for n in names)
        reach = motion.bone_lengths[knee] + motion.bone_lengths[ankle] - 1e-4
        d = targets[side] - joints[:, hip]
        excess = np.clip(np.linalg.norm(d, axis=1) - reach, 0.0, None)
        shift += _unit(d) * excess[:, None]
    return uniform_filter1d(uniform_filter1d(shift, 3, axis=0, mode="nearest"), 3, axis=0, mode="nearest")


def _leg_ik(motion: RigMotion, joints: np.ndarray, G: np.ndarray, act: np.ndarray, A_t: np.ndarray, names) -> float:
    """Two-bone IK of one leg on the frames ``act``: hip and knee turned so the ankle reaches ``A_t``,
    the knee bending the way it did, the foot keeping its orientation (its global rotation stays);
    writes the new global rotations into ``G`` -> largest move (m)."""
    hip, knee, ankle, _ = (JOINT[n] for n in names)
    H, K, A = joints[act, hip], joints[act, knee], joints[act, ankle]
    L1, L2 = motion.bone_lengths[knee], motion.bone_lengths[ankle]
    d = np.clip(np.linalg.norm(A_t - H, axis=1), 1e-6, L1 + L2 - 1e-6)
    u = _unit(A_t - H)
    # keep the knee on the side it was bending to
    side_dir = (K - H) - np.sum((K - H) * u, axis=1, keepdims=True) * u
    fallback = G[act, hip] @ np.array([0.0, 0.0, 1.0])  # knees bend forward
    fallback = fallback - np.sum(fallback * u, axis=1, keepdims=True) * u
    use_fb = np.linalg.norm(side_dir, axis=1) < 1e-6
    v = _unit(np.where(use_fb[:, None], fallback, side_dir))
    cos_a = np.clip((L1 ** 2 + d ** 2 - L2 ** 2) / (2 * L1 * d), -1.0, 1.0)
    K_new = H + L1 * (cos_a[:, None] * u + np.sqrt(1 - cos_a ** 2)[:, None] * v)
    R1 = _swing(K - H, K_new - H)
    R2 = _swing(np.einsum("nij,nj->ni", R1, A - K), A_t - K_new)
    G_hip, G_knee = R1 @ G[act, hip], R2 @ R1 @ G[act, knee]
    G[act, hip], G[act, knee] = G_hip, G_knee
    return float(np.max(np.linalg.norm(A_t - A, axis=1)))


def plant_feet(motion: RigMotion, t: np.ndarray, contact: np.ndarray, *, blend_s: float = 0.1,
               global_rotations_: np.ndarray | None = None) -> tuple[RigMotion, dict]:
    """motion in the world frame, t (T,) s, contact (T, 2) bool (left, right) -> (motion, summary).
    ``global_rotations_``: the motion's global rotations where the caller has them already."""
    t = np.asarray(t, dtype=np.float64)
    root = motion.root_position.copy()
    joints = motion.joints()  # the motion's own FK, computed once
    G = global_rotations(motion.local_rotations) if global_rotations_ is None else global_rotations_
    T = len(t)
    targets, weights = zip(*(_ankle_target(joints, contact[:, side], t, blend_s, names) for side, names in enumerate(LEGS)))
    shift = _pelvis_shift(motion, joints, targets)
    root += shift
    joints = joints + shift[:, None, :]
    local = motion.local_rotations.copy()
    G_new = G.copy()
    max_move = 0.0
    for side, names in enumerate(LEGS):
        act = weights[side] > 0
        if act.any():
            max_move = max(max_move, _leg_ik(motion, joints, G_new, act, targets[side][act], names))
    # the legs' joints' local rotations from their new global ones, for every frame either leg moved, at once
    moved = (weights[0] > 0) | (weights[1] > 0)
    legs = np.array([JOINT[n] for leg in LEGS for n in leg[:3]])
    if moved.any():
        Gm = G_new[moved]
        local[np.ix_(moved, legs)] = quaternions(np.swapaxes(Gm[:, PARENT_INDEX[legs]], -1, -2) @ Gm[:, legs])
    out = joints_from_global(G_new, root, motion.bone_lengths, motion.rest_directions)
    feet = [JOINT[n] for leg in LEGS for n in leg[2:]]
    lift = smooth_envelope(np.clip(-out[:, feet, 1].min(axis=1), 0.0, None), t)  # what the legs could not do
    root[:, 1] += lift
    planted = motion.moved(local, root)
    out[:, :, 1] += lift[:, None]
    planted._carry(out)  # its forward kinematics, already done above
    return planted, {
        "contacts": [len(contact_segments(contact[:, s])) for s in range(2)],
        "contact_frames": [int(contact[:, s].sum()) for s in range(2)],
        "max_correction_m": round(max_move, 4),
        "pelvis_moved_frames": int((np.linalg.norm(shift, axis=1) > 1e-6).sum()),
        "frames_lifted": int((lift > 0).sum()),
        "max_lift_m": round(float(lift.max()) if T else 0.0, 4),
    }
