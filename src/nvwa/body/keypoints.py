"""Keypoint sets of the body backends, and their mapping onto the canonical rig's targets."""

from __future__ import annotations

import numpy as np

from nvwa.rig.fit import RigTargets

BLAZEPOSE33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
B = {name: i for i, name in enumerate(BLAZEPOSE33_NAMES)}


def blazepose_rig_targets(points: np.ndarray, visibility: np.ndarray) -> RigTargets:
    """BlazePose landmarks -> rig targets.

    points (T, 33, 3) m in any one frame (camera axes here), visibility (T, 33) -> RigTargets with
    SMPL-24 joints (T, 24, 3). Joints BlazePose has no landmark for are placed between ones it has:
    pelvis = mid-hip, neck = mid-shoulder, spine1..3 at 1/4..3/4 of pelvis->neck, collars a third of
    the way from the neck to each shoulder, head = mid-ear, hand = between index and pinky knuckles.
    """
    P = np.asarray(points, dtype=np.float64)
    V = np.asarray(visibility, dtype=np.float64)

    def mid(a, b):
        return (P[:, B[a]] + P[:, B[b]]) / 2, np.minimum(V[:, B[a]], V[:, B[b]])

    def at(a):
        return P[:, B[a]], V[:, B[a]]

    pelvis, c_pelvis = mid("left_hip", "right_hip")
    neck, c_neck = mid("left_shoulder", "right_shoulder")
    c_trunk = np.minimum(c_pelvis, c_neck)
    lerp = lambda a, b, s: a + (b - a) * s  # noqa: E731
    head, c_head = mid("left_ear", "right_ear")
    lhand, c_lhand = mid("left_index", "left_pinky")
    rhand, c_rhand = mid("right_index", "right_pinky")
    ls, c_ls = at("left_shoulder")
    rs, c_rs = at("right_shoulder")
    order = [
        (pelvis, c_pelvis), at("left_hip"), at("right_hip"), (lerp(pelvis, neck, 0.25), c_trunk),
        at("left_knee"), at("right_knee"), (lerp(pelvis, neck, 0.5), c_trunk), at("left_ankle"), at("right_ankle"),
        (lerp(pelvis, neck, 0.75), c_trunk), at("left_foot_index"), at("right_foot_index"), (neck, c_neck),
        (lerp(neck, ls, 1 / 3), c_ls), (lerp(neck, rs, 1 / 3), c_rs), (head, c_head), (ls, c_ls), (rs, c_rs),
        at("left_elbow"), at("right_elbow"), at("left_wrist"), at("right_wrist"), (lhand, c_lhand), (rhand, c_rhand),
    ]
    joints = np.stack([o[0] for o in order], axis=1)
    conf = np.stack([o[1] for o in order], axis=1)
    return RigTargets(
        joints=joints,
        confidence=conf,
        foot_forward=np.stack([P[:, B["left_foot_index"]] - P[:, B["left_heel"]],
                               P[:, B["right_foot_index"]] - P[:, B["right_heel"]]], axis=1),
        hand_forward=np.stack([P[:, B["left_index"]] - P[:, B["left_pinky"]],
                               P[:, B["right_index"]] - P[:, B["right_pinky"]]], axis=1),
        head_left=P[:, B["left_ear"]] - P[:, B["right_ear"]],
    )
