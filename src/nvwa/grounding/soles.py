"""People stood on their soles: a planted foot lies flat, and the soles of the body (or, without the
human body asset, a heel and a ball point under each ankle) rest on the floor or the support under them
while a foot is planted, and never go through it. The last step of reconstruction, in the world frame."""

from __future__ import annotations

import numpy as np

from nvwa.rig.motion import RigMotion
from nvwa.rig.segments import in_chunks
from nvwa.rig.skeleton import JOINT, global_rotations

FEET = [JOINT["left_ankle"], JOINT["left_foot"], JOINT["right_ankle"], JOINT["right_foot"]]


def human_body_asset(models_dir: str | None = None):
    """The human body asset when `nvwa models fetch` built it in ``models_dir`` (default: the usual
    place) (the soles people stand on), else None."""
    from nvwa.body.human import load_human_body
    from nvwa.errors import ModelMissingError
    from nvwa.models.store import human_body_path

    try:
        return load_human_body(human_body_path(models_dir))
    except ModelMissingError:
        return None


def flat_planted_feet(m: RigMotion, t: np.ndarray, contact: np.ndarray, blend_s: float = 0.1) -> RigMotion:
    """A planted foot lies flat: while a foot is in contact its ankle keeps only its heading (the turn about
    the vertical) and its toes line up with it, blended in and out over ``blend_s``. The body model's feet
    point down or up by a few degrees of noise; a flat sole is what stands on a floor."""
    from scipy.spatial.transform import Rotation

    from nvwa.rig.skeleton import SMPL24_PARENTS

    G = global_rotations(m.local_rotations)
    local = m.local_rotations.copy()
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1 / 30
    k = max(1, int(round(blend_s / dt)))
    for side, (ankle, toe) in enumerate(((JOINT["left_ankle"], JOINT["left_foot"]), (JOINT["right_ankle"], JOINT["right_foot"]))):
        # centred over 2k + 1 frames; "full" cut to T (numpy's "same" is as long as the kernel on a shorter track)
        w = np.convolve(np.asarray(contact[:, side], dtype=float), np.ones(2 * k + 1) / (2 * k + 1))[k:k + len(t)]
        if not (w > 0).any():
            continue
        fwd = G[:, ankle] @ np.array([0.0, 0.0, 1.0])
        yaw = Rotation.from_euler("y", np.arctan2(fwd[:, 0], fwd[:, 2])[:, None])
        now = Rotation.from_matrix(G[:, ankle])
        flat = now * Rotation.from_rotvec((now.inv() * yaw).as_rotvec() * w[:, None])  # slerp now -> yaw by w
        parent = Rotation.from_matrix(G[:, SMPL24_PARENTS[ankle]])
        local[:, ankle] = (parent.inv() * flat).as_quat()
        toe_now = Rotation.from_quat(local[:, toe])
        local[:, toe] = (toe_now * Rotation.from_rotvec(-toe_now.as_rotvec() * w[:, None])).as_quat()
    return m.moved(local_rotations=local)


def on_soles(m: RigMotion, t: np.ndarray, contact: np.ndarray, supports: list, body=None, near_m: float = 0.1,
             max_flight_s: float = 1.5) -> RigMotion:
    """The person raised or lowered so the soles of their body rest on the floor or their support while a
    foot is planted or the lowest sole is within ``near_m`` of it, and never go through it: the rig's joints
    stand on the soles, not the soles under the floor. Frames between those (in the air) keep the
    correction of the frames around them, so a jump's flight keeps its height, unless they last longer
    than ``max_flight_s``. ``body``: a HumanBody, whose fitted sole vertices are posed by the rig (linear
    blend skinning, as the GLB's players do); without one, a heel and a ball point under each ankle stand
    for them."""
    from nvwa.body.human import BALL_SOLE, HEEL_SOLE
    from nvwa.export.avatar import rest_joint_positions
    from nvwa.grounding.scale import stature_from_bones
    from nvwa.runs import true_runs
    from nvwa.smoothing.one_euro import OneEuroConfig, one_euro_zero_lag

    if len(t) == 0:
        return m
    st = stature_from_bones(m.bone_lengths)
    J0 = m.joints()
    # a foot within 8 cm of the floor (its heel sole or its toe) is planted or about to be: it lies flat
    near = np.stack([np.minimum(J0[:, a, 1] + HEEL_SOLE[1] * st, J0[:, f, 1]) < 0.08
                     for a, f in ((JOINT["left_ankle"], JOINT["left_foot"]), (JOINT["right_ankle"], JOINT["right_foot"]))], axis=1)
    m = flat_planted_feet(m, t, np.asarray(contact, dtype=bool) | near)
    G, J = global_rotations(m.local_rotations), m.joints()
    if body is not None:
        verts, joints, weights = body.fit(m.bone_lengths, m.rest_directions, st).soles()
        rest = rest_joint_positions(m.bone_lengths, m.rest_directions)

        def lowest(G, J):  # the soles posed on a piece of the frames (~40 KB a frame: a long take in one go would not fit)
            return sum(weights[None, :, k] * (np.einsum("tsj,sj->ts", G[:, joints[:, k], 1], verts - rest[joints[:, k]])
                                              + J[:, joints[:, k], 1]) for k in range(joints.shape[1])).min(axis=1)
        low_y = in_chunks(lowest, G, J)
    else:
        low_y = np.min([(J[:, a] + G[:, a] @ (off * st))[:, 1] for a in (JOINT["left_ankle"], JOINT["right_ankle"])
                        for off in (HEEL_SOLE, BALL_SOLE)], axis=0)
    low_y = np.minimum(low_y, J[:, FEET, 1].min(axis=1))  # nor the rig's own ankles and toes
    level = np.zeros(len(t))
    for s in supports:
        level[(t >= s["start_s"]) & (t <= s["end_s"])] = s["height_m"]
    low = low_y - level
    # where a foot is planted, or the lowest sole is within ``near_m`` of the floor (a walker always has a
    # foot down; the rest is noise in the legs' height), the soles are put on it; between such frames
    # (a jump's flight) the correction is carried over from both sides. Longer in the air than any
    # jump's flight (a 1-m jump is 0.9 s; a 2-m drop 0.64 s, and the landing's smoothing lags 0.3 s) is not a
    # flight but a body placed too high: it is put down too
    grounded = np.asarray(contact, dtype=bool).any(axis=1) | (low < near_m)
    for a, b in true_runs(~grounded):
        if t[b - 1] - t[max(a - 1, 0)] > max_flight_s:
            grounded[a:b] = True
    if grounded.any():
        at = np.flatnonzero(grounded)
        lift = np.maximum(np.interp(t, t[at], -low[at]), -low)
    else:
        lift = np.maximum(-low, 0.0)
    if len(t) > 2:
        lift = one_euro_zero_lag(lift, t, OneEuroConfig(min_cutoff=2.0, beta=0.0))
        lift = np.maximum(lift, -low)  # smoothing must not push a sole through the floor
    root = m.root_position.copy()
    root[:, 1] += lift
    return m.moved(root_position=root)


__all__ = ["FEET", "flat_planted_feet", "human_body_asset", "on_soles"]
