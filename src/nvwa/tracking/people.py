"""Which of the models' tracks are people, for the reconstruction: tracks seen long enough, short gaps
(the body model lost someone for a moment) moved through, and short tracks whose body never stands up
(a broken pose, not a person) and tracks that are a piece of another person (their head and shoulders
beside their whole track) told apart. Observations in, observations or a reason out; no model."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from nvwa.observations import Observations, PersonObservations
from nvwa.rig.motion import RigMotion
from nvwa.rig.skeleton import JOINT


def keep_people(obs: Observations, min_person_s: float) -> list[PersonObservations]:
    """Tracks seen for at least ``min_person_s``: each frame a person is seen on counts the time it stands
    for (half the steps to the analysed frames beside it: a variable-rate video's stretches each their own),
    or for observations that do not list the analysed frames, the container's frame rate x the stride (where
    it gives none, the frames' own median step)."""
    analysed = analysed_frames(obs)
    if analysed is not None:
        index, share = analysed[0], _shares(analysed[1])
        return [p for p in obs.people if _seen_s(p, index, share) >= min_person_s - 1e-6]  # (sums of 0.1 s steps)
    fps = float(obs.video.get("fps") or 0.0)
    frame_s = int(obs.options.get("stride") or 1) / fps if fps else _median_step(obs.people)
    return [p for p in obs.people if _seen_frames(p) * frame_s >= min_person_s]


def analysed_frames(obs: Observations) -> tuple[np.ndarray, np.ndarray] | None:
    """Every analysed frame's number and time, (F,) each, in order (the camera's track lists each one), or
    None where the observations do not say (made before it was kept, or by a path that keeps none)."""
    track = getattr(obs, "camera_track", None)
    if track is None or len(track.frame_index) < 2:
        return None
    return np.asarray(track.frame_index, np.int64), np.asarray(track.timestamp_s, np.float64)


def _shares(t: np.ndarray) -> np.ndarray:
    """The time each analysed frame stands for: half the steps to its two neighbours (one at either end),
    at most 1.5x the shorter (a frame beside a stretch lost to corrupt packets is not given half of it)."""
    dt = np.diff(t)
    before, after = np.r_[dt[:1], dt], np.r_[dt, dt[-1:]]
    return np.minimum((before + after) / 2, 1.5 * np.minimum(before, after))


def _seen_s(p: PersonObservations, index: np.ndarray, share: np.ndarray) -> float:
    vis = np.asarray(p.visibility)
    if not len(vis):
        return 0.0
    seen = np.asarray(p.frame_index)[vis.reshape(len(vis), -1).max(axis=1) > 0]
    at = np.clip(np.searchsorted(index, seen), 0, len(index) - 1)
    return float(np.where(index[at] == seen, share[at], np.median(share)).sum())


def _median_step(people: list[PersonObservations]) -> float:
    """The median time between a person's successive analysed frames, over everyone (1/30 s with no two frames
    anywhere): a 10-fps file that declares no frame rate is not taken for a 30-fps one (its people a third as long)."""
    steps = np.concatenate([np.diff(np.asarray(p.timestamp_s, dtype=np.float64)) for p in people] + [np.zeros(0)])
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else 1 / 30


def _seen_frames(p: PersonObservations) -> int:
    vis = np.asarray(p.visibility)
    return int((vis.reshape(len(vis), -1).max(axis=1) > 0).sum()) if len(vis) else 0


PIECE_INSIDE = 0.6  # a piece's box lies at least this share inside the other person's box ...
PIECE_TOP = 0.15  # ... its top level with theirs (within this share of their height) ...
PIECE_SHORTER = 0.65  # ... and it is under this share of their height ...
PIECE_SHARE = 0.5  # ... on at least this share of the frames they share, which are this share of the piece's own


def pieces_of_others(people: list[PersonObservations], min_visibility: float = 0.5) -> dict[int, str]:
    """Person id -> why, for tracks that are a piece of another person seen at the same time: on most of
    the frames both are seen (and those are most of the piece's own), the piece's keypoints lie inside the
    other's box, from its top down, and cover under PIECE_SHORTER of its height: the same person's head and
    shoulders, followed as a second track beside their whole one (vtest 137-155: the man behind the sign).
    Only the shorter-lived of two is a piece. Someone further off seen over a nearer person's shoulder is
    not one: their head is not level with the nearer person's."""
    boxes = {p.person_id: _boxes(p, min_visibility) for p in people}
    out: dict[int, str] = {}
    for a in people:
        fa, ba = boxes[a.person_id]
        for b in people:
            if b is a or len(b.frame_index) <= len(a.frame_index):
                continue
            fb, bb = boxes[b.person_id]
            both, ia, ib = np.intersect1d(fa, fb, return_indices=True)
            if len(both) < PIECE_SHARE * len(a.frame_index):
                continue
            x, y = ba[ia], bb[ib]
            hb = np.maximum(y[:, 3] - y[:, 1], 1e-9)
            inter = (np.clip(np.minimum(x[:, 2], y[:, 2]) - np.maximum(x[:, 0], y[:, 0]), 0, None)
                     * np.clip(np.minimum(x[:, 3], y[:, 3]) - np.maximum(x[:, 1], y[:, 1]), 0, None))
            inside = inter >= PIECE_INSIDE * np.maximum((x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1]), 1e-9)
            piece = inside & (np.abs(x[:, 1] - y[:, 1]) <= PIECE_TOP * hb) & (x[:, 3] - x[:, 1] < PIECE_SHORTER * hb)
            if piece.sum() >= PIECE_SHARE * len(both):
                out[a.person_id] = (f"a piece of person {b.person_id} (inside their box, from its top down, on "
                                    f"{int(piece.sum())} of the {len(both)} frames both are seen)")
                break
    return out


HANDOVER_OVERLAP_S = 0.5  # a young track that began at most this long before (or after) an older one ended ...
HANDOVER_REACH = 2.0  # ... within this many of the older one's heights of where it last stood ...
SCATTERED = 1.5  # ... while the older one held a pose drawn this many times its usual pixels a metre ...
SHRUNK = 0.85  # ... or a piece of the person: inside the new one's box, drawn under this share of them
CROSSED_BACK_S = 0.3  # ... or someone it crossed: up to this long before the new one began, its walk led ...
CROSSED_NEAR = 0.2  # ... within this share of its height of where the new one began, ...
CROSSED_APART = (0.25, 1.0)  # ... while its own poses from then on lay this far (in its heights) from it, ...
CROSSED_BY = 0.5  # ... with a third track within this share of its height of them (the one it crossed), ...
CROSSED_PACE = 0.5  # ... and the new one walked on as it had, within this many of its heights a second
CROSSED_WALK_S = 1.0  # (its walk: the median of its steps over this long before it left it)
CROSSED_SIZE = 1.35  # (the new one's first pose within this many times the person's height, either way)
CROSSED_NEW_S = (0.2, 0.5)  # (the new one's walk: from its first pose to its last in this long, at least the first)


def handed_over(people: list[PersonObservations], among: set | None = None,
                min_visibility: float = 0.5) -> tuple[list[PersonObservations], dict[int, str]]:
    """Tracks joined where the tracker lost a person without knowing it: its track went on, up to
    HANDOVER_OVERLAP_S after a new one had them whole, on a pose scattered over the scenery (drawn over
    SCATTERED times as many pixels a metre of its own 3D as the track's usual: nobody comes that much nearer
    in a moment) or on a piece of them (inside the new track's box, drawn under SHRUNK of its usual pixels a
    metre: a head and chest whose 3D is still a whole body; a whole person passing behind another keeps
    theirs), or it ended on a scattered pose (two frames or more) up to HANDOVER_OVERLAP_S before the new one
    began; and the new track began within HANDOVER_REACH of the person's heights of where they last stood.
    Or its track went on with someone it crossed (:func:`_crossed`): the new one began where the person's
    walk led and walked on as they had, while the older track's poses lay beside it on someone a third track
    follows (vtest 13.9-14.2 s: a man's track went on with the man he crossed, and he was found again as a
    new track 0.8 s before he left the picture; the new track need not be long enough to keep of its own,
    as it is joined to one that is).
    Only where that older track is the one such for the new one and the new one the one such for it, and
    not in a chain (Sports2D re-encoded: the jumper's track went on over the trees, or on his head and
    chest, as he landed; or ended over the trees 0.16 s before the new one began). The joined person keeps
    the older id: its frames up to the new one's first (less the scattered ones just before it; for someone
    crossed, up to where their walk led to the new one), then the new one's. Tracks of a mesh backend (their
    identity locked per track) are left as they are. ``among``: the ids that may be joined (those long
    enough to be kept: a short track beside both is neither), but for a new track that took on someone
    crossed (a short one such counts in the one-for-one rule too: an older track with two such is joined
    to neither). -> (people, joined id -> why)."""
    boxes = {p.person_id: _boxes(p, min_visibility) for p in people}
    seen = {p.person_id: (np.asarray(p.timestamp_s, np.float64)[np.searchsorted(p.frame_index, f)],
                          (b[:, :2] + b[:, 2:]) / 2) for p in people for f, b in [boxes[p.person_id]]}
    unlocked = [p for p in people if p.vertices is None and len(boxes[p.person_id][0]) >= 3]
    candidates = [p for p in unlocked if among is None or p.person_id in among]
    size = {p.person_id: _size_ratio(p, boxes[p.person_id][0], min_visibility) for p in candidates}
    pairs, why, until = {}, {}, {}  # young -> olds; young -> why; (young, old) -> the old one's last frame kept
    for old in candidates:
        fo, bo = boxes[old.person_id]
        usual = float(np.median(bo[:, 3] - bo[:, 1]))
        scattered, shrunk = size[old.person_id] > SCATTERED, size[old.person_id] < SHRUNK
        t_old = np.asarray(old.timestamp_s)
        for young in unlocked:
            t_young = np.asarray(young.timestamp_s)
            if young is old or not (t_old[0] < t_young[0] and t_old[-1] < t_young[-1]) \
                    or abs(t_old[-1] - t_young[0]) > HANDOVER_OVERLAP_S + 1e-6:
                continue
            first = int(young.frame_index[0])
            fy, by = boxes[young.person_id]
            others = [seen[p.person_id] for p in people if p is not old and p is not young]
            crossed = _crossed(old, fo, bo, young, fy, by, usual, others)
            if crossed is not None:
                pairs.setdefault(young.person_id, []).append(old.person_id)
                until[young.person_id, old.person_id] = crossed
                why[young.person_id] = (f"person {young.person_id} is person {old.person_id} (their track went on "
                                        f"with someone they crossed after frame {crossed})")
                continue
            if among is not None and young.person_id not in among:
                continue
            tail = _tail(scattered, fo < first)
            before, late = (fo < first) & ~tail, fo >= first
            if not before.any() or (not late.any() and tail.sum() < 2):
                continue  # ended before the new one began: only where it ended on a scattered pose
            at = np.clip(np.searchsorted(fy, fo[late]), 0, len(fy) - 1)
            piece = (fy[at] == fo[late]) & shrunk[late] & (_inside(bo[late], _grown(by[at], 0.1)) >= PIECE_INSIDE)
            if not np.all(piece | scattered[late]):
                continue
            last, start = bo[before][-1], by[0]
            if np.hypot(*(start[:2] + start[2:] - last[:2] - last[2:]) / 2) > HANDOVER_REACH * usual:
                continue
            pairs.setdefault(young.person_id, []).append(old.person_id)
            how = (f"went on over a scattered pose or a piece of them for {int(late.sum())} frames" if late.any()
                   else f"ended on a scattered pose {t_young[0] - t_old[-1]:.2f} s before")
            why[young.person_id] = f"person {young.person_id} is person {old.person_id} (their track {how})"
    olds = [o for os_ in pairs.values() for o in os_]
    joins = {y: os_[0] for y, os_ in pairs.items() if len(os_) == 1 and olds.count(os_[0]) == 1}
    joins = {y: o for y, o in joins.items() if y not in joins.values() and o not in joins}  # no chains
    if not joins:
        return people, {}
    by_id = {p.person_id: p for p in people}
    out = [p for p in people if p.person_id not in joins and p.person_id not in joins.values()]
    for y, o in joins.items():
        old, young = by_id[o], by_id[y]
        fo = boxes[o][0]
        first = int(young.frame_index[0])
        if (y, o) in until:  # up to where its walk led to the new one's first sure pose (the new one's after)
            keep = np.asarray(old.frame_index) <= until[y, o]
            out.append(_joined(old, young, keep, np.asarray(young.frame_index) > until[y, o]))
            continue
        dropped = fo[_tail(size[o] > SCATTERED, fo < first)]
        keep = (np.asarray(old.frame_index) < first) & ~np.isin(old.frame_index, dropped)
        out.append(_joined(old, young, keep))
    return sorted(out, key=lambda p: p.person_id), {y: why[y] for y in joins}


def _crossed(old: PersonObservations, fo: np.ndarray, bo: np.ndarray, young: PersonObservations, fy: np.ndarray,
             by: np.ndarray, usual: float, others: list[tuple[np.ndarray, np.ndarray]]) -> int | None:
    """Did ``old``'s track go on with someone its person crossed, and ``young``'s take the person on? The
    last frame of ``old`` that is theirs, or None. ``fo``, ``bo``: the frames ``old`` is seen on and its
    boxes there (:func:`_boxes`); ``fy``, ``by``: ``young``'s; ``usual``: the person's height (px);
    ``others``: every other track's times seen and box centres there. Yes where, from a frame of ``old``
    up to CROSSED_BACK_S before ``young``'s first sure pose, the person's walk (the median of the steps of
    ``old``'s box centre over CROSSED_WALK_S before) led within CROSSED_NEAR of ``usual`` of that pose,
    drawn within CROSSED_SIZE of their height; ``young`` went on at that walk's pace and heading (its first
    pose to its last within CROSSED_NEW_S), within CROSSED_PACE of their height a second; and every pose of
    ``old`` from ``young``'s first on lay CROSSED_APART from both that walk and ``young``'s pose beside it,
    one of them within CROSSED_BY of a third track's pose up to CROSSED_BACK_S from it in time: on the
    person it crossed. (Someone who stops or turns back while a stranger walks on from behind them is not
    one: no third track where their poses are.)"""
    late = fo >= fy[0]
    if not late.any() or late.all():
        return None
    t_at = dict(zip(np.asarray(old.frame_index).tolist(), np.asarray(old.timestamp_s, np.float64).tolist()))
    t_at.update(zip(np.asarray(young.frame_index).tolist(), np.asarray(young.timestamp_s, np.float64).tolist()))
    to, ty = np.array([t_at[int(f)] for f in fo]), np.array([t_at[int(f)] for f in fy])
    centre, centre_y = (bo[:, :2] + bo[:, 2:]) / 2, (by[:, :2] + by[:, 2:]) / 2
    if not 1 / CROSSED_SIZE <= (by[0, 3] - by[0, 1]) / max(usual, 1e-9) <= CROSSED_SIZE:
        return None
    before = np.flatnonzero(~late & (to >= ty[0] - CROSSED_WALK_S - CROSSED_BACK_S))
    early = np.flatnonzero(ty <= ty[0] + CROSSED_NEW_S[1] + 1e-6)
    if len(before) < 3 or ty[early[-1]] - ty[0] < CROSSED_NEW_S[0] - 1e-6:
        return None
    steps = np.diff(centre[before], axis=0) / np.maximum(np.diff(to[before]), 1e-9)[:, None]
    walk = np.median(steps, axis=0)
    pace = (centre_y[early[-1]] - centre_y[0]) / (ty[early[-1]] - ty[0])
    if np.linalg.norm(pace - walk) > CROSSED_PACE * usual:
        return None
    lo, hi = CROSSED_APART[0] * usual, CROSSED_APART[1] * usual
    at = np.minimum(np.searchsorted(fy, fo[late]), len(fy) - 1)
    beside = fy[at] == fo[late]
    gap = np.linalg.norm(centre[late][beside] - centre_y[at[beside]], axis=1)
    if not beside.any() or not np.all((gap >= lo) & (gap <= hi)):
        return None
    def by_them(t: np.ndarray, c: np.ndarray) -> bool:  # the one it crossed, seen beside its late poses
        close = np.abs(to[late][:, None] - t[None]) <= CROSSED_BACK_S + 1e-6
        far = np.linalg.norm(centre[late][:, None] - c[None], axis=-1)
        return bool(np.any(close & (far <= CROSSED_BY * usual)))
    if not any(by_them(t, c) for t, c in others):
        return None
    for k in before[::-1]:
        if to[k] < ty[0] - CROSSED_BACK_S - 1e-6:
            break
        if np.linalg.norm(centre[k] + walk * (ty[0] - to[k]) - centre_y[0]) > CROSSED_NEAR * usual:
            continue
        off = np.linalg.norm(centre[late] - centre[k] - walk * (to[late] - to[k])[:, None], axis=1)
        if np.all((off >= lo) & (off <= hi)):
            return int(fo[k])
    return None


def _size_ratio(p: PersonObservations, frames: np.ndarray, min_visibility: float) -> np.ndarray:
    """Over ``frames`` (those :func:`_boxes` gives): the pose's pixels a metre (its 2D keypoints' box diagonal
    over its 3D keypoints') over the track's median; 1 where its 3D says nothing (none finite)."""
    rows = np.searchsorted(np.asarray(p.frame_index), frames)
    kp2, kp3 = np.asarray(p.keypoints_2d, np.float64)[rows], np.asarray(p.keypoints_3d, np.float64)[rows]
    ok = (np.asarray(p.visibility)[rows] >= min_visibility) & np.isfinite(kp2).all(-1) & np.isfinite(kp3).all(-1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        size = [np.linalg.norm(np.nanmax(np.where(ok[..., None], k, np.nan), 1) - np.nanmin(np.where(ok[..., None], k, np.nan), 1),
                               axis=1) for k in (kp2, kp3)]
        per_m = np.where(size[1] > 1e-6, size[0] / size[1], np.nan)
        ratio = per_m / np.nanmedian(per_m) if np.isfinite(per_m).any() else np.ones(len(frames))
    return np.where(np.isfinite(ratio), ratio, 1.0)


def _tail(flag: np.ndarray, before: np.ndarray) -> np.ndarray:
    """The run of ``flag`` that ends at the last of ``before`` (bool over the same frames)."""
    out = np.zeros(len(flag), bool)
    for i in np.flatnonzero(before)[::-1]:
        if not flag[i]:
            break
        out[i] = True
    return out


def _grown(boxes: np.ndarray, share: float) -> np.ndarray:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes + share * np.column_stack([-w, -h, w, h])


def _inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row, the share of each box of ``a`` (N, 4) inside the box of ``b`` (N, 4) beside it."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    return w * h / np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-9)


def _joined(old: PersonObservations, young: PersonObservations, keep: np.ndarray,
            keep_young: np.ndarray | slice = slice(None)) -> PersonObservations:
    """``old``'s frames where ``keep``, then ``young``'s (where ``keep_young``), as one person of ``old``'s id."""
    per_frame = {}
    for name in ("frame_index", "timestamp_s", "keypoints_2d", "keypoints_3d", "visibility", "translation_cam",
                 "vertices", "model_params"):
        a, b = getattr(old, name), getattr(young, name)
        per_frame[name] = None if a is None or b is None else np.concatenate([np.asarray(a)[keep], np.asarray(b)[keep_young]])
    return replace(old, **per_frame)


def _boxes(p: PersonObservations, min_visibility: float) -> tuple[np.ndarray, np.ndarray]:
    """The frames a person is seen on (3 keypoints at ``min_visibility``) and the box of those keypoints there."""
    kp, vis = np.asarray(p.keypoints_2d, dtype=np.float64), np.asarray(p.visibility)
    ok = (vis >= min_visibility) & np.isfinite(kp).all(axis=-1)
    seen = ok.sum(axis=1) >= 3
    x, y = np.where(ok, kp[..., 0], np.nan)[seen], np.where(ok, kp[..., 1], np.nan)[seen]
    box = np.column_stack([np.nanmin(x, 1), np.nanmin(y, 1), np.nanmax(x, 1), np.nanmax(y, 1)]) if seen.any() else np.zeros((0, 4))
    return np.asarray(p.frame_index)[seen], box


def with_gaps_filled(obs: Observations, max_gap_s: float) -> Observations:
    """Each track's gaps of at most ``max_gap_s`` (analysed frames where the body model lost a person it
    found before and after) filled in: keypoints, time and placement interpolated, visibility 0 (the
    frames say they were not seen; the smoother moves the body through them as through any unseen
    frame). Tracks with per-frame meshes (the GPU path) are left as they are."""
    if max_gap_s <= 0:
        return obs
    analysed = analysed_frames(obs)
    if analysed is None:  # the frames 0, stride, 2 stride, ...
        step = int(obs.options.get("stride") or 1)
        return replace(obs, people=tuple(p if p.vertices is not None else _gaps_filled(p, step, max_gap_s) for p in obs.people))
    return replace(obs, people=tuple(p if p.vertices is not None else _gaps_filled(p, 1, max_gap_s, analysed)
                                     for p in obs.people))


def _gaps_filled(p: PersonObservations, step: int, max_gap_s: float,
                 analysed: tuple[np.ndarray, np.ndarray] | None = None) -> PersonObservations:
    """With ``analysed`` (every analysed frame's number and time), the frames between are those; without,
    every ``step``-th frame, at times interpolated."""
    f, t = np.asarray(p.frame_index), np.asarray(p.timestamp_s, dtype=np.float64)
    index, times = analysed if analysed is not None else (f, t)
    lo, hi = np.searchsorted(index, f[:-1], "right"), np.searchsorted(index, f[1:], "left")  # (the frames between)
    fill = [index[i:j] if analysed is not None else np.arange(a + step, b, step)
            for a, b, ta, tb, i, j in zip(f[:-1], f[1:], t[:-1], t[1:], lo, hi) if b - a > step and tb - ta <= max_gap_s + 1e-9]
    fill = [x for x in fill if len(x)]
    if not fill:
        return p
    new = np.sort(np.concatenate([f, *fill]), kind="stable")
    seen = np.isin(new, f)
    new_t = np.interp(new, index, times)  # each frame's own time (a variable-rate video's are not evenly spaced)
    new_t[seen] = t

    def spread(x, dtype):  # linear in time between the frames seen
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(len(f), -1)
        out = np.stack([np.interp(new_t, t, flat[:, k]) for k in range(flat.shape[1])], axis=1)
        return out.reshape((len(new),) + x.shape[1:]).astype(dtype)

    vis = np.zeros((len(new),) + np.shape(p.visibility)[1:], dtype=np.asarray(p.visibility).dtype)
    vis[seen] = p.visibility
    placed = {} if p.translation_cam is None else {"translation_cam": spread(p.translation_cam, np.float64)}
    params = {} if p.model_params is None else {"model_params": spread(p.model_params, np.asarray(p.model_params).dtype)}
    return replace(p, frame_index=new.astype(np.int64), timestamp_s=new_t,
                   keypoints_2d=spread(p.keypoints_2d, np.asarray(p.keypoints_2d).dtype),
                   keypoints_3d=spread(p.keypoints_3d, np.asarray(p.keypoints_3d).dtype), visibility=vis, **placed, **params)


NEVER_UPRIGHT_S = 2.0  # s: a track shorter than this whose body never stands up is a broken pose
UPRIGHT_LEAN_DEG = 65.0  # degrees from the floor's up: a body leaning more than this is lying, not standing or crouching


def never_upright(world: RigMotion, t: np.ndarray) -> str:
    """Why a short track is a broken pose rather than a person ("" when it is a person): its spine (pelvis
    to neck, world frame) leans more than UPRIGHT_LEAN_DEG from up on most of its frames. Seen from the
    side such a track is a body folded on the floor (vtest: a 22-px figure 91 m away); a real person lying
    down is kept when seen for longer than NEVER_UPRIGHT_S."""
    span = float(t[-1] - t[0]) if len(t) else 0.0
    if span >= NEVER_UPRIGHT_S or not len(t):
        return ""
    j = world.joints()
    spine = j[:, JOINT["neck"]] - j[:, JOINT["pelvis"]]
    lean = np.degrees(np.arccos(np.clip(spine[:, 1] / np.maximum(np.linalg.norm(spine, axis=1), 1e-9), -1, 1)))
    if np.median(lean) <= UPRIGHT_LEAN_DEG:
        return ""
    return f"its body never stood upright in its {span:.1f} s (spine {np.median(lean):.0f} deg from up): a broken pose"


__all__ = ["analysed_frames", "handed_over", "keep_people", "pieces_of_others", "with_gaps_filled", "never_upright", "NEVER_UPRIGHT_S", "UPRIGHT_LEAN_DEG"]
