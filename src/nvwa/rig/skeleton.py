"""The canonical skeleton: the 24 SMPL joints, in SMPL's order and names, with a rest (T-)pose.

Rest frame (SMPL's): Y up, +Z the way the body faces, +X the body's left. A joint's rotation turns
the bones to its children: child position = joint position + R_global(joint) @ rest offset(child).
Rotations are quaternions (x, y, z, w), scipy's order.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

SMPL24_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)
SMPL24_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
JOINT = {name: i for i, name in enumerate(SMPL24_NAMES)}

# Unit direction of the bone from each joint's parent to it, in the rest pose.
_d = lambda *v: np.array(v, dtype=np.float64) / np.linalg.norm(v)  # noqa: E731
REST_DIRECTIONS = np.array([
    (0, 0, 0), _d(1, 0, 0), _d(-1, 0, 0), _d(0, 1, 0), _d(0, -1, 0), _d(0, -1, 0), _d(0, 1, 0),
    _d(0, -1, 0), _d(0, -1, 0), _d(0, 1, 0), _d(0, -0.5, 1), _d(0, -0.5, 1), _d(0, 1, 0),
    _d(0.6, 1, 0), _d(-0.6, 1, 0), _d(0, 1, 0), _d(1, 0, 0), _d(-1, 0, 0), _d(1, 0, 0), _d(-1, 0, 0),
    _d(1, 0, 0), _d(-1, 0, 0), _d(1, 0, 0), _d(-1, 0, 0),
])
CHILDREN = tuple(tuple(c for c, p in enumerate(SMPL24_PARENTS) if p == j) for j in range(24))


def rest_offsets(bone_lengths: np.ndarray, rest_directions: np.ndarray | None = None) -> np.ndarray:
    """bone_lengths (24,) m (entry j: parent(j) -> j; pelvis 0), rest_directions (24, 3) unit (default
    the canonical T-pose's) -> rest offsets (24, 3) m."""
    dirs = REST_DIRECTIONS if rest_directions is None else rest_directions
    return dirs * np.asarray(bone_lengths, dtype=np.float64)[:, None]


def global_rotations(local_quat: np.ndarray) -> np.ndarray:
    """local_quat (T, 24, 4) xyzw -> global rotation matrices (T, 24, 3, 3)."""
    T = local_quat.shape[0]
    local = Rotation.from_quat(local_quat.reshape(-1, 4)).as_matrix().reshape(T, 24, 3, 3)
    glob = np.empty_like(local)
    for j, p in enumerate(SMPL24_PARENTS):
        glob[:, j] = local[:, j] if p < 0 else glob[:, p] @ local[:, j]
    return glob


def relative_rotation(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Global rotation matrices (..., 3, 3) of a parent and a child -> the child's local rotation
    relative to the parent as quaternions (..., 4) xyzw."""
    local = np.swapaxes(parent, -1, -2) @ child
    return Rotation.from_matrix(local.reshape(-1, 3, 3)).as_quat().reshape(*local.shape[:-2], 4)


def local_from_global_matrices(glob: np.ndarray) -> np.ndarray:
    """Global rotation matrices (T, 24, 3, 3) -> local quaternions (T, 24, 4) relative to the parent."""
    out = np.empty(glob.shape[:2] + (4,))
    for j, p in enumerate(SMPL24_PARENTS):
        out[:, j] = Rotation.from_matrix(glob[:, j]).as_quat() if p < 0 else relative_rotation(glob[:, p], glob[:, j])
    return out


def local_from_global(global_quat: np.ndarray) -> np.ndarray:
    """global_quat (T, 24, 4) xyzw (each joint's rotation in the root's frame of reference) -> local
    quaternions (T, 24, 4) relative to the parent."""
    T = global_quat.shape[0]
    return local_from_global_matrices(Rotation.from_quat(global_quat.reshape(-1, 4)).as_matrix().reshape(T, 24, 3, 3))


def forward_kinematics(local_quat: np.ndarray, root_position: np.ndarray, bone_lengths: np.ndarray,
                       rest_directions: np.ndarray | None = None) -> np.ndarray:
    """local_quat (T, 24, 4), root_position (T, 3) m, bone_lengths (24,) m, rest_directions (24, 3)
    -> joints (T, 24, 3) m."""
    glob = global_rotations(local_quat)
    offsets = rest_offsets(bone_lengths, rest_directions)
    joints = np.empty(local_quat.shape[:2] + (3,))
    joints[:, 0] = root_position
    for j in range(1, 24):
        p = SMPL24_PARENTS[j]
        joints[:, j] = joints[:, p] + glob[:, p] @ offsets[j]
    return joints
