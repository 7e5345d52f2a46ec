"""Tracks whose clothes changed, seen with hindsight in the reconstruction: a track lost its person behind
something and went on with someone lost beside it a moment before. The tracker cannot see it as it happens
(at a few grey levels the two look alike); afterwards the colour samples tell: the track's clothes before
and after are not one person's, and the person it went on with is dressed like the one lost there. The
frames after go to that person's track. Observations in, observations and the reasons out; no model."""

from __future__ import annotations

import bisect
from dataclasses import replace

import numpy as np

from nvwa.body.colours import linear_from_srgb, srgb_from_linear
from nvwa.camera.background import CameraTrack
from nvwa.observations import PersonObservations
from nvwa.tracking.dressed import RESUMED_CLOTHES, _clothes_apart, lab_of
from nvwa.tracking.handover import _joined, frames_of
from nvwa.tracking.seen import _tall, _walked
from nvwa.tracking.swaps import _feet_seen

CHANGED_APART = RESUMED_CLOTHES  # upper or lower clothing this far apart (CIELAB) before and after: not one person ...
CHANGED_SAMPLES = 2  # ... over at least this many samples each side (a sample a few frames apart, where seen clearly)
CHANGED_SURE = 0.75  # ... this share of them nearer their own side's colour than the other's (a passer-by in a sample)
CHANGED_ENDS = 3  # for good: of the track's first this many samples (of the part that changed) and its last ...
CHANGED_ENDS_SURE = 0.6  # ... this share dressed as on their own side (two of three, or both of two: one may be a passer-by)
CHANGED_LIKE = CHANGED_APART / 2  # the track lost there dressed within this of it after (every part known to both) ...
CHANGED_NEAR = 1.0  # the track lost there: its last sure pose within this many of the person's heights of the track's ...
CHANGED_AT_S = 0.3  # ... pose (the nearest in time, at most this far from it), between the last sample before and the first after
CHANGED_WALKED = 0.5  # not where the track's own walk went on: its first pose after within this many of its heights of
CHANGED_WALK_S = 1.0  # ... where its walk over this long before the change led (and nearer there than the lost one's walk led)
CHANGED_WHOLE = 0.8  # (a walk from the poses drawn at this share of the person's usual height or more: legs hidden
# as they were lost put their feet higher)
CHANGED_STEP = 0.25  # the cut: at the feet's largest step between frames, where this many of the person's heights or more
CHANGED_GAINS = np.exp(np.linspace(np.log(1 / 12), np.log(12), 49))  # a change of light: the light's gain (linear) ...
CHANGED_TINTS = np.array([0.8, 0.9, 1.0, 1.1, 1.25])  # ... and its red and blue against its green (shade is bluish) ...
CHANGED_LIT = CHANGED_LIKE  # ... bringing every part known both sides (the skin too) within this of after: no change


def clothes_changed(people: list[PersonObservations], among: set | None = None, min_visibility: float = 0.5,
                    camera: CameraTrack | None = None) -> tuple[list[PersonObservations], dict[int, str]]:
    """Tracks put back on their own people where one went on with someone lost beside it: the track's upper or
    lower clothing (its colour samples, CIELAB) before a sample and after it are CHANGED_APART or more apart,
    over CHANGED_SAMPLES or more samples each side, CHANGED_SURE of each side nearer its own median, the
    track's first CHANGED_ENDS mostly as before and its last as after (CHANGED_ENDS_SURE; for good: not a
    passer-by read over it),
    and no one change of light explaining it (shade: CHANGED_GAINS, CHANGED_TINTS, the skin changing with
    the clothes where seen); and
    between those two samples another track's last sure pose lay within CHANGED_NEAR of this one's person's
    heights of this track's pose then (CHANGED_AT_S), that track dressed like this one after (within
    CHANGED_LIKE on every part known to both: someone dressed a little otherwise could be the track's own
    person in a shadow, with a stranger dressed as the shadow shows them lost beside them) and otherwise
    than before (its samples' medians), and the track after not where its own walk led (CHANGED_WALKED,
    nearer there than where the lost one's led: it walked on, its look changed). The track keeps its frames
    up to its feet's largest step (CHANGED_STEP) between that track's end and the first sample after, else
    its longest stretch without a pose there (else up to that end); the rest goes to that track. One for
    one; not for mesh backends' tracks (their identity locked per track).
    vtest 2-5 s: a man in black walking right to the sign passed a man in jeans (whose track lost him,
    his legs behind the first); the black one's track went on with the man in jeans while he stood
    behind the sign. ``among``: the ids that may have gone on so (those long enough to be kept).
    The lost one may be any track (a short one too: it is the person's).
    ``camera``: how the background moved (a handheld video). -> (people, the changed track's id -> why)."""
    seen = {p.person_id: _feet_seen(p, min_visibility, camera) for p in people}
    unlocked = [p for p in people if p.vertices is None and len(seen[p.person_id].frames) >= 3]
    found = []
    for p in unlocked:
        if among is not None and p.person_id not in among:
            continue
        change = _change(p)
        if change is None:
            continue
        lo, hi, before, after = change
        sp = seen[p.person_id]
        usual = float(np.median(_tall(sp)))
        lost = []
        for q in unlocked:
            sq = seen[q.person_id]
            end = int(sq.frames[-1])
            if q is p or not lo <= end < hi or int(np.asarray(q.frame_index)[-1]) >= hi:
                continue
            k = int(np.argmin(np.abs(sp.times - sq.times[-1])))
            if abs(sp.times[k] - sq.times[-1]) > CHANGED_AT_S + 1e-6 or \
                    np.linalg.norm(sp.place[k] - sq.place[-1]) > CHANGED_NEAR * usual:
                continue
            theirs = _medians(q)
            if theirs is None or _apart_by(theirs, after) >= CHANGED_LIKE or not _clothes_apart(theirs, before):
                continue
            if _walked_on(sp, sq, lo, hi, usual):
                continue
            lost.append((q.person_id, end))
        if len(lost) == 1:
            found.append((p.person_id, *lost[0], lo, hi, _apart_by(before, after)))
    takers, lost_ids = [f[0] for f in found], [f[1] for f in found]
    found = [f for f in found if lost_ids.count(f[1]) == 1 and f[0] not in lost_ids and f[1] not in takers]
    if not found:
        return people, {}
    by_id = {p.person_id: p for p in people}
    why = {}
    for a, b, end, lo, hi, apart in found:
        taker, lost = by_id[a], by_id[b]
        cut = _cut(np.asarray(taker.frame_index), seen[a], max(lo, end), hi)
        mine = np.asarray(taker.frame_index) <= cut
        # the lost track's own frames up to the taker's first after the cut (an unsure pose it kept later is dropped:
        # one person, one pose a frame, in order)
        after_cut = np.asarray(taker.frame_index)[~mine]
        by_id[b] = _joined(lost, taker, np.asarray(lost.frame_index) < (after_cut[0] if len(after_cut) else np.inf), ~mine)
        by_id[a] = replace(taker, **frames_of(taker, mine))
        why[a] = (f"person {a}'s track changed clothes after frame {cut} ({apart:.0f} apart): it went on with person {b}, "
                  f"lost beside them at frame {end}; those frames are person {b}'s")
    return [by_id[p.person_id] for p in people], why


def _change(p: PersonObservations):
    """Where a track's clothes changed: (the last sample's frame before, the first after, the upper and lower
    medians before (2, 3), after), at the sample that splits them into the two tightest groups (the least
    sum of squares about each group's mean), or None. Each split's medians and sums of squares come from
    running ones (a long track's thousands of samples: each split's own would cost their square)."""
    if p.colour_samples is None or len(p.colour_samples) < 2 * CHANGED_SAMPLES:
        return None
    every = lab_of(np.asarray(p.colour_samples))  # (S, 3, 3): upper, lower, skin
    lab = every[:, :2]
    n = len(lab)
    firsts, lasts = _running_medians(every), _running_medians(every[::-1])[::-1]  # (S+1, 3, 3): of [:s], of [s:]
    spreads = _running_spreads(lab) + _running_spreads(lab[::-1])[::-1]  # (S+1,): the two groups' at each split
    splits = np.arange(CHANGED_SAMPLES, n - CHANGED_SAMPLES + 1)
    with np.errstate(invalid="ignore"):
        apart = np.linalg.norm(firsts[splits, :2] - lasts[splits, :2], axis=2)  # (C, 2): upper, lower
    known = np.isfinite(apart).any(axis=1)
    splits, apart = splits[known], apart[known]
    far = np.nanmax(apart, axis=1) >= CHANGED_APART
    splits, parts = splits[far], np.nanargmax(apart[far], axis=1)
    passed = []
    for part in (0, 1):
        at = splits[parts == part]
        if not len(at):
            continue
        sure = _sure_at(lab[:, part], at, firsts[at, part], lasts[at, part])
        seen = np.flatnonzero(np.isfinite(lab[:, part]).all(axis=1))
        for s, before, after in zip(at[sure], firsts[at[sure], part], lasts[at[sure], part]):
            # for good: the track's first samples dressed as before and its last as after (a passer-by's clothes
            # read over a track's end, or for a few samples between its own, are no change)
            m = int(np.searchsorted(seen, s))
            if _sure(lab[seen[:min(CHANGED_ENDS, m)], part], before, after, CHANGED_ENDS_SURE) and \
                    _sure(lab[seen[max(m, len(seen) - CHANGED_ENDS):], part], after, before, CHANGED_ENDS_SURE):
                passed.append(int(s))
    # the tightest split that no one change of light explains
    best = next((s for s in sorted(passed, key=lambda s: spreads[s]) if not _lit_otherwise(firsts[s], lasts[s])), None)
    if best is None:
        return None
    frames = np.asarray(p.colour_frames)
    return int(frames[best - 1]), int(frames[best]), firsts[best, :2], lasts[best, :2]


def _sure_at(rows: np.ndarray, splits: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """:func:`_sure` of both sides at each split at once: ``rows`` (S, 3) one part's samples (NaN unseen),
    ``splits`` (C,), ``before``/``after`` (C, 3) that part's medians there -> (C,) bool. A sample is
    nearer ``before`` than ``after`` where 2 x.(after - before) < |after|^2 - |before|^2: one product, in
    blocks of splits (a long track's samples by its splits)."""
    seen = np.isfinite(rows).all(axis=1)
    x = np.where(seen[:, None], rows, 0.0).astype(np.float64)
    index = np.arange(len(rows))[:, None]
    out = np.zeros(len(splits), bool)
    for lo in range(0, len(splits), 256):
        at, b, a = splits[lo:lo + 256], before[lo:lo + 256].astype(np.float64), after[lo:lo + 256].astype(np.float64)
        side = 2.0 * x @ (a - b).T - ((a * a).sum(axis=1) - (b * b).sum(axis=1))[None]  # (S, C): < 0 nearer before
        first = (index < at[None]) & seen[:, None]
        last = ~first & seen[:, None]
        n_first, n_last = first.sum(axis=0), last.sum(axis=0)
        out[lo:lo + 256] = (n_first >= CHANGED_SAMPLES) & (n_last >= CHANGED_SAMPLES) & \
            (((side < 0) & first).sum(axis=0) >= CHANGED_SURE * n_first) & (((side > 0) & last).sum(axis=0) >= CHANGED_SURE * n_last)
    return out


def _running_medians(lab: np.ndarray) -> np.ndarray:
    """(S, P, 3) -> (S+1, P, 3): row s is :func:`_median` of the first s samples (each channel's running
    sorted values)."""
    out = np.full((len(lab) + 1,) + lab.shape[1:], np.nan)
    for i in range(lab.shape[1]):
        seen = np.isfinite(lab[:, i]).all(axis=1)
        values = [[] for _ in range(lab.shape[2])]
        for s in range(len(lab)):
            if seen[s]:
                for column, v in zip(values, lab[s, i].tolist()):
                    bisect.insort(column, v)
            k = len(values[0])
            if k >= CHANGED_SAMPLES:
                out[s + 1, i] = [(column[(k - 1) // 2] + column[k // 2]) / 2 for column in values]
    return out


def _running_spreads(lab: np.ndarray) -> np.ndarray:
    """(S, P, 3) -> (S+1,): row s is the first s samples' sum of squares about their mean, each part's seen
    ones (from running sums)."""
    total = np.zeros(len(lab) + 1)
    for i in range(lab.shape[1]):
        seen = np.isfinite(lab[:, i]).all(axis=1)
        x = np.where(seen[:, None], lab[:, i], 0.0).astype(np.float64)
        k = np.r_[0, np.cumsum(seen)]
        sums, squares = np.r_[np.zeros((1, 3)), np.cumsum(x, axis=0)], np.r_[0.0, np.cumsum((x * x).sum(axis=1))]
        total += squares - (sums * sums).sum(axis=1) / np.maximum(k, 1)
    return total


def _median(lab: np.ndarray) -> np.ndarray:
    """(S, 2, 3) -> (2, 3): each part's median over the samples that saw it (NaN where under CHANGED_SAMPLES did)."""
    out = np.full(lab.shape[1:], np.nan)
    for i, rows in enumerate(_seen_rows(lab)):
        if len(rows) >= CHANGED_SAMPLES:
            out[i] = np.median(rows, axis=0)
    return out


def _seen_rows(lab: np.ndarray) -> list[np.ndarray]:
    """(S, 2, 3) -> each part's samples that saw it (N, 3)."""
    return [lab[:, i][np.isfinite(lab[:, i]).all(axis=1)] for i in range(lab.shape[1])]


def _sure(rows: np.ndarray, own: np.ndarray, other: np.ndarray, share: float = CHANGED_SURE) -> bool:
    """Are ``share`` of the samples ``rows`` (N, 3) that saw the part nearer ``own`` than ``other``, and
    CHANGED_SAMPLES or more of them?"""
    rows = rows[np.isfinite(rows).all(axis=1)]
    return len(rows) >= CHANGED_SAMPLES and float(np.mean(np.linalg.norm(rows - own, axis=1) < np.linalg.norm(rows - other, axis=1))) >= share


def _lit_otherwise(before: np.ndarray, after: np.ndarray) -> bool:
    """Does one change of light explain the clothes' change: some gain (CHANGED_GAINS, linear light) and tint
    (CHANGED_TINTS) on every part before (upper, lower, skin: (3, 3) CIELAB, NaN unknown) brings each part
    known both sides within CHANGED_LIT of after? Someone walking into shade, or under a roof: the skin,
    where seen both sides, must have changed with the clothes. Both ways (after back to before too): dark
    colours lie close together in CIELAB, and one way alone took a change to darker clothes for shade
    nearly four times as often as one to lighter."""
    both = np.isfinite(before).all(axis=1) & np.isfinite(after).all(axis=1)
    return bool(both.any()) and _lit_to(before[both], after[both]) and _lit_to(after[both], before[both])


_g, _r, _b = np.meshgrid(CHANGED_GAINS, CHANGED_TINTS, CHANGED_TINTS, indexing="ij")
_LIGHTS = np.stack([_g * _r, _g, _g * _b], axis=-1).reshape(-1, 1, 3)  # (L, 1, 3): each light's red, green, blue gains


def _lit_to(before: np.ndarray, after: np.ndarray) -> bool:
    """:func:`_lit_otherwise` one way: some light on ``before`` (N, 3) brings each within CHANGED_LIT of ``after``."""
    import cv2

    rgb = cv2.cvtColor(before.astype(np.float32)[None], cv2.COLOR_LAB2RGB)[0].astype(np.float64)  # 0-1
    linear = linear_from_srgb(rgb)
    srgb = srgb_from_linear(linear[None] * _LIGHTS).astype(np.float32)
    lab = cv2.cvtColor(srgb.reshape(1, -1, 3), cv2.COLOR_RGB2LAB).reshape(srgb.shape)
    return bool(np.linalg.norm(lab - after, axis=-1).max(axis=1).min() < CHANGED_LIT)


def _walked_on(sp, sq, lo: int, hi: int, usual: float) -> bool:
    """Did the track's own person walk on through the change, not the lost one: the track's first sure pose
    from frame ``hi`` on lies within CHANGED_WALKED of its person's heights ``usual`` of where its walk over
    CHANGED_WALK_S up to frame ``lo`` led, and nearer there than where the lost track ``sq``'s last walk led?
    (Someone whose back, or a jacket taken off, shows other clothes just as a stranger dressed so is lost
    beside them; or a passer-by's clothes read at the track's end.) ``sp``, ``sq``: :func:`_feet_seen`."""
    b, a = sp.frames <= lo, np.flatnonzero(sp.frames >= hi)
    if b.sum() < 3 or not len(a):
        return False
    t = sp.times[a[0]]
    own = float(np.linalg.norm(sp.place[a[0]] - _led_to(sp, b, t)))
    theirs = float(np.linalg.norm(sp.place[a[0]] - _led_to(sq, np.ones(len(sq.frames), bool), t)))
    return own < CHANGED_WALKED * usual and own <= theirs


def _led_to(s, rows: np.ndarray, t: float) -> np.ndarray:
    """Where a track's walk over CHANGED_WALK_S up to its last pose of ``rows`` (bool) led by time ``t``:
    from its poses drawn whole there (CHANGED_WHOLE of its usual height or more, where any are: a person
    lost behind someone often loses their legs first, and their feet then show higher, 0.5 of a height
    on a lost walker, against their walk)."""
    walk, at, last = _walk_of(s, rows)
    return at + walk * (t - last)


def _walk_of(s, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A track's walk over CHANGED_WALK_S up to its last pose of ``rows`` (:func:`_led_to`'s): (its pace
    px/s, where its line puts it at that pose, that pose's time)."""
    height = _tall(s)
    whole = rows & (height >= CHANGED_WHOLE * np.median(height))
    rows = whole if whole.any() else rows
    walk, at = _walked(s.times[rows], s.place[rows], CHANGED_WALK_S)
    return walk, at, float(s.times[rows][-1])


def _apart_by(a: np.ndarray, b: np.ndarray) -> float:
    """The larger of the upper and lower clothing's distances (CIELAB) where both are known, else 0."""
    d = np.linalg.norm(a - b, axis=1)
    return float(np.nanmax(d)) if np.isfinite(d).any() else 0.0


def _medians(p: PersonObservations) -> np.ndarray | None:
    """A track's upper and lower clothing (2, 3) CIELAB: its samples' medians (CHANGED_SAMPLES or more), else None
    (its colours are no evidence: a part never seen there is a placeholder grey)."""
    if p.colour_samples is None or len(p.colour_samples) < CHANGED_SAMPLES:
        return None
    return _median(lab_of(np.asarray(p.colour_samples)[:, :2]))


def _cut(frames: np.ndarray, sp, after: int, before: int) -> int:
    """The last frame a track keeps between frames ``after`` and ``before``: the one before its feet's largest
    step (to ``before`` at most; less its own person's walk up to ``after``: a runner's stride is no jump),
    where CHANGED_STEP of its person's heights or more (``sp``: :func:`_feet_seen`: it jumped from one
    person to the other); else the one before its longest stretch without a pose (``frames``: the track's);
    else ``after`` (the lost track's end: the moment it could take them)."""
    inside = np.flatnonzero((sp.frames >= after) & (sp.frames <= before))
    if len(inside) >= 2 and (sp.frames <= after).any():
        pace = _walk_of(sp, sp.frames <= after)[0]  # its own person's: a stride is no jump
        steps = np.linalg.norm(np.diff(sp.place[inside], axis=0) - pace * np.diff(sp.times[inside])[:, None], axis=1)
        k = int(np.argmax(steps))
        if steps[k] >= CHANGED_STEP * float(np.median(_tall(sp))):
            return int(sp.frames[inside][k])
    inside = np.flatnonzero((frames >= after) & (frames < before))
    if len(inside) < 2:
        return after
    steps = np.diff(frames[inside])
    k = int(np.argmax(steps))
    return int(frames[inside][k]) if steps[k] > 1 else after


__all__ = ["clothes_changed"]
