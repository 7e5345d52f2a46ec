"""What a person stands on above the floor (a box, a step, a bed), told from their own stance.

A track's depth from its body's size can be off by a factor for the whole track, so a raised support is
found against the same person's ground-level stance (:func:`raised_supports`), and its height is then
the one their size off it gives where the difference of the two stances would make them another size on
it (:func:`at_their_own_scale`). Used by :mod:`nvwa.grounding.world`.
"""

from __future__ import annotations

import numpy as np

from nvwa.grounding.floor import frames_spanning
from nvwa.runs import true_runs

RAISED_SUPPORT_M = 0.4  # a stance this far above the person's own ground level, held a while, is a support of its own (a box; not a stair step: depth drift of a walker toward the camera reaches ~0.3 m)
RAISED_SUPPORT_MIN_S = 0.5
RAISED_MEDIAN_S = 7 / 30  # s each side: the running median of a person's stance (7 frames at 30 fps, where it was set)
SUPPORT_STEP_S = 1.0  # s: a support is stepped onto from the ground or off onto it: ground stance this close to one of its ends
ONE_SIZE_FACTOR = 1.3  # a support at which pinning asks a person to be more than this much bigger or smaller
# than off it is put at the height their size off it gives (:func:`at_their_own_scale`)
MAX_SUPPORT_M = 3.0  # m: people stand on boxes, stages, walls; a higher "support" is a misplaced person


def raised_supports(heights: np.ndarray, t: np.ndarray, min_level: float = RAISED_SUPPORT_M) -> tuple[np.ndarray, list[dict]]:
    """A person's lowest-sole height above the floor per frame (T,), before depth pinning -> (support
    height per frame above the person's own ground level (T,), the raised stretches found).

    Monocular depth can be off by a factor for a whole track (a small or half-hidden person), which
    moves all of that person's heights together (the more, the further under the camera); so a raised
    support is judged against the same person's own stance: a stretch of at least RAISED_SUPPORT_MIN_S
    whose running-median stance is RAISED_SUPPORT_M or more above the person's ground-level stance (held
    as long), level with itself (a box, a step, a stage they step onto or jump down from), and stepped
    onto or off: the person stands at ground level within SUPPORT_STEP_S of one of its ends (a far
    walker's depth drifts up and down over seconds and can pass for a support without ever stepping on or
    off it; a stage reached by stairs or a ramp taking over a second is not told from that drift either,
    and is the floor). A person seen only on the box is not told from a person whose depth is off: they
    are pinned to the floor (see the README). Its height is :func:`at_their_own_scale`'s to settle.
    """
    T = len(heights)
    support = np.zeros(T)
    found: list[dict] = []
    if T < 3 or not np.isfinite(heights).any():
        return support, found
    w = frames_spanning(t, RAISED_MEDIAN_S)
    med = np.array([np.nanmedian(heights[max(0, i - w): i + w + 1]) if np.isfinite(heights[max(0, i - w): i + w + 1]).any()
                    else np.nan for i in range(T)])
    med = np.where(np.isfinite(med), med, np.nanmedian(med))
    base = float(np.percentile(med, 10))
    ground = med < base + min_level / 2
    span = lambda mask: float(np.sum(np.diff(t)[mask[1:] & mask[:-1]]))  # noqa: E731
    if span(ground) < RAISED_SUPPORT_MIN_S:
        return support, found
    high = med >= base + min_level
    for a, b in true_runs(high):
        if t[b - 1] - t[a] < RAISED_SUPPORT_MIN_S:
            continue
        level = float(np.median(med[a:b])) - base
        if np.median(np.abs(med[a:b] - base - level)) > 0.1 or level > MAX_SUPPORT_M:  # not one surface, or no box
            continue
        # the running median holds the level a few frames past the step down (or before the step up):
        # the stretch ends where the person's own feet do, at the last frame still near the top
        near = np.abs(heights[a:b] - base - level) <= max(0.25 * level, 0.2)
        if not near.any():
            continue
        a, b = a + int(np.argmax(near)), a + len(near) - int(np.argmax(near[::-1]))
        stepped = ground & (((t > t[a] - SUPPORT_STEP_S) & (t < t[a])) | ((t > t[b - 1]) & (t < t[b - 1] + SUPPORT_STEP_S)))
        if not stepped.any():  # no step up or down at either end: the person's depth drifted, they did not climb
            continue
        support[a:b] = level
        found.append({"height_m": round(level, 3), "start_s": float(t[a]), "end_s": float(t[b - 1])})
    return support, found


def at_their_own_scale(level: np.ndarray, found: list[dict], lowest: np.ndarray, t: np.ndarray,
                       camera_height: float) -> tuple:
    """Supports found against a person's own ground stance (:func:`raised_supports`: ``level`` (T,) m above it),
    as heights above the floor at the one depth factor that stands that stance on the floor. A track's depth
    off by a factor moves its feet along their rays, up or down by that factor's share of their height under
    the camera: a stance held 1.5 m under the camera moves a lot, one on a box at its height hardly at all.
    The difference of the two stances is the box's height only seen from high above; near the camera's
    height, pinning the feet to it asks for whatever factor puts them there: Sports2D's jumper, re-encoded,
    whose landing stood him 0.27 m under the floor, was pinned 1.85x further on his box than off it and drawn
    2.9 m tall. Where each of a person's supports keeps them within ONE_SIZE_FACTOR of one size, they are kept
    as they were (the body-size placement itself differs that much between poses: the same jumper crouched
    in his landing and upright on his box, 23%; within it the difference still errs: a synthetic jumper
    whose depth is 5% off is drawn 23% smaller on his box); else all are put at the heights their size off
    them gives, and one that then is no raised
    support (under RAISED_SUPPORT_M, over MAX_SUPPORT_M) is none. ``lowest`` (T,): their lowest sole's
    height before pinning (NaN: none seen). -> (level (T,), found)."""
    ground = (level == 0) & np.isfinite(lowest)
    if ground.sum() < 3 or camera_height <= 0:
        return level, found
    # their ground stance, before pinning (0: on the floor): the lower half's median (a fall off the support,
    # and jumps, are above it)
    base = float(np.percentile(lowest[ground], 25))
    if base >= camera_height:
        return level, found
    k = camera_height / (camera_height - base)  # the factor that puts it on the floor
    stretches = []
    for st in found:
        on = (t >= st["start_s"]) & (t <= st["end_s"]) & (level > 0)
        stance = float(np.nanmedian(lowest[on])) if np.isfinite(lowest[on]).any() else np.nan
        # the factor pinning their feet to the difference asks for there, against the one off it
        asked = (float(np.median(level[on])) - camera_height) / (stance - camera_height) if stance != camera_height else np.inf
        stretches.append((st, on, stance, asked / k if np.isfinite(stance) else 1.0))
    if all(1.0 / ONE_SIZE_FACTOR <= r <= ONE_SIZE_FACTOR for *_, r in stretches):
        return level, found
    out, kept = level.copy(), []
    for st, on, stance, _ in stretches:
        height = k * (stance - camera_height) + camera_height if np.isfinite(stance) else float(np.median(level[on]))
        if RAISED_SUPPORT_M <= height <= MAX_SUPPORT_M:
            out[on] = height
            kept.append({**st, "height_m": round(height, 3)})
        else:
            out[on] = 0.0
    return out, kept


__all__ = ["raised_supports", "at_their_own_scale"]
