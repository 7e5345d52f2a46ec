"""Keypoint sets of the body backends, and their mapping onto the canonical rig's targets."""

from __future__ import annotations

import math

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


# SAM 3D Body's MHR70 keypoints (sam_3d_body/metadata/mhr70.py): COCO-17 body, 6 foot points, 2 x 21
# hand points (right hand first), olecranon, cubital fossa, acromion, neck. Indices we use:
M = {
    "nose": 0, "left_ear": 3, "right_ear": 4, "left_shoulder": 5, "right_shoulder": 6, "left_elbow": 7,
    "right_elbow": 8, "left_hip": 9, "right_hip": 10, "left_knee": 11, "right_knee": 12, "left_ankle": 13,
    "right_ankle": 14, "left_big_toe": 15, "left_small_toe": 16, "left_heel": 17, "right_big_toe": 18,
    "right_small_toe": 19, "right_heel": 20, "right_index_knuckle": 28, "right_pinky_knuckle": 40,
    "right_wrist": 41, "left_index_knuckle": 49, "left_pinky_knuckle": 61, "left_wrist": 62,
    "left_acromion": 67, "right_acromion": 68, "neck": 69,
}
MHR70_COUNT = 70

# (shoulders, hips) of each keypoint set: where its torso points in the picture
TORSO = {"blazepose33": ((B["left_shoulder"], B["right_shoulder"]), (B["left_hip"], B["right_hip"])),
         "mhr70": ((M["left_shoulder"], M["right_shoulder"]), (M["left_hip"], M["right_hip"]))}

# the legs of each keypoint set (knees, ankles and the feet's points): what a person in front hides first
LEGS = {"blazepose33": tuple(B[f"{side}_{part}"] for side in ("left", "right")
                             for part in ("knee", "ankle", "heel", "foot_index")),
        "mhr70": tuple(M[f"{side}_{part}"] for side in ("left", "right")
                       for part in ("knee", "ankle", "heel", "big_toe", "small_toe"))}

UPRIGHT_DEG = 45.0  # a torso this near upright in the picture stands upright


def torso_turn_deg(keypoints_2d: np.ndarray, keypoint_set: str = "blazepose33") -> np.ndarray:
    """Poses (..., K, 2) px -> (...) how far each torso (the hips' middle to the shoulders') is turned
    from upright in the picture, in degrees (0 upright, 180 on its head; NaN where it has no direction)."""
    shoulders, hips = TORSO[keypoint_set]
    k = np.asarray(keypoints_2d, dtype=np.float64)
    d = k[..., list(shoulders), :].mean(axis=-2) - k[..., list(hips), :].mean(axis=-2)
    turn = np.degrees(np.arctan2(np.abs(d[..., 0]), -d[..., 1]))
    return np.where(np.hypot(d[..., 0], d[..., 1]) > 0, turn, np.nan)  # shoulders on the hips: no direction


LYING_SHARE = 0.8  # the share of everyone's poses turned past UPRIGHT_DEG in the picture that says the video is
LYING_MIN_POSES = 10  # ... stored turned (of at least this many poses: a few frames of a fall or a roll say nothing)


def turned_video_rotation(keypoints_2d: list[np.ndarray], keypoint_set: str = "blazepose33") -> int | None:
    """Where most of everyone's poses (each person's (T, K, 2)) lie on their side or stand on their head in
    the picture, the clockwise turn of the frames that would stand them up (90: their heads point left,
    270: right, 180: down); None where most stand (or too few poses to say). A video stored turned without
    a display rotation: the people found in it are followed lying down, and a short track of a body that
    never stands up is dropped as a broken pose."""
    (ls, rs), (lh, rh) = TORSO[keypoint_set]
    poses = [np.asarray(p, dtype=np.float64) for p in keypoints_2d if np.size(p)]
    if sum(len(p) for p in poses) < LYING_MIN_POSES:
        return None
    k = np.concatenate(poses)  # (N, K, 2)
    d = (k[:, ls] + k[:, rs]) / 2 - (k[:, lh] + k[:, rh]) / 2  # hips to shoulders, picture px (y down)
    d = d[np.isfinite(d).all(axis=1) & (np.hypot(d[:, 0], d[:, 1]) > 0)]
    if len(d) < LYING_MIN_POSES:
        return None
    way = np.degrees(np.arctan2(d[:, 0], -d[:, 1]))  # 0: up, 90: right, -90: left, +-180: down
    if np.mean(np.abs(way) > UPRIGHT_DEG) < LYING_SHARE:
        return None
    heads = np.array([np.mean(np.abs(way + 90) <= 45), np.mean(np.abs(way - 90) <= 45), np.mean(np.abs(way) > 135)])
    return (90, 270, 180)[int(np.argmax(heads))]


def rotate_to_stand(turn: int, rotate: int, mirror: bool) -> int:
    """The --rotate (degrees clockwise of the stored frames, not mirrored) that stands up people who need
    the shown picture turned ``turn`` degrees clockwise, where the shown picture is the stored one turned
    ``rotate`` and then ``mirror``-ed: turning a mirrored picture clockwise turns its stored one the other way."""
    return ((rotate - turn) if mirror else (rotate + turn)) % 360


def turned_over(keypoints_2d: np.ndarray, limit_deg: float, keypoint_set: str = "blazepose33") -> bool:
    """One pose (K, 2) whose torso is turned more than ``limit_deg`` from upright in the picture: what
    :func:`torso_turn_deg` says, worked out on four points as Python floats (the tracker asks it of every
    pose, several times a frame; numpy's calls on a (33, 2) array cost 30 us, these 2)."""
    (ls, rs), (lh, rh) = TORSO[keypoint_set]
    k = keypoints_2d
    dx = (float(k[ls, 0]) + float(k[rs, 0])) / 2 - (float(k[lh, 0]) + float(k[rh, 0])) / 2
    dy = (float(k[ls, 1]) + float(k[rs, 1])) / 2 - (float(k[lh, 1]) + float(k[rh, 1])) / 2
    if not math.hypot(dx, dy) > 0:  # shoulders on the hips, or not finite: no direction, not turned over
        return False
    return math.degrees(math.atan2(abs(dx), -dy)) > limit_deg


def mhr70_rig_targets(points: np.ndarray, confidence: np.ndarray) -> RigTargets:
    """SAM 3D Body's MHR70 keypoints -> rig targets (the documented mapping).

    points (T, 70, 3) m, camera axes; confidence (T, 70) (SAM 3D Body gives none per keypoint: ones).
    pelvis = mid-hip; neck = MHR's neck point; spine1..3 at 1/4..3/4 of pelvis->neck; collars halfway
    from the neck to each acromion; head = mid-ear; toe joint (left/right_foot) = mid big/small toe;
    wrists and elbows, knees, ankles, shoulders direct; hand = mid index/pinky knuckle (first joints
    from the wrist). Foot forward = toes - heel; hand forward = index - pinky knuckle.
    """
    P = np.asarray(points, dtype=np.float64)
    C = np.asarray(confidence, dtype=np.float64)
    if P.ndim != 3 or P.shape[1:] != (MHR70_COUNT, 3):
        raise ValueError(f"MHR70 keypoints must be (T, 70, 3), got {P.shape}")

    def at(a):
        return P[:, M[a]], C[:, M[a]]

    def mid(a, b):
        return (P[:, M[a]] + P[:, M[b]]) / 2, np.minimum(C[:, M[a]], C[:, M[b]])

    lerp = lambda a, b, s: a + (b - a) * s  # noqa: E731
    pelvis, c_pelvis = mid("left_hip", "right_hip")
    neck, c_neck = at("neck")
    c_trunk = np.minimum(c_pelvis, c_neck)
    la, c_la = at("left_acromion")
    ra, c_ra = at("right_acromion")
    ltoe, c_ltoe = mid("left_big_toe", "left_small_toe")
    rtoe, c_rtoe = mid("right_big_toe", "right_small_toe")
    order = [
        (pelvis, c_pelvis), at("left_hip"), at("right_hip"), (lerp(pelvis, neck, 0.25), c_trunk),
        at("left_knee"), at("right_knee"), (lerp(pelvis, neck, 0.5), c_trunk), at("left_ankle"), at("right_ankle"),
        (lerp(pelvis, neck, 0.75), c_trunk), (ltoe, c_ltoe), (rtoe, c_rtoe), (neck, c_neck),
        (lerp(neck, la, 0.5), np.minimum(c_neck, c_la)), (lerp(neck, ra, 0.5), np.minimum(c_neck, c_ra)),
        mid("left_ear", "right_ear"), at("left_shoulder"), at("right_shoulder"), at("left_elbow"), at("right_elbow"),
        at("left_wrist"), at("right_wrist"), mid("left_index_knuckle", "left_pinky_knuckle"),
        mid("right_index_knuckle", "right_pinky_knuckle"),
    ]
    return RigTargets(
        joints=np.stack([o[0] for o in order], axis=1),
        confidence=np.stack([o[1] for o in order], axis=1),
        foot_forward=np.stack([ltoe - P[:, M["left_heel"]], rtoe - P[:, M["right_heel"]]], axis=1),
        hand_forward=np.stack([P[:, M["left_index_knuckle"]] - P[:, M["left_pinky_knuckle"]],
                               P[:, M["right_index_knuckle"]] - P[:, M["right_pinky_knuckle"]]], axis=1),
        head_left=P[:, M["left_ear"]] - P[:, M["right_ear"]],
    )


RIG_TARGETS = {"blazepose33": blazepose_rig_targets, "mhr70": mhr70_rig_targets}
