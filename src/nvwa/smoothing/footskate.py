"""Phase 3b, footskate removal: a foot in contact stays planted, and nothing goes below the floor.

For each contact, the foot's anchor is where it stood on average. Each frame of the contact (and a
short blend before and after it) moves the ankle to the anchor with a two-bone IK on hip-knee-ankle,
keeping the knee in its own bending plane and the foot's orientation; if the leg cannot reach, the
pelvis moves by what is missing, and on those frames the other leg too reaches for its own target (its
foot stays where it was seen). Last, any frame with an ankle or toe below Y=0 is lifted.
All positions are world metres, floor at Y=0.

Everything runs over many people's frames end to end (``people`` says whose, :class:`Segments`), each
person getting exactly what they get alone; the one-person functions are that with one person.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.spatial.transform import Rotation

from nvwa.rig.motion import RigMotion
from nvwa.rig.segments import Segments, dot_last, matmul3, nan_median, norm_last
from nvwa.rig.skeleton import JOINT, PARENT_INDEX, global_rotations, quaternions, rest_offsets

LEGS = (("left_hip", "left_knee", "left_ankle", "left_foot"), ("right_hip", "right_knee", "right_ankle", "right_foot"))
# the joints whose global rotations phase 3 turns or reads: the pelvis and the legs down to the ankles
_CHAIN = [JOINT[n] for n in ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")]
_AT = np.full(24, -1)
_AT[_CHAIN] = np.arange(len(_CHAIN))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(norm_last(v), 1e-9)[..., None]


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3), (N, 3) -> (N, 3, 3) the smallest rotations taking direction a onto direction b."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    s = norm_last(axis)
    angle = np.arctan2(s, dot_last(a, b))
    rotvec = _unit(axis) * angle[:, None]
    rotvec[s < 1e-12] = 0.0
    return Rotation.from_rotvec(rotvec).as_matrix()


def _smootherstep(x):
    """0 -> 1 with zero first and second derivatives at both ends: a blend that adds no jerk spike."""
    return x * x * x * (x * (6 * x - 15) + 10)


def _blend_weights(contact: np.ndarray, t: np.ndarray, people: Segments, blend_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(N,) weight of the planted target (1 inside a contact, ramping to 0 over ``blend_s`` after the
    contact before a frame and before the one after it, whichever is nearer in weight; a tie goes to
    the earlier) and (N,) the contact (run index over everyone, see ``people.runs``) each frame's
    weight belongs to (-1: none)."""
    N = len(contact)
    idx = np.arange(N)
    run_of = np.cumsum(contact & ~(np.concatenate([[False], contact[:-1]]) & ~people.first())) - 1 if N else idx
    before = np.maximum.accumulate(np.where(contact, idx, -1)) if N else idx  # last contact frame up to here
    after = np.minimum.accumulate(np.where(contact, idx, N)[::-1])[::-1] if N else idx  # first from here on
    first, stop = people.starts[people.owner], people.stops[people.owner]
    ramps = []
    for near, has in ((before, before >= first), (after, after < stop)):
        near = np.where(has, near, idx)
        d = np.abs(t - t[near])
        x = np.where(has & (d < blend_s), _smootherstep(1.0 - d / blend_s), 0.0)
        ramps.append((x, np.where(x > 0, run_of[near], -1)))
    (w_before, run_before), (w_after, run_after) = ramps
    w = np.where(contact, 1.0, np.maximum(w_before, w_after))
    owner = np.where(contact, run_of, np.where(w_after > w_before, run_after, run_before))
    return w, owner


def smooth_envelope(need: np.ndarray, t: np.ndarray, window_s: float = 0.2) -> np.ndarray:
    """A smooth curve never below ``need`` (T,): a running maximum over 2w, then two box averages of
    width w (each output averages maxima that all cover its own frame, so it stays >= need)."""
    need = np.asarray(need, dtype=np.float64)
    return smooth_envelopes(need, np.asarray(t, dtype=np.float64), Segments([len(need)]), window_s)


def smooth_envelopes(need: np.ndarray, t: np.ndarray, people: Segments, window_s: float = 0.2) -> np.ndarray:
    """:func:`smooth_envelope` of each person's frames of need (N,), side by side: people whose frame
    step gives the same width go through each filter together (each row past its person's end holds
    their last value, what the filters' "nearest" edge gives alone)."""
    out = need.copy()
    steps = np.where(people.first(), np.nan, np.diff(t, prepend=np.nan))  # a person's first frame: no step
    dt = np.where(people.lengths > 1, nan_median(people.padded(steps, fill=np.nan)[:, 1:]), 1.0)
    w = np.maximum(np.round(window_s / np.maximum(dt, 1e-6)).astype(np.intp) | 1, 3)
    todo = (people.lengths >= 3) & people.reduce(np.logical_or, need != 0, empty=False)
    for width in np.unique(w[todo]):
        group = todo & (w == width)
        rows, sub = group[people.owner], Segments(people.lengths[group])
        m = sub.repad(maximum_filter1d(sub.padded(need[rows]), 2 * width - 1, axis=1, mode="nearest"))
        env = sub.repad(uniform_filter1d(m, width, axis=1, mode="nearest"))
        env = uniform_filter1d(env, width, axis=1, mode="nearest")
        # the box filters are running sums: where every value they average is 0 they leave a rounding
        # residue (+-1e-17 m), and a positive one would turn the IK on for a frame that needs nothing
        env[maximum_filter1d(m, 2 * width - 1, axis=1, mode="nearest") == 0] = 0.0
        out[rows] = np.maximum(sub.unpadded(env), need[rows])  # exact at the clip's ends, where "nearest" padding can undercut
    return out


def lock_pelvis_height(motion: RigMotion, t: np.ndarray, contact: np.ndarray, *, blend_s: float = 0.1,
                       min_s: float = 0.3, max_lean_deg: float = 25.0) -> tuple[RigMotion, dict]:
    """While both feet are planted and the body is upright, the pelvis keeps one height (the median of
    that stance) instead of bobbing with the depth noise; blended in and out. World frame, Y up.
    The legs follow when the feet are planted afterwards (two-bone IK)."""
    t = np.asarray(t, dtype=np.float64)
    return lock_pelvis_height_many([motion], t, contact, Segments([len(t)]), blend_s=blend_s, min_s=min_s, max_lean_deg=max_lean_deg)[0]


def lock_pelvis_height_many(motions: list[RigMotion], t: np.ndarray, contact: np.ndarray, people: Segments, *, blend_s: float = 0.1,
                            min_s: float = 0.3, max_lean_deg: float = 25.0) -> list[tuple[RigMotion, dict]]:
    """:func:`lock_pelvis_height` for many people: t (N,) and contact (N, 2) of everyone's frames end
    to end -> one (motion, summary) each."""
    j = people.join([m.joints() for m in motions], (24, 3))
    spine = j[:, JOINT["neck"]] - j[:, JOINT["pelvis"]]
    upright = spine[:, 1] >= np.cos(np.radians(max_lean_deg)) * np.linalg.norm(spine, axis=1)
    standing = contact[:, 0] & contact[:, 1] & upright
    starts, stops = people.runs(standing)
    short = t[stops - 1] - t[starts] < min_s
    inside = np.zeros(len(standing) + 1, dtype=np.intp)
    np.add.at(inside, starts[short], 1)
    np.add.at(inside, stops[short], -1)
    standing &= np.cumsum(inside[:-1]) == 0  # too short a stance: not one
    w, owner = _blend_weights(standing, t, people, blend_s)
    root = people.join([m.root_position for m in motions], (3,))
    m = owner >= 0
    new_y = root[:, 1].copy()
    if m.any():
        new_y[m] = (1 - w[m]) * root[m, 1] + w[m] * _run_medians(root[standing, 1], people.runs(standing))[owner[m]]
    moved = people.reduce(np.fmax, np.abs(new_y - root[:, 1]), empty=0.0)
    root[:, 1] = new_y
    locked = people.reduce(np.add, standing.astype(np.intp))
    return [(mo.moved(root_position=r), {"pelvis_locked_frames": int(n), "pelvis_max_move_m": round(float(d), 4)})
            for mo, r, n, d in zip(motions, people.split(root), locked, moved)]


def _run_medians(values: np.ndarray, runs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """values (n,) of the frames of the runs (starts, stops), in order -> (runs,) each run's median."""
    lengths = runs[1] - runs[0]
    if not len(lengths):
        return np.zeros(0)
    run = np.repeat(np.arange(len(lengths)), lengths)
    v = values[np.lexsort((values, run))]  # each run's values sorted, runs in order
    begin = np.cumsum(lengths) - lengths
    return (v[begin + (lengths - 1) // 2] + v[begin + lengths // 2]) / 2


def _ankle_targets(joints: np.ndarray, contact: np.ndarray, t: np.ndarray, people: Segments, blend_s: float, names):
    """One leg: where its ankle should be per frame (held at each contact's anchor, blended in and out,
    raised out of the floor) and how much the IK should act (0-1) -> (target (N, 3), weight (N,))."""
    _, _, ankle, foot = (JOINT[n] for n in names)
    w, owner = _blend_weights(contact, t, people, blend_s)
    starts, stops = people.runs(contact)
    target = joints[:, ankle].copy()
    m = owner >= 0
    if m.any():
        count = (stops - starts)[:, None]
        anchors = np.add.reduceat(joints[contact, ankle], np.cumsum(count) - count[:, 0], axis=0) / count
        # the toe rests on the floor: the ankle stands as high above it as it does above the toe
        lift = np.add.reduceat(joints[contact, ankle, 1] - joints[contact, foot, 1], np.cumsum(count) - count[:, 0]) / count[:, 0]
        anchors[:, 1] = np.maximum(lift, 0.0)
        target[m] = (1 - w[m, None]) * joints[m, ankle] + w[m, None] * anchors[owner[m]]
    # no penetration: the foot's lowest point (ankle or toe; the foot keeps its orientation, so the
    # toe stays where it is relative to the ankle) must not go below Y=0. The ankle is raised by a
    # smooth envelope of what is missing, so noise in the feet does not become jerk in the legs.
    below = np.minimum(joints[:, foot, 1] - joints[:, ankle, 1], 0.0)
    raise_by = smooth_envelopes(np.clip(-(target[:, 1] + below), 0.0, None), t, people)
    raise_by[raise_by < 1e-9] = 0.0  # under a nanometre is rounding (a sole pinned onto the floor): no IK for it
    target[:, 1] += raise_by
    return target, np.maximum(w, np.minimum(raise_by / 1e-3, 1.0))


def _pelvis_shift(joints: np.ndarray, lengths: np.ndarray, targets, people: Segments) -> np.ndarray:
    """(N, 3): the pelvis moves only when a leg cannot reach its ankle's target, by what is missing.
    lengths (N, 24): each frame's person's bones."""
    shift = np.zeros((len(joints), 3))
    for side, names in enumerate(LEGS):
        hip, knee, ankle, _ = (JOINT[n] for n in names)
        reach = lengths[:, knee] + lengths[:, ankle] - 1e-4
        d = targets[side] - joints[:, hip]
        excess = np.clip(np.linalg.norm(d, axis=1) - reach, 0.0, None)
        shift += _unit(d) * excess[:, None]
    smooth = people.repad(uniform_filter1d(people.padded(shift), 3, axis=1, mode="nearest"))
    return people.unpadded(uniform_filter1d(smooth, 3, axis=1, mode="nearest"))


def _leg_ik(lengths: np.ndarray, joints: np.ndarray, G: np.ndarray, act: np.ndarray, A_t: np.ndarray, names) -> np.ndarray:
    """Two-bone IK of one leg on the frames ``act``: hip and knee turned so the ankle reaches ``A_t``,
    the knee bending the way it did, the foot keeping its orientation (its global rotation stays);
    writes the new global rotations into ``G`` (N, 7, 3, 3), the ``_CHAIN`` joints' -> each act frame's ankle move (m)."""
    hip, knee, ankle, _ = (JOINT[n] for n in names)
    H, K, A = joints[act, hip], joints[act, knee], joints[act, ankle]
    L1, L2 = lengths[act, knee], lengths[act, ankle]
    d = np.clip(norm_last(A_t - H), 1e-6, L1 + L2 - 1e-6)
    u = _unit(A_t - H)
    # keep the knee on the side it was bending to
    side_dir = (K - H) - dot_last(K - H, u)[:, None] * u
    fallback = G[act, _AT[hip]] @ np.array([0.0, 0.0, 1.0])  # knees bend forward
    fallback = fallback - dot_last(fallback, u)[:, None] * u
    use_fb = norm_last(side_dir) < 1e-6
    v = _unit(np.where(use_fb[:, None], fallback, side_dir))
    cos_a = np.clip((L1 ** 2 + d ** 2 - L2 ** 2) / (2 * L1 * d), -1.0, 1.0)
    K_new = H + L1[:, None] * (cos_a[:, None] * u + np.sqrt(1 - cos_a ** 2)[:, None] * v)
    R1 = _swing(K - H, K_new - H)
    R2 = _swing(np.einsum("nij,nj->ni", R1, A - K), A_t - K_new)
    G_hip, G_knee = R1 @ G[act, _AT[hip]], R2 @ R1 @ G[act, _AT[knee]]
    G[act, _AT[hip]], G[act, _AT[knee]] = G_hip, G_knee
    return norm_last(A_t - A)


def plant_feet(motion: RigMotion, t: np.ndarray, contact: np.ndarray, *, blend_s: float = 0.1,
               global_rotations_: np.ndarray | None = None) -> tuple[RigMotion, dict]:
    """motion in the world frame, t (T,) s, contact (T, 2) bool (left, right) -> (motion, summary).
    ``global_rotations_``: the motion's global rotations where the caller has them already."""
    t = np.asarray(t, dtype=np.float64)
    return plant_feet_many([motion], t, np.asarray(contact, dtype=bool), Segments([len(t)]), blend_s=blend_s,
                           global_rotations_=global_rotations_)[0]


def plant_feet_many(motions: list[RigMotion], t: np.ndarray, contact: np.ndarray, people: Segments, *, blend_s: float = 0.1,
                    global_rotations_: np.ndarray | None = None) -> list[tuple[RigMotion, dict]]:
    """:func:`plant_feet` for many people: t (N,), contact (N, 2) and ``global_rotations_`` (N, 24, 3, 3)
    of everyone's frames end to end -> one (motion, summary) each, as each gets it alone. Only the legs
    move: only their rotations (and the pelvis') are computed, only their joints' positions redone."""
    lengths = people.per_row(np.stack([m.bone_lengths for m in motions])) if motions else np.zeros((0, 24))
    root = people.join([m.root_position for m in motions], (3,))
    joints = people.join([m.joints() for m in motions], (24, 3))  # the motions' own FK, computed once
    local = people.join([m.local_rotations for m in motions], (24, 4))
    G = global_rotations(local, _CHAIN) if global_rotations_ is None else global_rotations_[:, _CHAIN]
    targets, weights = zip(*(_ankle_targets(joints, contact[:, side], t, people, blend_s, names) for side, names in enumerate(LEGS)))
    shift = _pelvis_shift(joints, lengths, targets, people)
    root += shift
    joints += shift[:, None, :]
    move = np.zeros(len(t))
    # where the pelvis moved, both legs reach for their targets: a foot the IK leaves alone would move with the
    # pelvis, one it holds (however lightly: a raise of 1e-16 m) stays where it was seen; a vtest walker's
    # foot jumped 6 cm between the two on a rounding difference. (The shift's box filters leave ~1e-17 m
    # where nothing moved: under a nanometre is rounding, as for the raise.)
    shifted = np.linalg.norm(shift, axis=1) > 1e-9
    for side, names in enumerate(LEGS):
        act = (weights[side] > 0) | shifted
        if act.any():
            move[act] = np.maximum(move[act], _leg_ik(lengths, joints, G, act, targets[side][act], names))
    moved = (weights[0] > 0) | (weights[1] > 0) | shifted
    if moved.any():
        _legs_moved(joints, local, G, moved, motions, people)
    feet = [JOINT[n] for leg in LEGS for n in leg[2:]]
    lift = smooth_envelopes(np.clip(-joints[:, feet, 1].min(axis=1), 0.0, None), t, people)  # what the legs could not do
    root[:, 1] += lift
    joints[:, :, 1] += lift[:, None]
    return [_planted(m, q, r, j, summary) for m, q, r, j, summary in
            zip(motions, people.split(local), people.split(root), people.split(joints), _summaries(contact, move, shift, lift, people))]


def _legs_moved(joints: np.ndarray, local: np.ndarray, G: np.ndarray, moved: np.ndarray, motions: list[RigMotion], people: Segments) -> None:
    """On the frames either leg moved: the legs' local rotations from their new global ones ``G`` (the
    ``_CHAIN`` joints'), and their knees, ankles and toes where those put them (in place)."""
    legs = np.array([JOINT[n] for leg in LEGS for n in leg[:3]])
    Gm = G[moved]
    # np.take: the legs' matrices in C order (Gm[:, index] puts the index outermost, every product strided)
    local[np.ix_(moved, legs)] = quaternions(matmul3(np.swapaxes(np.take(Gm, _AT[PARENT_INDEX[legs]], axis=1), -1, -2),
                                                     np.take(Gm, _AT[legs], axis=1)))
    offsets = people.per_row(np.stack([rest_offsets(m.bone_lengths, m.rest_directions) for m in motions]))[moved]
    J = joints[moved]
    for leg in LEGS:
        for parent, child in zip(leg[:-1], leg[1:]):  # hip -> knee -> ankle -> toe: each from its parent's new place
            p, c = JOINT[parent], JOINT[child]
            J[:, c] = J[:, p] + np.einsum("tab,tb->ta", Gm[:, _AT[p]], offsets[:, c])
    joints[moved] = J


def _planted(motion: RigMotion, local: np.ndarray, root: np.ndarray, joints: np.ndarray, summary: dict) -> tuple[RigMotion, dict]:
    planted = motion.moved(local, root)
    planted._carry(joints)  # its forward kinematics, already done
    return planted, summary


def _summaries(contact: np.ndarray, move: np.ndarray, shift: np.ndarray, lift: np.ndarray, people: Segments) -> list[dict]:
    """Per person: contacts and contact frames per foot, the largest ankle move, the frames the pelvis
    moved and the frames lifted, and the largest lift."""
    count = lambda mask: people.reduce(np.add, mask.astype(np.intp))  # noqa: E731
    contacts = np.stack([people.reduce(np.add, np.bincount(people.runs(contact[:, s])[0], minlength=len(contact))) for s in range(2)], axis=1)
    frames = np.stack([count(contact[:, s]) for s in range(2)], axis=1)
    max_move, max_lift = people.reduce(np.fmax, move, empty=0.0), people.reduce(np.fmax, lift, empty=0.0)
    pelvis, lifted = count(np.linalg.norm(shift, axis=1) > 1e-6), count(lift > 0)
    return [{"contacts": [int(c) for c in contacts[k]], "contact_frames": [int(f) for f in frames[k]],
             "max_correction_m": round(float(max_move[k]), 4), "pelvis_moved_frames": int(pelvis[k]),
             "frames_lifted": int(lifted[k]), "max_lift_m": round(float(max_lift[k]), 4)} for k in range(len(people))]
