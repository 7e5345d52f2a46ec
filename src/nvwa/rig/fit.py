"""Fit the canonical rig to keypoints: bone lengths locked per person, a rotation per joint per frame.

Each joint's global rotation is the one frame that takes its rest bone direction (the "primary", the
bone to its main child) onto the observed one exactly, and turns about that bone so a second,
"auxiliary" rest direction lands as close as it can to an observed one (the twist: feet say where a
leg faces, the shoulder line where the chest faces, the knuckles where a hand faces). A degenerate
auxiliary (parallel to the bone, e.g. a straight arm) falls back to the body's own left/up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nvwa.rig.motion import RigMotion
from nvwa.rig.segments import Segments, in_chunks, nan_median, norm_last
from nvwa.rig.skeleton import CHILDREN, JOINT, PARENT_INDEX, REST_DIRECTIONS, local_from_global, quaternions


@dataclass(frozen=True)
class RigTargets:
    """What the rig is fitted to, for one person over T frames, all in one frame of reference."""

    joints: np.ndarray = field(repr=False)  # (T, 24, 3) m, SMPL-24 order
    confidence: np.ndarray = field(repr=False)  # (T, 24) in [0, 1]
    foot_forward: np.ndarray = field(repr=False)  # (T, 2, 3) heel -> toe, left then right
    hand_forward: np.ndarray = field(repr=False)  # (T, 2, 3) pinky -> index knuckle, left then right
    head_left: np.ndarray = field(repr=False)  # (T, 3) right ear -> left ear

    def translated(self, offset: np.ndarray) -> "RigTargets":
        """The same targets moved by offset (T, 3) (e.g. root-relative -> camera frame)."""
        o = np.asarray(offset)[:, None, :]
        return RigTargets(self.joints + o, self.confidence, self.foot_forward, self.hand_forward, self.head_left)


_SYMMETRIC = [(1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23)]


def lock_bone_lengths(joints: np.ndarray, confidence: np.ndarray, *, min_confidence: float = 0.5, trim: float = 0.2) -> np.ndarray:
    """One length per bone for the whole sequence: a trimmed mean over frames where both ends are seen.

    joints (T, 24, 3), confidence (T, 24) -> (24,) m. Left and right bones share their mean (people
    are near-symmetric; averaging halves the noise). Bones never seen confidently use all frames.
    """
    joints = np.asarray(joints, dtype=np.float64)
    return lock_bone_lengths_many(joints, np.asarray(confidence, dtype=np.float64), Segments([len(joints)]),
                                  min_confidence=min_confidence, trim=trim)[0]


def lock_bone_lengths_many(joints: np.ndarray, confidence: np.ndarray, people: Segments, *, min_confidence: float = 0.5,
                           trim: float = 0.2) -> np.ndarray:
    """:func:`lock_bone_lengths` for many people at once: joints (N, 24, 3) and confidence (N, 24) of
    everyone's frames end to end (``people`` says whose) -> (P, 24) m. Each person's bones are sorted
    side by side (past a person's end: +inf, which sorts last and is never kept)."""
    return locked_bone_lengths(bone_lengths(joints), confidence, people, min_confidence=min_confidence, trim=trim)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """joints (N, 24, 3) -> (N, 23) each frame's length of every bone (joint 1-23 to its parent)."""
    return in_chunks(lambda x: norm_last(x[:, 1:] - np.take(x, PARENT_INDEX[1:], axis=1)), joints)  # take: C order (x[:, index] is not)


def locked_bone_lengths(d: np.ndarray, confidence: np.ndarray, people: Segments, *, min_confidence: float = 0.5,
                        trim: float = 0.2) -> np.ndarray:
    """:func:`lock_bone_lengths_many` from the frames' bone lengths d (N, 23) (:func:`bone_lengths`)."""
    parents = PARENT_INDEX[1:]
    ok = np.minimum(confidence[:, 1:], confidence[:, parents]) >= min_confidence
    use = ok | people.per_row(people.reduce(np.add, ok.astype(np.intp)) < 3)  # never seen confidently: all frames
    n = people.reduce(np.add, use.astype(np.intp))  # (P, 23)
    v = np.sort(people.padded(np.where(use, d, np.inf), fill=np.inf), axis=1)  # (P, T_max, 23)
    k = (n * trim / 2).astype(np.intp)
    k = np.where(n - 2 * k >= 1, k, 0)
    i = np.arange(v.shape[1])[None, :, None]
    kept = (i >= k[:, None]) & (i < (n - k)[:, None])
    lengths = np.zeros((len(people), 24))
    lengths[:, 1:] = np.sum(np.where(kept, v, 0.0), axis=1) / np.maximum(n - 2 * k, 1)
    a, b = np.array(_SYMMETRIC).T
    lengths[:, a] = lengths[:, b] = (lengths[:, a] + lengths[:, b]) / 2
    return lengths


def _normalize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = norm_last(v)[..., None]
    return v / np.maximum(n, 1e-9), n[..., 0]


def _solve(n, aux, fallback, rest, low=0.1, high=0.4):
    """Global rotations as their nine entries, R[i][j] each (...): n, aux, fallback (3, ...) the observed
    unit bone, auxiliary and fallback directions as a plane a component (x, y, z); ``rest`` the rest
    pose's frames (:func:`_rest_frames`). Component by component: (..., 3) vectors side by side in memory
    make every product a strided one over an axis of three (this way the fit's global frames take a third less time).

    The twist comes from the auxiliary direction where it is well away from the bone, from the fallback
    where it is nearly parallel, and from a blend of the two in between: a hard switch would flip the
    twist between neighbouring frames (a straightening arm), and a filter over such flips bends bones.
    """
    e2, e3, q = _axes_planes(n, aux)
    f2, f3, _ = _axes_planes(n, fallback)
    c, s, Ffb_rest_T = rest
    angle = np.clip((q - low) / (high - low), 0.0, 1.0) * np.arctan2(c * _dot_planes(e2, f3) + s * _dot_planes(e3, f3),
                                                                     c * _dot_planes(e2, f2) + s * _dot_planes(e3, f2))
    ca, sa = np.cos(angle), np.sin(angle)
    turned = [(n[i], ca * f2[i] + sa * f3[i], ca * f3[i] - sa * f2[i]) for i in range(3)]  # [n f2 f3] turned, row i
    B = np.moveaxis(Ffb_rest_T, (-2, -1), (0, 1))  # B[k][j] (...)
    return [[a * B[0][j] + b * B[1][j] + d * B[2][j] for j in range(3)] for a, b, d in turned]


def _dot_planes(u, v):
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _unit_planes(v):
    """(3, ...) -> the unit vectors (3, ...), the lengths (...)."""
    size = np.sqrt(_dot_planes(v, v))
    return v / np.maximum(size, 1e-9), size


def _axes_planes(e1, a):
    """Unit primary e1 and unit auxiliary a, each a plane a component (3, ...) -> the axes e2 (toward a,
    across e1) and e3 = e1 x e2, each (3, ...), and the auxiliary's usable part |a x e1| (0 when degenerate)."""
    e2, size = _unit_planes(a - _dot_planes(a, e1) * e1)
    e3 = np.stack([e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]])
    return e2, e3, size


def _rest_frames(primary, aux, fallback) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rest pose's side of :func:`_solve` for rest directions (n, 3): G_aux = [n e2 e3] F_rest^T and
    G_fb = [n f2 f3] Ffb_rest^T both take the bone onto n and differ only by a twist about n, by the
    angle G_aux G_fb^T turns f2 through: G_aux G_fb^T f2 = C11 e2 + C21 e3, C = F_rest^T Ffb_rest (the
    rest frames' own twist). -> (C11, C21, Ffb_rest^T); G_fb turned part-way is [n f2 f3] turned, then Ffb_rest^T."""
    e1 = np.moveaxis(_normalize(primary)[0], -1, 0)

    def frame(second):  # [e1 e2 e3] (n, 3, 3), e2 toward ``second`` across e1
        return np.moveaxis(np.stack([e1, *_axes_planes(e1, np.moveaxis(_normalize(second)[0], -1, 0))[:2]]), (0, 1), (-1, -2))

    F_rest, Ffb_rest = frame(aux), frame(fallback)
    C = np.swapaxes(F_rest, -1, -2) @ Ffb_rest
    return C[..., 1, 1], C[..., 2, 1], np.swapaxes(Ffb_rest, -1, -2)


def fit_rig(targets: RigTargets, bone_lengths: np.ndarray | None = None) -> RigMotion:
    """Fit the rig to ``targets``; ``bone_lengths`` (24,) default to :func:`lock_bone_lengths`."""
    return fit_rigs([targets], [bone_lengths])[0]


def fit_rigs(targets: list[RigTargets], bone_lengths: list[np.ndarray | None]) -> list[RigMotion]:
    """:func:`fit_rig` for many people: the per-frame solve runs once over everyone's frames end to end
    (its cost is per call more than per frame); each person's own rest spread from their own frames."""
    if not targets:
        return []
    people = Segments.of([tg.joints for tg in targets])
    joined = RigTargets(*(np.concatenate([getattr(tg, f) for tg in targets]) for f in
                          ("joints", "confidence", "foot_forward", "hand_forward", "head_left")))
    local, spread, glob = in_chunks(_local_rotations, *(getattr(joined, f) for f in ("joints", "confidence", "foot_forward", "hand_forward", "head_left")))
    rests = _people_rest(spread, joined, people)
    motions = [RigMotion(np.asarray(lock_bone_lengths(tg.joints, tg.confidence) if b is None else b, dtype=np.float64),
                         q, tg.joints[:, 0].copy(), rest) for tg, b, q, rest in zip(targets, bone_lengths, people.split(local), rests)]
    for m, g in zip(motions, people.split(glob)):
        m._carry_global(g)  # smoothing filters these: not rebuilt from the local ones
    return motions


def _local_rotations(*fields: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RigTargets' fields (frames first) -> (local quaternions (T, 24, 4), global rotations of the joints
    carrying several bones (T, 2, 3, 3), every joint's global rotation (T, 24, 4))."""
    R = _global_frames(RigTargets(*fields))
    glob = quaternions(R)
    return local_from_global(glob), R[:, _SPREAD], glob


# the directions each frame's joints are turned by, from the frame's keypoints (see _cues), by name
_CUES = ("left", "shoulders_left", "up", "spine1", "spine2", "collars", "head_left", "left_foot_forward", "right_foot_forward",
         "left_forearm", "right_forearm", "left_hand_forward", "right_hand_forward")


def _solved_joints() -> tuple[np.ndarray, ...]:
    """Every joint with a bone of its own: (joint, its child along the bone, auxiliary cue, its rest
    direction, fallback cue, its rest direction) as arrays over those joints."""
    J, (ex, ey, ez) = JOINT, np.eye(3)
    rows = [("pelvis", "spine1", "left", ex), ("spine1", "spine2", "spine1", ex), ("spine2", "spine3", "spine2", ex),
            # spine3 carries three bones (neck, both collars): the collar line fixes its twist exactly
            ("spine3", "neck", "collars", ex, "shoulders_left", ex), ("neck", "head", "head_left", ex, "shoulders_left", ex)]
    for side in ("left", "right"):
        rows += [(f"{side}_hip", f"{side}_knee", f"{side}_foot_forward", ez), (f"{side}_knee", f"{side}_ankle", f"{side}_foot_forward", ez),
                 (f"{side}_ankle", f"{side}_foot", "left", ex), (f"{side}_collar", f"{side}_shoulder", "up", ey),
                 (f"{side}_shoulder", f"{side}_elbow", f"{side}_forearm", ez), (f"{side}_elbow", f"{side}_wrist", f"{side}_hand_forward", ez),
                 (f"{side}_wrist", f"{side}_hand", f"{side}_hand_forward", ez)]
    full = [r if len(r) == 6 else (*r, *(("up", ey) if abs(REST_DIRECTIONS[J[r[1]]][0]) > 0.9 else ("left", ex))) for r in rows]
    joint, child = (np.array([J[r[k]] for r in full]) for k in (0, 1))
    aux, fallback = (np.array([_CUES.index(r[k]) for r in full]) for k in (2, 4))
    return joint, child, aux, np.array([r[3] for r in full]), fallback, np.array([r[5] for r in full])


_JOINT, _CHILD, _AUX, _AUX_REST, _FALLBACK, _FALLBACK_REST = _solved_joints()
_REST = _rest_frames(REST_DIRECTIONS[_CHILD], _AUX_REST, _FALLBACK_REST)
_LEAVES = np.array([JOINT[n] for n in ("left_foot", "right_foot", "head", "left_hand", "right_hand")])
_SPREAD = [JOINT["pelvis"], JOINT["spine3"]]  # the joints carrying several bones (see _people_rest)


def _cues(targets: RigTargets) -> np.ndarray:
    """The directions of ``_CUES`` per frame, each unit: (T, len(_CUES), 3)."""
    X, J = targets.joints, JOINT
    left, shoulders_left = X[:, J["left_hip"]] - X[:, J["right_hip"]], X[:, J["left_shoulder"]] - X[:, J["right_shoulder"]]
    left_n, shoulders_left_n = _normalize(left)[0], _normalize(shoulders_left)[0]
    raw = [left, shoulders_left, X[:, J["neck"]] - X[:, J["pelvis"]], 2 / 3 * left_n + 1 / 3 * shoulders_left_n,
           1 / 3 * left_n + 2 / 3 * shoulders_left_n, X[:, J["left_collar"]] - X[:, J["right_collar"]], targets.head_left,
           targets.foot_forward[:, 0], targets.foot_forward[:, 1], X[:, J["left_wrist"]] - X[:, J["left_elbow"]],
           X[:, J["right_wrist"]] - X[:, J["right_elbow"]], targets.hand_forward[:, 0], targets.hand_forward[:, 1]]
    return _normalize(np.stack(raw, axis=1))[0]


def _global_frames(targets: RigTargets) -> np.ndarray:
    """Each joint's global rotation (T, 24, 3, 3) from the frame's observations alone. Every joint's
    rotation depends on the observations only (not on its parent's): one batched solve. Leaves (feet,
    head, hands) have no bone of their own to turn: they keep their parent's rotation."""
    X = np.moveaxis(targets.joints, -1, 0)  # (3, T, 24)
    cues = np.moveaxis(_cues(targets), -1, 0)
    planes = lambda v, index: np.take(v, index, axis=-1)  # noqa: E731 (3, T, n) in C order (v[:, :, index] puts n outermost)
    bone = planes(X, _CHILD) - planes(X, PARENT_INDEX[_CHILD])
    R = np.empty((X.shape[1], 24, 3, 3))
    for i, row in enumerate(_solve(_unit_planes(bone)[0], planes(cues, _AUX), planes(cues, _FALLBACK), _REST)):
        for j, entry in enumerate(row):
            R[:, _JOINT, i, j] = entry
    R[:, _LEAVES] = R[:, PARENT_INDEX[_LEAVES]]
    return R


def _people_rest(R: np.ndarray, targets: RigTargets, people: Segments) -> np.ndarray:
    """Joints carrying several bones: the spread of the others around the primary is each person's own
    (shoulder width against chest height), measured in the joint's frame over their confident frames
    (all their frames where fewer than 3 are) -> (P, 24, 3) rest directions. R (N, 2, 3, 3): those
    joints' (``_SPREAD``) global rotations; R and the targets: everyone's frames end to end."""
    pairs = [(k, joint, child) for k, (joint, primary) in enumerate(zip(_SPREAD, (JOINT["spine1"], JOINT["neck"])))
             for child in CHILDREN[joint] if child != primary]
    which, joint, child = (np.array(v) for v in zip(*pairs))
    X, conf = targets.joints, targets.confidence
    local_dir = np.einsum("tkji,tkj->tki", R[:, which], _normalize(X[:, child] - X[:, joint])[0])  # (N, 4, 3)
    ok = np.minimum(conf[:, child], conf[:, joint]) >= 0.5
    use = ok | people.per_row(people.reduce(np.add, ok.astype(np.intp)) < 3)
    d = nan_median(np.moveaxis(people.padded(np.where(use[..., None], local_dir, np.nan), fill=np.nan), 1, -1))  # (P, 4, 3)
    nan_seen = people.reduce(np.logical_or, use & np.isnan(local_dir).any(axis=-1), empty=True)  # a NaN median: kept as is
    norm = np.linalg.norm(d, axis=-1, keepdims=True)
    rest = np.repeat(REST_DIRECTIONS[None], len(people), axis=0)
    rest[:, child] = np.where((norm > 1e-6) & ~nan_seen[..., None], d / np.where(norm > 1e-6, norm, 1.0), rest[:, child])
    return rest
