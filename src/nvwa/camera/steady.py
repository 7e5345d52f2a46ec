"""The vertical vanishing point, steadied where its segments do not pin it down.

A wall of upright stripes seen nearly level gives hundreds of segments that all but agree: they meet so
far below the picture that where exactly is a matter of a few tenths of a degree in each, and other
families that are not quite vertical (a mirror leaning on the wall, seen in every sampled frame) pull the
vote one way or the other. On handheld_kids_bed, the camera's pitch came out 14.9 deg from every frame's
segments and 22.0 from half the frames' (the same wall, the same camera), and dropping a tenth of either
set at random gave anything from 10.4 to 23.4 deg. Every other clip of ours moves by under 0.5 deg so.

So the vertical search is run again on draws of the segments (each keeps nine in ten, at random with a
fixed seed), around the vertical found. Where the draws' gravities spread over more than STEADY_DEG from
their most central draw (the 84th percentile of their angles to it), that central draw's point is used
instead, its votes counted over all the segments: the estimate most of the draws agree on, not whichever
one the full set happened to fall on. A vertical the segments pin down is kept as it was, to the bit.
"""

from __future__ import annotations

import numpy as np

from nvwa.camera.vanishing import (INLIER_DEG, VanishingPoint, _angle_errors, _centred, _lines, _vertical_near_hint,
                                   gravity_from_vp)

DRAWS = 12  # draws of the segments the vertical is searched again on
KEEP = 0.9  # the share of the segments each draw keeps
STEADY_DEG = 2.0  # draws spread wider than this (deg, 84th percentile from the most central): the central one is used


def steadied(vert: VanishingPoint, seg: np.ndarray, weight: np.ndarray, size: tuple[int, int],
             K_guess: np.ndarray) -> tuple[VanishingPoint, float | None]:
    """``vert``, or the most central of the verticals found on DRAWS draws of the segments where they spread
    over STEADY_DEG -> (the vertical VP, the draws' spread in deg; None where too few draws found one).
    ``seg`` (N, 4) px and ``weight`` (N,) as the vertical was found on; ``K_guess`` turns VPs into
    directions (the focal guessed: the spread, not the focal, is what is asked)."""
    rng = np.random.default_rng(0)
    up = gravity_from_vp(vert.point, K_guess)
    found = []
    for _ in range(DRAWS):
        keep = rng.random(len(seg)) < KEEP
        vp = _vertical_near_hint(seg[keep], weight[keep], size, up, K_guess)
        if vp is not None:
            found.append(vp.point)
    if len(found) < DRAWS // 2:
        return vert, None
    g = np.array([gravity_from_vp(p, K_guess) for p in found])
    apart = np.degrees(np.arccos(np.clip(g @ g.T, -1.0, 1.0)))  # every pair of draws (signed alike: down the image)
    central = int(np.argmin(apart.sum(axis=1)))
    spread = float(np.percentile(apart[central], 84))
    if spread <= STEADY_DEG:
        return vert, spread
    w_img, h_img = size
    c, s = np.array([w_img / 2, h_img / 2]), float(max(size))
    _, d, mid = _lines(seg, c, s)
    point = found[central]
    inliers = _angle_errors(_centred(point, c, s), d, mid) < np.radians(INLIER_DEG)
    return VanishingPoint(point, int(inliers.sum()), float(weight[inliers].sum()), inliers), spread
