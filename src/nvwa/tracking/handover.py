"""Tracks joined where the tracker lost a person without knowing it, seen with hindsight in the
reconstruction: a track that went on over a scattered pose or a piece of its person while a new one had
them, one that went on with someone its person crossed, and someone lost in the picture and found again
where they were going. Observations in, observations and the reasons out; no model."""

from __future__ import annotations

import warnings
from dataclasses import replace
import numpy as np

from nvwa.body.keypoints import LEGS
from nvwa.camera.background import CameraTrack
from nvwa.observations import KEYPOINT_COUNT, PER_FRAME, PersonObservations
from nvwa.tracking.boxes import iou_matrix, near_edge
from nvwa.tracking.dressed import _dressed_otherwise
from nvwa.tracking.people import PIECE_INSIDE
from nvwa.tracking.seen import _head_moved, _heads, _seen, _Seen, _tall, _Timeline, _walk, _walked


HANDOVER_OVERLAP_S = 0.5  # a young track that began at most this long before (or after) an older one ended ...
HANDOVER_REACH = 2.0  # ... within this many of the older one's heights of where it last stood ...
SCATTERED = 1.5  # ... while the older one held a pose drawn this many times its usual pixels a metre ...
SHRUNK = 0.85  # ... or a piece of the person: inside the new one's box, drawn under this share of them
CROSSED_BACK_S = 0.3  # ... or someone it crossed: up to this long before the new one began, its walk led ...
CROSSED_NEAR = 0.2  # ... within this share of its height of where the new one began, ...
CROSSED_APART = (0.25, 1.0)  # ... while its own poses from then on lay this far (in its heights) from it, ...
CROSSED_BY = 0.5  # ... with a third track within this share of its height of them (the one it crossed), ...
CROSSED_PACE = 0.5  # ... and the new one walked on as it had, within this many of its heights a second
CROSSED_WALK_S = 1.0  # (its walk: the least-squares pace of its box centre over this long before it left it)
CROSSED_SIZE = 1.35  # (the new one's first pose within this many times the person's height, either way)
CROSSED_NEW_S = (0.2, 0.5)  # (the new one's walk: from its first pose to its last in this long, at least the first)
RESUMED_GAP_S = 0.8  # a track lost in the picture, and a new one begun there at most this long after ...
RESUMED_REACH = (0.25, 0.75)  # ... within a + b * gap (s) of the person's heights of where their walk led ...
RESUMED_SIZE = 1.35  # ... drawn within this many times their height (either way): the same person ...
RESUMED_HEADING = 0.25  # ... not heading the other way, where both move this many of their heights a second ...
RESUMED_MIN_S = 0.5  # ... the new one seen over at least this long (where too short to keep of its own; a hand-over's too) ...
RESUMED_TWIN_IOU = 0.5  # ... not a second track on someone followed (this median IoU over its first 0.5 s) ...
# ... nor dressed otherwise (nvwa.tracking.dressed.RESUMED_CLOTHES)
EMERGED_HEAD = (0.35, 0.75)  # a new track drawn too small at first may be compared at its tallest then where the top
# of its box stayed within a + b x the time between (s) of the person's heights of its first one's (grown from the head)
OTHERS_PAD_S = 1.0  # the third tracks a join's checks meet: those seen within this of the two tracks' meeting (the
# checks look at most CROSSED_BACK_S before the new one's first pose and CROSSED_NEW_S[1] after it)
SAMPLES = ("colour_frames", "colour_samples")  # a track's colour samples: some frames', in frame order
EDGE = (0.02, 0.3)  # at the picture's border: this near it, of its smaller side or of the person's height


def handed_over(people: list[PersonObservations], among: set | None = None, min_visibility: float = 0.5,
                picture: tuple[int, int] | None = None,
                camera: CameraTrack | None = None) -> tuple[list[PersonObservations], dict[int, str]]:
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
    as it is joined to one that is). Or, in a ``picture`` (width, height px) given, the older track lost its
    person away from the picture's border and a new one began away from it too, up to RESUMED_GAP_S after,
    where their walk led (:func:`_resumed`): the tracker did not know them again (vtest 20.4 s, a woman in
    black standing at the back, a frame between; 48.2 s, a man walking away behind two others, 0.7 s;
    Sports2D re-encoded at CRF 26 and 1024 px, the jumper lost mid-flip and found as he landed, 0.73 s).
    Only where that older track is the one such for the new one and the new one the one such for it
    (Sports2D re-encoded: the jumper's track went on over the trees, or on his head and chest, as he landed;
    or ended over the trees 0.16 s before the new one began). A chain of such joins found in one pass is joined
    whole, link after link, and the joins are looked for again with the joined tracks until none is made
    (vtest 46-50 s: a man walking away behind two others was three tracks, the middle one 0.8 s; its CRF 18
    copy 46-79 s: the same man four, every link found in the first pass). The joined person
    keeps the older id: its frames up to the new one's first (less the scattered ones just before it; for
    someone crossed, up to where their walk led to the new one; for someone lost, all it had), then the new
    one's. Tracks of a mesh backend (their identity locked per track) are left as they are. ``among``: the
    ids that may be joined (those long enough to be kept: a short track beside both is neither); a new track
    that took on someone crossed or found someone lost may be shorter, and a track too short to keep still
    claims a new one so (it is joined to nothing, but bars that one from any other). A new track too short
    to keep may take over by the hand-over too (the older one went on over a scattered pose or a piece, or
    ended on a scattered pose), if its sure poses span RESUMED_MIN_S, and only an older track no new track
    long enough to keep claims (Sports2D as a phone's HEVC: the jumper's track went on over a piece of him
    as he landed, and the new one had only his last 0.6-0.9 s). ``camera``: how the
    background moved (a handheld video), so that where people are and where they walked are compared where
    the first frame shows them. -> (people, joined id -> why)."""
    return until_none_joined(_one_pass, people, among, min_visibility, picture, camera)


def until_none_joined(one_pass, people: list[PersonObservations], *args) -> tuple[list[PersonObservations], dict[int, str]]:
    """``one_pass(people, *args)`` -> (people, joined id -> why), run again on what it gave until it joins
    none: a chain is joined a link at a time. -> (people, every joined id -> why)."""
    joined: dict[int, str] = {}
    while True:
        people, more = one_pass(people, *args)
        if not more:
            return people, joined
        joined.update(more)


def _one_pass(people: list[PersonObservations], among: set | None, min_visibility: float,
              picture: tuple[int, int] | None, camera: CameraTrack | None) -> tuple[list[PersonObservations], dict[int, str]]:
    """One pass of :func:`handed_over`'s joins, a chain of them joined whole. A track too short to keep may still claim a new
    one as someone crossed or lost in the picture: it is joined to nothing, but a new one it claims is
    joined to no one else either (as a whole pass over them would find)."""
    seen = {p.person_id: _seen(p, min_visibility, camera) for p in people}
    unlocked = [p for p in people if p.vertices is None and len(seen[p.person_id].frames) >= 3]
    keep = {p.person_id for p in unlocked if among is None or p.person_id in among}
    size = {p.person_id: _size_ratio(p, seen[p.person_id], min_visibility) for p in unlocked if p.person_id in keep}
    legs_unseen = {p.person_id: _legs_unseen(p, seen[p.person_id], min_visibility) for p in unlocked}
    pairs, why, until = {}, {}, {}  # young -> olds; (young, old) -> why; (young, old) -> the old one's last frame kept
    brief = set()  # (young, old): a hand-over claimed by a new track too short to keep of its own
    timeline = _Timeline.of(seen)
    starts = np.array([float(np.asarray(p.timestamp_s)[0]) for p in unlocked])
    ends = np.array([float(np.asarray(p.timestamp_s)[-1]) for p in unlocked])
    for k, old in enumerate(unlocked):
        so = seen[old.person_id]
        fo, bo = so.frames, so.boxes
        tall = _tall(so)  # (where the first frame shows them, as their places are)
        usual = float(np.median(tall))
        recent = so.times >= so.times[-1] - CROSSED_WALK_S - 1e-6  # (someone walking away shrinks)
        lately = float(np.median(tall[recent])) if recent.sum() >= 3 else usual
        t_old = np.asarray(old.timestamp_s)
        # the tracks begun after it began, ended after it ended and begun at most so long after its end (all at once:
        # a long video's thousands of tracks are not paired one by one)
        later = (starts > starts[k]) & (ends > ends[k]) & (starts - ends[k] <= max(RESUMED_GAP_S, HANDOVER_OVERLAP_S) + 1e-6)
        for young in (unlocked[j] for j in np.flatnonzero(later)):
            t_young = np.asarray(young.timestamp_s)
            sy = seen[young.person_id]
            others = timeline.around(t_young[0] - OTHERS_PAD_S, max(t_old[-1], t_young[0]) + OTHERS_PAD_S,
                                     (old.person_id, young.person_id))
            if picture is not None and t_old[-1] < t_young[0]:
                gap = _resumed(so, sy, lately, picture, others, young.person_id in keep, legs_unseen[young.person_id]) \
                    if not _dressed_otherwise(old, young) else None
                if gap is not None:
                    pairs.setdefault(young.person_id, []).append(old.person_id)
                    until[young.person_id, old.person_id] = int(fo[-1])
                    why[young.person_id, old.person_id] = (f"person {young.person_id} is person {old.person_id} (lost in "
                                                           f"the picture and found again where they were going {gap:.2f} s after)")
                    continue
            if abs(t_old[-1] - t_young[0]) > HANDOVER_OVERLAP_S + 1e-6:
                continue
            crossed = _crossed(so, sy, lately, others)
            if crossed is not None:
                pairs.setdefault(young.person_id, []).append(old.person_id)
                until[young.person_id, old.person_id] = crossed
                why[young.person_id, old.person_id] = (f"person {young.person_id} is person {old.person_id} (their track "
                                                       f"went on with someone they crossed after frame {crossed})")
                continue
            short = young.person_id not in keep
            if old.person_id not in keep or short and sy.times[-1] - sy.times[0] < RESUMED_MIN_S - 1e-6:
                continue  # (the older one not kept, or a new one too short to keep and seen under RESUMED_MIN_S)
            first = int(young.frame_index[0])
            fy, by = sy.frames, sy.boxes
            scattered, shrunk = size[old.person_id] > SCATTERED, size[old.person_id] < SHRUNK
            tail = _tail(scattered, fo < first)
            before, late = (fo < first) & ~tail, fo >= first
            if not before.any() or (not late.any() and tail.sum() < 2):
                continue  # ended before the new one began: only where it ended on a scattered pose
            at = np.clip(np.searchsorted(fy, fo[late]), 0, len(fy) - 1)
            piece = (fy[at] == fo[late]) & shrunk[late] & (_inside(bo[late], _grown(by[at], 0.1)) >= PIECE_INSIDE)
            if not np.all(piece | scattered[late]):
                continue
            if np.linalg.norm(sy.place[0] - so.place[before][-1]) > HANDOVER_REACH * usual:
                continue
            pairs.setdefault(young.person_id, []).append(old.person_id)
            if short:
                brief.add((young.person_id, old.person_id))
            n = int(late.sum())
            how = (f"went on over a scattered pose or a piece of them for {n} frame{'s' * (n != 1)}" if late.any()
                   else f"ended on a scattered pose {t_young[0] - t_old[-1]:.2f} s before")
            why[young.person_id, old.person_id] = f"person {young.person_id} is person {old.person_id} (their track {how})"
    # a short new track's hand-over gives way to a kept one's claim on the same older track (it would only bar it)
    claimed = {o for y, os_ in pairs.items() if y in keep for o in os_}
    for y, o in brief & {(y, o) for y, os_ in pairs.items() for o in os_ if o in claimed}:
        pairs[y].remove(o)
        if not pairs[y]:
            del pairs[y]
    olds = [o for os_ in pairs.values() for o in os_]
    joins = {y: os_[0] for y, os_ in pairs.items() if len(os_) == 1 and olds.count(os_[0]) == 1}
    joins = {y: o for y, o in joins.items() if o in keep}  # (a short one's claims only barred others)
    if not joins:
        return people, {}
    by_id = {p.person_id: p for p in people}
    after = {o: y for y, o in joins.items()}  # a chain (each link's older track the young one of the link before) ...
    out = [p for p in people if p.person_id not in joins and p.person_id not in after]
    said = {}
    for head in (o for o in after if o not in joins):  # ... joined whole, link after link, to its first track's id
        person, o = by_id[head], head
        while o in after:
            y = after[o]
            young, fo = by_id[y], seen[o].frames
            first, frames = int(young.frame_index[0]), np.asarray(person.frame_index)
            if (y, o) in until:  # up to where its walk led to the new one's first sure pose (the new one's after)
                person = _joined(person, young, frames <= until[y, o], np.asarray(young.frame_index) > until[y, o])
            else:
                dropped = fo[_tail(size[o] > SCATTERED, fo < first)]
                person = _joined(person, young, (frames < first) & ~np.isin(frames, dropped))
            said[y] = why[y, o].replace(f"person {y} is person {o} (", f"person {y} is person {head} (", 1)
            o = y
        out.append(person)
    return sorted(out, key=lambda p: p.person_id), said


def _crossed(so: _Seen, sy: _Seen, usual: float, others: list[_Seen]) -> int | None:
    """Did an older track (``so``) go on with someone its person crossed, and a new one (``sy``) take the person
    on? The last frame of the older one that is theirs, or None. ``usual``: the person's height (px of the first
    frame); ``others``: every other track. Yes where, from a frame of the older one up to CROSSED_BACK_S before
    the new one's first sure pose, the person's walk (:func:`_walk` over CROSSED_WALK_S before) led within
    CROSSED_NEAR of ``usual`` of that pose, drawn within CROSSED_SIZE of their height; the new one went on at
    that walk's pace and heading (its first pose to its last within CROSSED_NEW_S), within CROSSED_PACE of their
    height a second; and every pose of the older one from the new one's first on lay CROSSED_APART from both
    that walk and the new one's pose beside it, one of them within CROSSED_BY of a third track's pose up to
    CROSSED_BACK_S from it in time: on the person it crossed. (Someone who stops or turns back while a stranger
    walks on from behind them is not one: no third track where their poses are.)"""
    fo, to, centre = so.frames, so.times, so.place
    fy, ty, centre_y = sy.frames, sy.times, sy.place
    late = fo >= fy[0]
    if not late.any() or late.all():
        return None
    if not 1 / CROSSED_SIZE <= _tall(sy)[0] / max(usual, 1e-9) <= CROSSED_SIZE:
        return None
    before = np.flatnonzero(~late & (to >= ty[0] - CROSSED_WALK_S - CROSSED_BACK_S))
    early = np.flatnonzero(ty <= ty[0] + CROSSED_NEW_S[1] + 1e-6)
    if len(before) < 3 or ty[early[-1]] - ty[0] < CROSSED_NEW_S[0] - 1e-6:
        return None
    walk = _walk(to[before], centre[before], to[before[0]])
    pace = (centre_y[early[-1]] - centre_y[0]) / (ty[early[-1]] - ty[0])
    if np.linalg.norm(pace - walk) > CROSSED_PACE * usual:
        return None
    lo, hi = CROSSED_APART[0] * usual, CROSSED_APART[1] * usual
    at = np.minimum(np.searchsorted(fy, fo[late]), len(fy) - 1)
    beside = fy[at] == fo[late]
    gap = np.linalg.norm(centre[late][beside] - centre_y[at[beside]], axis=1)
    if not beside.any() or not np.all((gap >= lo) & (gap <= hi)):
        return None

    def by_them(other: _Seen) -> bool:  # the one it crossed, seen beside its late poses
        close = np.abs(to[late][:, None] - other.times[None]) <= CROSSED_BACK_S + 1e-6
        far = np.linalg.norm(centre[late][:, None] - other.place[None], axis=-1)
        return bool(np.any(close & (far <= CROSSED_BY * usual)))
    if not any(by_them(o) for o in others):
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


def _resumed(so: _Seen, sy: _Seen, usual: float, picture: tuple[int, int], others: list[_Seen],
             young_kept: bool, legs_unseen: bool = False) -> float | None:
    """Was a new track (``sy``) begun where an older one's person (``so``; ``usual``: their height, px of the first
    frame), lost in the ``picture`` (width, height), was going? The time between (s), or None. Neither at the
    picture's border (:func:`_at_border`: someone walking out, someone walking in); the new one's first sure
    pose up to RESUMED_GAP_S after the older one's last, drawn within RESUMED_SIZE of their height and within
    RESUMED_REACH (a + b x that time, in their heights) of where the older one's walk (:func:`_walk` over
    CROSSED_WALK_S) led; where that first pose is drawn smaller, most of its legs unseen (``legs_unseen``), its
    tallest over its first CROSSED_NEW_S[1] is, if its box's top stayed within EMERGED_HEAD of the first's
    (someone coming out from behind something, drawn from the head down: vtest's CRF 18 copy at 55.0 s, a man
    found again behind the sign, his head over it at first, 0.31 of his height, then 0.49 and 0.79), and then
    headings are read from the boxes' tops, the twin check from that pose on. Not heading the other way
    (RESUMED_HEADING), seen over RESUMED_MIN_S where it is too short to keep (``young_kept``), and no second
    track on someone another track follows (RESUMED_TWIN_IOU over its first CROSSED_NEW_S[1])."""
    gap = float(sy.times[0] - so.times[-1])
    if not 0 < gap <= RESUMED_GAP_S + 1e-6 or _at_border(so.boxes[-1], picture, usual / so.scale[-1]) \
            or _at_border(sy.boxes[0], picture, usual / sy.scale[0]):
        return None
    if not young_kept and sy.times[-1] - sy.times[0] < RESUMED_MIN_S - 1e-6:
        return None
    early = sy.times <= sy.times[0] + CROSSED_NEW_S[1] + 1e-6
    # where and how tall it is drawn: at its first pose, or, where that is too small, at its tallest over its
    # first CROSSED_NEW_S[1] if it grew from the first one's head down (its box's top staying with it: someone
    # coming out from behind something, not a track that went onto someone else)
    tall = _tall(sy)[early] / max(usual, 1e-9)
    k = int(np.argmax(tall)) if tall[0] < 1 / RESUMED_SIZE and legs_unseen else 0
    if k and _head_moved(sy, k) > (EMERGED_HEAD[0] + EMERGED_HEAD[1] * float(sy.times[k] - sy.times[0])) * usual:
        return None
    if not 1 / RESUMED_SIZE <= tall[k] <= RESUMED_SIZE:
        return None
    walk, last = _walked(so.times, so.place, CROSSED_WALK_S)
    led = last + walk * float(sy.times[k] - so.times[-1])  # (within the reach of the time unseen, not longer)
    if np.linalg.norm(sy.place[k] - led) > (RESUMED_REACH[0] + RESUMED_REACH[1] * gap) * usual:
        return None
    if k:  # headings on the head's path (the box's top): the box's centre of someone drawn from the head down sinks
        walk = _walked(so.times, _heads(so), CROSSED_WALK_S)[0]
        pace = _walk(sy.times[early], _heads(sy)[early], sy.times[0])
    else:
        pace = _walk(sy.times[early], sy.place[early], sy.times[0])
    moving = min(np.linalg.norm(walk), np.linalg.norm(pace)) >= RESUMED_HEADING * usual
    if moving and float(np.dot(walk, pace)) < 0:
        return None
    grown = early & (np.arange(len(sy.times)) >= k)  # (a head's box overlaps little of anyone's whole box)
    for other in others:  # a second track on someone followed: not the one lost
        both, i, j = np.intersect1d(sy.frames[grown], other.frames, return_indices=True)
        if len(both) and np.median(np.diag(iou_matrix(sy.boxes[grown][i], other.boxes[j]))) >= RESUMED_TWIN_IOU:
            return None
    return gap


def _legs_unseen(p: PersonObservations, s: _Seen, min_visibility: float) -> bool:
    """Are most of the legs of a track's first sure pose (``s``: its :class:`_Seen`) unseen (someone drawn
    from the head down, the rest hidden; not someone whole and far off)?"""
    sets = {n: LEGS[n] for n, count in KEYPOINT_COUNT.items() if n in LEGS and count == np.shape(p.visibility)[1]}
    if not len(s.frames) or not sets:
        return False
    row = int(np.searchsorted(p.frame_index, s.frames[0]))
    return bool(np.mean(np.asarray(p.visibility)[row, list(next(iter(sets.values())))] >= min_visibility) < 0.5)


def _at_border(box: np.ndarray, picture: tuple[int, int], usual: float) -> bool:
    """Is ``box`` at the ``picture``'s border: within EDGE of its smaller side, or of the person's height
    ``usual`` (px of the ``box``'s frame), of it?"""
    w, h = picture
    return near_edge(box, w, h, max(EDGE[0] * min(w, h), EDGE[1] * usual))


def _size_ratio(p: PersonObservations, s: _Seen, min_visibility: float) -> np.ndarray:
    """Over the frames of ``s`` (the track's :class:`_Seen`): the pose's pixels a metre (its 2D keypoints' box
    diagonal over its 3D keypoints', in the first frame's pixels: a zoom is no one coming nearer) over the
    track's median; 1 where its 3D says nothing (none finite)."""
    frames = s.frames
    rows = np.searchsorted(np.asarray(p.frame_index), frames)
    kp2, kp3 = np.asarray(p.keypoints_2d, np.float64)[rows], np.asarray(p.keypoints_3d, np.float64)[rows]
    ok = (np.asarray(p.visibility)[rows] >= min_visibility) & np.isfinite(kp2).all(-1) & np.isfinite(kp3).all(-1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        size = [np.linalg.norm(np.nanmax(np.where(ok[..., None], k, np.nan), 1) - np.nanmin(np.where(ok[..., None], k, np.nan), 1),
                               axis=1) for k in (kp2, kp3)]
        per_m = np.where(size[1] > 1e-6, size[0] * s.scale / size[1], np.nan)
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
    """``old``'s frames where ``keep`` and ``young``'s where ``keep_young``, in frame order, as one person of
    ``old``'s id, with the colour samples of those frames and their medians (observations without samples:
    ``old``'s colours)."""
    per_frame = {}
    order = np.argsort(np.concatenate([np.asarray(old.frame_index)[keep], np.asarray(young.frame_index)[keep_young]]), kind="stable")
    for name in PER_FRAME:
        a, b = getattr(old, name), getattr(young, name)
        per_frame[name] = None if a is None or b is None else np.concatenate([np.asarray(a)[keep], np.asarray(b)[keep_young]])[order]
    a, b = (samples_of(p, np.asarray(p.frame_index)[k]) for p, k in ((old, keep), (young, keep_young)))
    if a["colour_frames"] is None and b["colour_frames"] is None:
        return replace(old, **per_frame)
    both = {n: np.concatenate([x[n] for x in (a, b) if x[n] is not None]) for n in SAMPLES}
    order = np.argsort(both["colour_frames"], kind="stable")
    return replace(old, **per_frame, **_with_colours(*(both[n][order] for n in SAMPLES)))


def frames_of(p: PersonObservations, mask: np.ndarray) -> dict:
    """``p``'s per-frame fields where ``mask``, with the colour samples of those frames and their medians
    (:func:`samples_of`): a piece of a track, for ``replace``."""
    return {**{n: None if getattr(p, n) is None else np.asarray(getattr(p, n))[mask] for n in PER_FRAME},
            **samples_of(p, np.asarray(p.frame_index)[mask])}


def samples_of(p: PersonObservations, frames: np.ndarray) -> dict:
    """``p``'s colour samples (:data:`SAMPLES`) taken at ``frames`` and their medians (``colours``; None where
    none is; all three None where ``p`` has no samples: observations from before they were kept)."""
    if p.colour_frames is None or p.colour_samples is None:
        return {**dict.fromkeys(SAMPLES), "colours": None}
    mine = np.isin(p.colour_frames, frames)
    return _with_colours(np.asarray(p.colour_frames)[mine], np.asarray(p.colour_samples)[mine])


def _with_colours(frames: np.ndarray, samples: np.ndarray) -> dict:
    from nvwa.body.colours import person_colours

    return {"colour_frames": frames, "colour_samples": samples, "colours": person_colours(list(samples))}


__all__ = ["handed_over"]
