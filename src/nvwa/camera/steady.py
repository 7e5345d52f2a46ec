"""The vertical vanishing point, steadied where its segments do not pin it down.

A wall of upright stripes seen nearly level gives hundreds of segments that all but agree: they meet so
far below the picture that where exactly is a matter of a few tenths of a degree in each, and other
families that are not quite vertical (a mirror leaning on the wall, seen in every sampled frame) pull the
vote one way or the other. On handheld_kids_bed, the camera's pitch came out 14.9 deg from every frame's
segments and 22.0 from half the frames' (the same wall, the same camera), and dropping a tenth of either
set at random gave anything from 10.4 to 23.4 deg.

So the vertical search is run again on bootstrap draws of the segments near it (each segment counted 0,
1, 2... times, Poisson, with a fixed seed). Where the draws' gravities spread over more than STEADY_DEG
from their most central draw (the 84th percentile of their angles to it), the segments cannot decide, and
the people do: of the draws, those within STEADY_DEG of the one nearest the bodies' own up (the hint the
search began from) are the verticals the scene and the people agree on, and their most central draw's
point is used, its votes counted over all the segments (with nobody upright, or under MIN_CLUSTER draws
in that cluster: the most central of all the draws). kids_bed's draws spread 7-11 deg, over two
clusters (about 11 and 22 deg: which has more draws turned on their number and the search's length), and
the bodies (6-7 deg) are nearer the first at any number. Our other clips' draws spread 0.2-0.8 deg,
handheld_handshake's 1.2-2.2: a vertical the segments pin down is kept as it was, to the bit.
"""

from __future__ import annotations

import numpy as np

from nvwa.camera.vanishing import (NEAR_HINT_DEG, VanishingPoint, _angle_errors, _centred, _lines, _vertical_near_hint,
                                   gravity_from_vp, with_support)

DRAWS = 12  # draws of the segments the vertical is searched again on
ITERATIONS = 200  # RANSAC pairs each draw tries (the full search: 400)
STEADY_DEG = 3.0  # draws spread wider than this (deg, 84th percentile from the most central): the central one is used
MIN_CLUSTER = DRAWS // 4  # ... of the cluster nearest the bodies' up, where it has at least this many draws (else of all)


def steadied(vert: VanishingPoint, seg: np.ndarray, weight: np.ndarray, size: tuple[int, int],
             K_guess: np.ndarray, up_hint: np.ndarray | None = None) -> tuple[VanishingPoint, float | None]:
    """``vert``, or, where the verticals found on DRAWS draws of the segments spread over STEADY_DEG, the
    most central of those in the cluster nearest ``up_hint`` (the bodies' mean up, camera axes; None, or
    under MIN_CLUSTER draws in it: of all of them) -> (the vertical VP, the draws' spread in deg; None
    where too few draws found one).
    ``seg`` (N, 4) px and ``weight`` (N,) as the vertical was found on; ``K_guess`` turns VPs into
    directions (the focal guessed: the spread, not the focal, is what is asked)."""
    w_img, h_img = size
    c, s = np.array([w_img / 2, h_img / 2]), float(max(size))
    _, d, mid = _lines(seg, c, s)
    # the segments the search around it looks at (those pointing within NEAR_HINT_DEG of it): the others score nothing
    near = _angle_errors(_centred(vert.point, c, s), d, mid) < np.radians(NEAR_HINT_DEG)
    seg_near, weight_near = seg[near], weight[near]
    rng = np.random.default_rng(0)
    down = gravity_from_vp(vert.point, K_guess)
    found = []
    for _ in range(DRAWS):
        times = rng.poisson(1.0, len(seg_near))  # a bootstrap draw: each segment 0, 1, 2... times
        keep = times > 0
        vp = _vertical_near_hint(seg_near[keep], (weight_near * times)[keep], size, down, K_guess, NEAR_HINT_DEG,
                                 ITERATIONS)
        if vp is not None:
            found.append(vp.point)
    if len(found) < DRAWS // 2:
        return vert, None
    g = np.array([gravity_from_vp(p, K_guess) for p in found])
    # every pair of draws' angle, as lines (gravity is signed down the image: near the image's x axis, a
    # rolled camera's, that sign flips from draw to draw)
    apart = np.degrees(np.arccos(np.clip(np.abs(g @ g.T), 0.0, 1.0)))
    central = int(np.argmin(apart.sum(axis=1)))
    spread = float(np.percentile(apart[central], 84))
    if spread <= STEADY_DEG:
        return vert, spread
    if up_hint is not None:  # the draws' cluster nearest the bodies' up, its most central draw
        nearest = int(np.argmax(np.abs(g @ (np.asarray(up_hint, float) / np.linalg.norm(up_hint)))))
        cluster = apart[nearest] <= STEADY_DEG
        if cluster.sum() >= MIN_CLUSTER:
            central = int(np.flatnonzero(cluster)[np.argmin(apart[np.ix_(cluster, cluster)].sum(axis=1))])
    return with_support(found[central], d, mid, weight, c, s), spread
