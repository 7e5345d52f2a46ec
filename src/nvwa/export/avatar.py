"""The procedural avatar: one capsule per bone and a head, sized to a person's locked bone lengths,
each part bound rigidly to the joint that turns it (the bone's parent joint).

Built in the rest pose (all local rotations identity, the pelvis at ``rest_joint_positions``'s origin
height), so a skin's inverse bind matrices are plain translations, and any pose is
``global_transform(joint) @ inverse_bind(joint) @ vertex``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvwa.rig.skeleton import JOINT, SMPL24_NAMES, SMPL24_PARENTS, rest_offsets

# radius of the capsule from a joint's parent to it, for a 1.7 m person (m)
_RADIUS = {
    "left_hip": 0.075, "right_hip": 0.075, "spine1": 0.11, "left_knee": 0.065, "right_knee": 0.065,
    "spine2": 0.11, "left_ankle": 0.05, "right_ankle": 0.05, "spine3": 0.12, "left_foot": 0.04,
    "right_foot": 0.04, "neck": 0.05, "left_collar": 0.05, "right_collar": 0.05, "head": 0.05,
    "left_shoulder": 0.055, "right_shoulder": 0.055, "left_elbow": 0.045, "right_elbow": 0.045,
    "left_wrist": 0.038, "right_wrist": 0.038, "left_hand": 0.035, "right_hand": 0.035,
}
HEAD_RADIUS = 0.1  # the skull, a sphere above the head joint, for a 1.7 m person
REFERENCE_STATURE = 1.7


@dataclass(frozen=True)
class AvatarMesh:
    vertices: np.ndarray  # (V, 3) float32, rest pose, metres, world axes (Y up)
    normals: np.ndarray  # (V, 3) float32 unit
    faces: np.ndarray  # (F, 3) uint32, counter-clockwise seen from outside
    joint: np.ndarray  # (V,) index of the one joint each vertex follows (weight 1)


def rest_joint_positions(bone_lengths: np.ndarray, rest_directions: np.ndarray, pelvis=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(24, 3): joints in the rest pose (every local rotation identity), the pelvis at ``pelvis``."""
    offsets = rest_offsets(bone_lengths, rest_directions)
    pos = np.zeros((24, 3))
    pos[0] = pelvis
    for j in range(1, 24):
        pos[j] = pos[SMPL24_PARENTS[j]] + offsets[j]
    return pos


def _capsule(a: np.ndarray, b: np.ndarray, r: float, segments: int, rings: int):
    """Vertices, normals, faces of a capsule from a to b, radius r. ``rings`` per half sphere."""
    axis = b - a
    length = float(np.linalg.norm(axis))
    y = axis / length if length > 1e-9 else np.array([0.0, 1.0, 0.0])
    helper = np.array([1.0, 0.0, 0.0]) if abs(y[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    x = np.cross(helper, y)
    x /= np.linalg.norm(x)
    z = np.cross(x, y)
    lon = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    verts, norms = [], []
    # latitude rows from the b pole (+90 deg) to the a pole (-90 deg); the equator appears twice, once
    # for each cap, so the cylinder between them is one band of quads
    lats = np.concatenate([np.linspace(np.pi / 2, 0, rings + 1)[1:], np.linspace(0, -np.pi / 2, rings + 1)[:-1]])
    centres = [b] * rings + [a] * rings
    for lat, c in zip(lats, centres):
        n = (np.cos(lat) * (np.cos(lon)[:, None] * x + np.sin(lon)[:, None] * z) + np.sin(lat) * y)
        verts.append(c + r * n)
        norms.append(n)
    V = np.concatenate([[b + r * y], *verts, [a - r * y]])
    N = np.concatenate([[y], *norms, [-y]])
    rows = len(lats)
    faces = []
    ring = lambda i: 1 + i * segments + (np.arange(segments) % segments)  # noqa: E731
    nxt = lambda i: 1 + i * segments + ((np.arange(segments) + 1) % segments)  # noqa: E731
    faces.append(np.stack([np.zeros(segments, int), nxt(0), ring(0)], 1))  # top fan
    for i in range(rows - 1):
        a0, a1, b0, b1 = ring(i), nxt(i), ring(i + 1), nxt(i + 1)
        faces.append(np.stack([a0, a1, b1], 1))
        faces.append(np.stack([a0, b1, b0], 1))
    bottom = len(V) - 1
    faces.append(np.stack([np.full(segments, bottom), ring(rows - 1), nxt(rows - 1)], 1))
    F = np.concatenate(faces)
    # orient every face outward (the parametrisation's handedness depends on the frame built above)
    centre = (a + b) / 2
    tri = V[F]
    outward = np.einsum("ij,ij->i", np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), tri.mean(1) - centre) < 0
    F[outward] = F[outward][:, [0, 2, 1]]
    return V, N, F


def build_avatar(bone_lengths: np.ndarray, rest_directions: np.ndarray, *, segments: int = 10, rings: int = 3) -> AvatarMesh:
    """The avatar of one person in the rest pose with the pelvis at the origin."""
    lengths = np.asarray(bone_lengths, dtype=np.float64)
    pos = rest_joint_positions(lengths, rest_directions)
    leg = lengths[JOINT["left_knee"]] + lengths[JOINT["left_ankle"]]
    scale = float(np.clip(leg / 0.85, 0.6, 1.4)) if np.isfinite(leg) and leg > 0 else 1.0  # ~0.85 m legs at 1.7 m
    parts = []
    for j in range(1, 24):
        p = SMPL24_PARENTS[j]
        parts.append((*_capsule(pos[p], pos[j], _RADIUS[SMPL24_NAMES[j]] * scale, segments, rings), p))
    # Hands and feet end the chains: a small ball at each, bound to that joint, so every joint of the
    # skin weighs some vertex (FBX converters such as assimp keep only bones that do).
    for name in ("left_foot", "right_foot", "left_hand", "right_hand"):
        j = JOINT[name]
        r = _RADIUS[name] * scale
        along = pos[j] - pos[SMPL24_PARENTS[j]]  # a ball: a capsule of (almost) no length along the bone
        parts.append((*_capsule(pos[j], pos[j] + 1e-3 * along, r, segments, rings), j))
    head = pos[JOINT["head"]]
    up = head - pos[JOINT["neck"]]
    up = up / max(np.linalg.norm(up), 1e-9)
    r = HEAD_RADIUS * scale
    skull = head + up * r * 0.6
    parts.append((*_capsule(skull - up * r * 0.15, skull + up * r * 0.15, r, segments + 2, rings + 1), JOINT["head"]))
    verts, norms, faces, joint, base = [], [], [], [], 0
    for V, N, F, j in parts:
        verts.append(V)
        norms.append(N)
        faces.append(F + base)
        joint.append(np.full(len(V), j))
        base += len(V)
    return AvatarMesh(np.concatenate(verts).astype(np.float32), np.concatenate(norms).astype(np.float32),
                      np.concatenate(faces).astype(np.uint32), np.concatenate(joint).astype(np.uint8))


def pose_avatar(mesh: AvatarMesh, rest_joints: np.ndarray, joints_world: np.ndarray, global_rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rigid skinning of one frame: rest_joints (24, 3) (the mesh's rest), joints_world (24, 3),
    global_rot (24, 3, 3) -> posed vertices (V, 3) and normals (V, 3)."""
    j = mesh.joint
    R = global_rot[j]
    v = np.einsum("vij,vj->vi", R, mesh.vertices - rest_joints[j]) + joints_world[j]
    n = np.einsum("vij,vj->vi", R, mesh.normals)
    return v, n


def person_colour(person_id: int) -> tuple[float, float, float]:
    """A distinct, stable colour per person id (linear RGB 0-1): hues spaced by the golden angle."""
    import colorsys

    h = (0.07 + person_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.65, 0.95)
    return (r ** 2.2, g ** 2.2, b ** 2.2)  # glTF base colours are linear
