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


def _levels() -> tuple[np.ndarray, ...]:
    """The joints below the root grouped by depth in the tree: each group's parents are all in earlier
    groups, so a chain through the skeleton is 8 batched steps instead of 23."""
    depth = [0] * 24
    for j, p in enumerate(SMPL24_PARENTS):
        depth[j] = 0 if p < 0 else depth[p] + 1
    return tuple(np.array([j for j in range(24) if depth[j] == d]) for d in range(1, max(depth) + 1))


LEVELS = _levels()
PARENT_INDEX = np.array(SMPL24_PARENTS)
_PARENT_OR_SELF = np.maximum(PARENT_INDEX, 0)  # the root its own


def global_rotations(local_quat: np.ndarray, joints=None) -> np.ndarray:
    """local_quat (T, 24, 4) xyzw -> global rotation matrices (T, 24, 3, 3); with ``joints`` (a list of
    joint indices) only theirs, (T, len(joints), 3, 3), turned through their own ancestors alone."""
    T = local_quat.shape[0]
    need = np.arange(24) if joints is None else np.array(sorted(_with_ancestors(joints)))
    at = np.full(24, -1)
    at[need] = np.arange(len(need))
    glob = Rotation.from_quat(local_quat[:, need].reshape(-1, 4)).as_matrix().reshape(T, len(need), 3, 3)
    for js in LEVELS:
        js = js[at[js] >= 0]
        if len(js):
            glob[:, at[js]] = glob[:, at[PARENT_INDEX[js]]] @ glob[:, at[js]]
    return glob if joints is None else glob[:, at[np.asarray(joints)]]


def _with_ancestors(joints) -> set[int]:
    out = set()
    for j in joints:
        while j >= 0 and j not in out:
            out.add(int(j))
            j = SMPL24_PARENTS[j]
    return out


def global_quaternions(local_quat: np.ndarray) -> np.ndarray:
    """local_quat (T, 24, 4) xyzw -> each joint's global rotation (T, 24, 4) as a quaternion, composed
    down the tree as quaternions (half the work of :func:`global_rotations` and no conversion back from
    matrices). Unit to rounding; the sign of each is whatever the products give (q and -q are one rotation)."""
    glob = np.array(local_quat, dtype=np.float64, copy=True)
    for js in LEVELS:
        glob[:, js] = _quaternion_product(glob[:, PARENT_INDEX[js]], glob[:, js])
    return glob


def _quaternion_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 4), (..., 4) xyzw -> a b, the rotation b then a (Hamilton product)."""
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 1] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 2] = aw * bz + ax * by - ay * bx + az * bw
    out[..., 3] = aw * bw - ax * bx - ay * by - az * bz
    return out


def quaternions(matrices: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> quaternions (..., 4) xyzw. Only for matrices the rig made itself
    (products of rotations, orthonormal to rounding): scipy then skips its orthogonalisation and
    determinant checks, which cost more than the conversion on a person's few hundred frames."""
    return Rotation.from_matrix(matrices.reshape(-1, 3, 3), assume_valid=True).as_quat().reshape(matrices.shape[:-2] + (4,))


def relative_rotation(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Global rotation matrices (..., 3, 3) of a parent and a child -> the child's local rotation
    relative to the parent as quaternions (..., 4) xyzw."""
    local = np.swapaxes(parent, -1, -2) @ child
    return quaternions(local)


def local_from_global(global_quat: np.ndarray) -> np.ndarray:
    """global_quat (T, 24, 4) xyzw, unit (each joint's rotation in the root's frame of reference) -> local
    quaternions (T, 24, 4) relative to the parent: the parent's conjugate times the joint's, as
    quaternions (no round trip through matrices), given the sign scipy's matrix conversion gives (the
    largest component positive, the first of equals). Its callers hand it unit quaternions (scipy's
    conversion, the filter's normalised output): they are not normalised again. Worked component by
    component on planes of their own (T, 24): a 4-vector's components side by side in memory make every
    product a strided one, and the largest of four an argmax over a tiny axis (-30% this way)."""
    g = np.ascontiguousarray(np.moveaxis(np.asarray(global_quat, dtype=np.float64), -1, 0))  # (4, T, 24)
    parent = np.take(g, _PARENT_OR_SELF, axis=-1)  # laid out as g is (an index g[:, :, i] would put joints outermost)
    ax, ay, az, aw = -parent[0], -parent[1], -parent[2], parent[3]  # the parent's conjugate
    bx, by, bz, bw = g
    local = np.empty_like(g)  # whole planes (the root's product too, then overwritten): no strided slices
    local[0] = aw * bx + ax * bw + ay * bz - az * by
    local[1] = aw * by - ax * bz + ay * bw + az * bx
    local[2] = aw * bz + ax * by - ay * bx + az * bw
    local[3] = aw * bw - ax * bx - ay * by - az * bz
    local[:, :, 0] = g[:, :, 0]
    size = np.abs(local)
    top = np.maximum(np.maximum(size[0], size[1]), np.maximum(size[2], size[3]))
    # the first largest in magnitude, as argmax picks it
    largest = np.where(size[0] == top, local[0], np.where(size[1] == top, local[1], np.where(size[2] == top, local[2], local[3])))
    sign = np.where(largest < 0, -1.0, 1.0)
    out = np.empty(g.shape[1:] + (4,))
    for i in range(4):
        np.multiply(local[i], sign, out=out[..., i])
    return out


def forward_kinematics(local_quat: np.ndarray, root_position: np.ndarray, bone_lengths: np.ndarray,
                       rest_directions: np.ndarray | None = None) -> np.ndarray:
    """local_quat (T, 24, 4), root_position (T, 3) m, bone_lengths (24,) m, rest_directions (24, 3)
    -> joints (T, 24, 3) m."""
    return joints_from_global(global_rotations(local_quat), root_position, bone_lengths, rest_directions)


def joints_from_global(glob: np.ndarray, root_position: np.ndarray, bone_lengths: np.ndarray | None = None,
                       rest_directions: np.ndarray | None = None, *, offsets: np.ndarray | None = None) -> np.ndarray:
    """Forward kinematics from global rotation matrices (T, 24, 3, 3) -> joints (T, 24, 3) m. The bones:
    ``bone_lengths`` (24,) and ``rest_directions``, or ``offsets`` (T, 24, 3) one set per frame (many
    people's frames end to end)."""
    joints = np.empty(glob.shape[:2] + (3,))
    joints[:, 0] = root_position
    if offsets is None:
        offsets = rest_offsets(bone_lengths, rest_directions)
        for js in LEVELS:
            parent = PARENT_INDEX[js]
            joints[:, js] = joints[:, parent] + np.einsum("tjab,jb->tja", glob[:, parent], offsets[js])
        return joints
    for js in LEVELS:
        parent = PARENT_INDEX[js]
        joints[:, js] = joints[:, parent] + np.einsum("tjab,tjb->tja", glob[:, parent], offsets[:, js])
    return joints
