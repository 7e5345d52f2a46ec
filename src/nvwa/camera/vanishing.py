"""The camera calibrated from the scene: gravity and the focal length from vanishing points.

Straight edges of a man-made scene (walls, door frames, posts, a treadmill's sides) and upright people
(the line from their feet to their shoulders) are images of 3D directions; parallel 3D lines meet in one
vanishing point (VP). The VP of the vertical direction gives gravity in the camera once the focal length
is known; every horizontal direction's VP lies on the horizon, the polar line of the vertical VP, which
fixes the focal length: f^2 = -(h - c) . (v - c) for the vertical VP v, a horizontal VP h and the
principal point c (the image centre; square pixels). Two orthogonal horizontal VPs give f without the
vertical one: f^2 = -(h1 - c) . (h2 - c).

Everything here is a robust vote (RANSAC over pairs of segments, scored by the length of the segments
that point at the candidate within a small angle), so a tilted picture frame or a slanted roof is
outvoted, not believed. Pixels are the stored video's; segments (N, 4) are x1, y1, x2, y2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INLIER_DEG = 1.5  # a segment votes for a VP when it points at it within this angle
VERTICAL_WITHIN_DEG = 40.0  # segments this close to the image's vertical are vertical candidates (rolled cameras)
MIN_VERTICAL_VOTES = 6  # fewer segments than this: no vertical VP from lines
MIN_SEGMENT_SHARE = 0.02  # of the image diagonal: shorter segments are noise
FOCAL_RANGE = (0.3, 4.0)  # x image diagonal: focal lengths outside are not believed
NEAR_HINT_DEG = 12.0  # the vertical is searched among the segments pointing within this of where the bodies' up says


def detect_segments(gray: np.ndarray, min_share: float = MIN_SEGMENT_SHARE) -> np.ndarray:
    """Line segments of one greyscale frame (OpenCV's LSD) -> (N, 4) float32 x1, y1, x2, y2 px, the
    short ones (< min_share of the diagonal) dropped."""
    import cv2

    lines = cv2.createLineSegmentDetector().detect(gray)[0]
    if lines is None:
        return np.zeros((0, 4), np.float32)
    seg = lines.reshape(-1, 4).astype(np.float32)
    diag = float(np.hypot(*gray.shape[:2]))
    return seg[np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) >= min_share * diag]


def _lines(seg: np.ndarray, c: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments in centred, scaled coordinates -> (homogeneous lines (N, 3) with unit normals, unit
    directions (N, 2), midpoints (N, 2))."""
    p = (seg[:, :2] - c) / s
    q = (seg[:, 2:] - c) / s
    ones = np.ones((len(seg), 1))
    lines = np.cross(np.hstack([p, ones]), np.hstack([q, ones]))
    lines /= np.linalg.norm(lines[:, :2], axis=1, keepdims=True) + 1e-12
    d = q - p
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-12
    return lines, d, (p + q) / 2


def _angle_errors(vp: np.ndarray, d: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Angle (rad) between each segment and the line from its midpoint to ``vp`` (homogeneous)."""
    to = vp[None, :2] - vp[2] * mid
    to /= np.linalg.norm(to, axis=1, keepdims=True) + 1e-12
    return np.arccos(np.clip(np.abs(np.sum(to * d, axis=1)), 0.0, 1.0))


def _refine(lines: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The point closest to all ``lines`` (weighted least squares on the sphere)."""
    A = (lines * w[:, None]).T @ lines
    return np.linalg.eigh(A)[1][:, 0]


def _best_hypothesis(hyp: np.ndarray, d: np.ndarray, mid: np.ndarray, w32: np.ndarray, cos_tol: float) -> np.ndarray | None:
    """The hypothesis (unit homogeneous points (H, 3), centred coordinates) whose segments within the angle
    whose cosine is ``cos_tol`` weigh most (``w32`` (N,) float32; the first of equals) -> its inliers (N,)
    bool, or None where none scores above 0. Scored in float32 blocks of ~100: the cosine between each
    segment (unit direction ``d``, midpoint ``mid``) and the line from its midpoint to each candidate,
    worked out on the x and y planes in place. A (B, N, 2) array reduced over its short last axis did the
    same float32 operations in the same order (the same inliers to the bit) at 7x the cost. The cosines are
    compared with ``cos_tol`` as a float64 (a Python float would be compared in float32: other inliers)."""
    best, best_score, cos_tol = None, 0.0, np.float64(cos_tol)
    d32, mid32 = d.astype(np.float32), mid.astype(np.float32)
    dx, dy, mx, my = d32[:, 0], d32[:, 1], mid32[:, 0], mid32[:, 1]
    for block in np.array_split(hyp.astype(np.float32), max(1, len(hyp) // 100)):
        hz = block[:, 2:3]
        tox, toy = block[:, 0:1] - hz * mx, block[:, 1:2] - hz * my  # midpoint -> candidate, (B, N) each
        cos = tox * dx
        cos += toy * dy
        np.abs(cos, out=cos)
        tox *= tox
        toy *= toy
        tox += toy
        np.sqrt(tox, out=tox)
        tox += np.float32(1e-12)
        cos /= tox
        inl = cos > cos_tol
        score = inl.astype(np.float32) @ w32
        k = int(np.argmax(score))
        if score[k] > best_score:
            best, best_score = inl[k], float(score[k])
    return best


@dataclass(frozen=True)
class VanishingPoint:
    point: np.ndarray  # (3,) homogeneous, stored-video px (last coordinate 0: at infinity)
    votes: int  # segments that point at it
    support: float  # their summed length (px)
    inliers: np.ndarray = field(repr=False)  # (N,) bool over the segments offered

    def pixel(self) -> np.ndarray | None:
        return None if abs(self.point[2]) < 1e-9 else self.point[:2] / self.point[2]


def find_vp(seg: np.ndarray, weight: np.ndarray, size: tuple[int, int], candidates: np.ndarray | None = None,
            iterations: int = 400, seed: int = 0, score_weight: np.ndarray | None = None,
            among: np.ndarray | None = None) -> VanishingPoint | None:
    """The VP most segments point at: RANSAC over pairs of ``candidates`` (bool mask; all by default),
    each hypothesis scored by the summed ``score_weight`` (default ``weight``) of the segments within
    INLIER_DEG, then refined on its inliers by ``weight``. ``among`` (bool mask): only these segments can
    be inliers at all (score, refinement and votes): a VP found after others counts only the segments
    they did not take."""
    if len(seg) < 2:
        return None
    w_img, h_img = size
    c, s = np.array([w_img / 2, h_img / 2]), float(max(size))
    lines, d, mid = _lines(seg, c, s)
    idx = np.flatnonzero(candidates) if candidates is not None else np.arange(len(seg))
    if len(idx) < 2:
        return None
    rng = np.random.default_rng(seed)
    p = weight[idx] / weight[idx].sum()
    tol = np.radians(INLIER_DEG)
    pairs = rng.choice(idx, (iterations, 2), p=p)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    hyp = np.cross(lines[pairs[:, 0]], lines[pairs[:, 1]])  # all hypotheses at once, scored in blocks
    norm = np.linalg.norm(hyp, axis=1)
    hyp = hyp[np.isfinite(norm) & (norm > 1e-12)] / norm[np.isfinite(norm) & (norm > 1e-12), None]
    if len(hyp) == 0:  # every pair was one line twice (a single repeated segment)
        return None
    w32 = (weight if score_weight is None else score_weight).astype(np.float32)
    if among is not None:
        w32 = w32 * among
    best = _best_hypothesis(hyp, d, mid, w32, np.cos(tol))
    if among is not None and best is not None:
        best = best & among
    if best is None or best.sum() < 2:
        return None
    vp = _refine(lines[best], weight[best])
    inl = _angle_errors(vp, d, mid) < tol
    if among is not None:
        inl &= among
    vp = _refine(lines[inl], weight[inl]) if inl.sum() >= 2 else vp
    # back to pixels: x_px = s x + c
    point = _in_pixels(vp, c, s)
    point /= np.linalg.norm(point)
    return VanishingPoint(point, int(inl.sum()), float(weight[inl].sum()), inl)


def vertical_candidates(seg: np.ndarray, within_deg: float = VERTICAL_WITHIN_DEG) -> np.ndarray:
    """Segments within ``within_deg`` of the image's vertical."""
    d = seg[:, 2:] - seg[:, :2]
    ang = np.degrees(np.arctan2(np.abs(d[:, 0]), np.abs(d[:, 1])))
    return ang <= within_deg


def gravity_from_vp(vp: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Gravity (unit, camera frame, OpenCV axes) from the vertical VP (homogeneous px): the direction
    K^-1 v, signed to point down the image (people's feet are below their heads)."""
    g = np.linalg.solve(K, vp)
    g /= np.linalg.norm(g)
    return g if g[1] >= 0 else -g


def focal_from_vps(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float | None:
    """f (px) from two VPs of orthogonal directions (homogeneous px) and the principal point ``c``:
    f^2 = -(a - c) . (b - c); None when either is at infinity or the product is not negative."""
    pa, pb = (None if abs(v[2]) < 1e-9 else v[:2] / v[2] for v in (a, b))
    if pa is None or pb is None:
        return None
    f2 = -float(np.dot(pa - c, pb - c))
    return float(np.sqrt(f2)) if f2 > 0 else None


@dataclass
class SceneCalibration:
    """What the scene's lines (and the people's vertical lines) say about the camera."""

    vertical_vp: np.ndarray | None  # (3,) homogeneous px
    vertical_votes: int  # segments voting for it (lines + people)
    vertical_people_votes: int  # of which people's feet-to-shoulder lines
    horizontal_vps: list  # [(point (3,), votes, focal px or None)]
    focal_px: float | None  # fused from the horizontal VPs with the vertical (median of agreeing ones)
    focal_spread: float | None  # relative spread of the agreeing estimates
    segments: int  # segments offered
    vertical_spread_deg: float | None = None  # how far the vertical found on draws of the segments spreads (deg)

    def as_dict(self) -> dict:
        vv = self.vertical_vp
        return {"segments": self.segments, "vertical_votes": self.vertical_votes,
                "vertical_people_votes": self.vertical_people_votes,
                "vertical_vp": None if vv is None else [float(x) for x in vv],
                "horizontal_vps": [{"point": [float(x) for x in p], "votes": n, "focal_px": f} for p, n, f in self.horizontal_vps],
                "focal_px": self.focal_px, "focal_spread": self.focal_spread,
                "vertical_spread_deg": None if self.vertical_spread_deg is None else round(self.vertical_spread_deg, 2)}


def calibrate_from_lines(lines: np.ndarray, people: np.ndarray, size: tuple[int, int], *,
                         up_hint: np.ndarray | None = None, focal_guess: float | None = None,
                         people_weight: float = 0.5, max_vps: int = 5) -> SceneCalibration:
    """Scene lines (N, 4) px and people's feet-to-shoulder segments (M, 4) px -> the vertical VP and the
    focal length. ``size``: (width, height) of the stored video.

    The strongest VPs are found one after the other; the vertical one is the VP whose direction is
    nearest ``up_hint`` (the bodies' 3D up in the camera, OpenCV axes: the 3D pose tells up from sideways
    even when the camera is rolled and a long edge runs up the image), else the one nearest the image's
    vertical. ``focal_guess`` (px) turns VPs into directions for that choice only."""
    lines = np.asarray(lines, np.float64).reshape(-1, 4)
    people = np.asarray(people, np.float64).reshape(-1, 4)
    seg = np.vstack([lines, people])
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    weight = length * np.r_[np.ones(len(lines)), np.full(len(people), people_weight)]
    is_person = np.r_[np.zeros(len(lines), bool), np.ones(len(people), bool)]
    c = np.array([size[0] / 2, size[1] / 2])
    diag = float(np.hypot(*size))
    K_guess = np.array([[focal_guess or diag, 0, c[0]], [0, focal_guess or diag, c[1]], [0, 0, 1.0]])
    vert = _vertical_near_hint(seg, weight, size, up_hint, K_guess) if up_hint is not None else None
    vps: list[VanishingPoint] = []
    rest = np.ones(len(seg), bool) if vert is None else ~vert.inliers & ~is_person
    for k in range(max_vps):
        if rest.sum() < MIN_VERTICAL_VOTES:
            break
        # found on the segments the VPs before did not take (see _families for their votes)
        vp = find_vp(seg, weight, size, rest, seed=k, among=rest)
        if vp is None or vp.votes < MIN_VERTICAL_VOTES:
            break
        vps.append(vp)
        rest &= ~vp.inliers
    vps = _families(vps, seg, weight, size)
    if vert is None:
        vert = _pick_vertical(vps, seg, up_hint, focal_guess or diag, c)
    picked, spread = vert, None
    if vert is not None:  # where its segments do not pin it down, the one of their draws the bodies agree with
        from nvwa.camera.steady import steadied  # (it searches as this module does)

        vert, spread = steadied(vert, seg, weight, size, K_guess, up_hint)
    horizontal = [(h.point, h.votes, _focal_if_determined(vert, h, seg, weight, size) if vert is not None else None)
                  for h in vps if h is not picked]
    focal, focal_spread = _fuse_focal(horizontal, vert, c, diag)
    return SceneCalibration(None if vert is None else vert.point, 0 if vert is None else vert.votes,
                            0 if vert is None else int((vert.inliers & is_person).sum()), horizontal, focal, focal_spread,
                            len(lines), spread)


def _families(vps: list, seg: np.ndarray, weight: np.ndarray, size: tuple[int, int]) -> list:
    """The VPs found one after the other (each on segments the ones before had not taken), each with its
    whole support again: every segment that points at it within INLIER_DEG (one can point at two VPs of
    different directions). A VP most of whose support is a stronger one's is the same family of edges
    seen again (the slats of a wall facing the camera point, within INLIER_DEG, at far points on either
    side of their own VP), and is dropped."""
    c, s = np.array([size[0] / 2, size[1] / 2]), float(max(size))
    _, d, mid = _lines(seg, c, s)
    whole = [with_support(v.point, d, mid, weight, c, s) for v in vps]
    kept = []
    for v in sorted(whole, key=lambda v: -v.votes):
        if all((v.inliers & k.inliers).sum() <= 0.5 * v.votes for k in kept):
            kept.append(v)
    return kept


def with_support(point: np.ndarray, d: np.ndarray, mid: np.ndarray, weight: np.ndarray, c: np.ndarray,
                 s: float) -> VanishingPoint:
    """The VP at ``point`` (homogeneous px) with its whole support: every segment (unit directions ``d``,
    midpoints ``mid`` of :func:`_lines`, weights ``weight``) pointing at it within INLIER_DEG."""
    inl = _angle_errors(_centred(point, c, s), d, mid) < np.radians(INLIER_DEG)
    return VanishingPoint(point, int(inl.sum()), float(weight[inl].sum()), inl)


def _centred(point: np.ndarray, c: np.ndarray, s: float) -> np.ndarray:
    """A VP (homogeneous px) in the centred, scaled coordinates of :func:`_lines`, unit length."""
    q = np.array([(point[0] - c[0] * point[2]) / s, (point[1] - c[1] * point[2]) / s, point[2]])
    return q / np.linalg.norm(q)


def _in_pixels(v: np.ndarray, c: np.ndarray, s: float) -> np.ndarray:
    """A point in the centred, scaled coordinates of :func:`_lines` back in homogeneous px: x_px = s x + c."""
    return np.array([s * v[0] + c[0] * v[2], s * v[1] + c[1] * v[2], v[2]])


FOCAL_DETERMINED = 1.2  # a VP's focal whose 16-84% bootstrap range spans more than this ratio says nothing


def _focal_if_determined(vert: VanishingPoint, h: VanishingPoint, seg: np.ndarray, weight: np.ndarray,
                         size: tuple[int, int], draws: int = 30) -> float | None:
    """The focal length the vertical VP and horizontal ``h`` give, unless its own segments do not pin it
    down: refitted on draws of them (with replacement), its 16-84% range spans more than FOCAL_DETERMINED.
    A VP far off the image (edges nearly parallel in the picture: a wall facing the camera, a level
    camera's sideways edges) moves a long way along its line for a tiny turn of its segments, and the focal
    with it."""
    c, s = np.array([size[0] / 2, size[1] / 2]), float(max(size))
    f = focal_from_vps(vert.point, h.point, c)
    own = np.flatnonzero(h.inliers)
    if f is None or len(own) < 2:
        return f
    lines = _lines(seg[own], c, s)[0]
    rng = np.random.default_rng(0)
    fs = []
    for _ in range(draws):
        k = rng.integers(0, len(own), len(own))
        v = _refine(lines[k], weight[own][k])
        fs.append(focal_from_vps(vert.point, _in_pixels(v, c, s), c))
    fs = np.array([np.nan if x is None else x for x in fs])
    if np.isnan(fs).mean() > 0.16:
        return None
    lo, hi = np.nanpercentile(fs, [16, 84])
    return f if hi / lo <= FOCAL_DETERMINED else None


def _vertical_near_hint(seg, weight, size, up_hint, K_guess, near_deg: float = NEAR_HINT_DEG, iterations: int = 400):
    """The vertical VP searched where the bodies' up says it is: among the segments pointing within
    ``near_deg`` of the hint's VP (K up_hint); None when too few vote or it lands > 35 deg from the hint."""
    c, s = np.array([size[0] / 2, size[1] / 2]), float(max(size))
    _, d, mid = _lines(seg, c, s)
    u = np.asarray(up_hint, float) / np.linalg.norm(up_hint)
    near = _angle_errors(_centred(K_guess @ u, c, s), d, mid) < np.radians(near_deg)
    for attempt in range(3):  # segments near the hint can also agree on a sideways VP: set those aside, look again
        if near.sum() < MIN_VERTICAL_VOTES:
            return None
        # scored by the near segments only: sideways lines elsewhere must not outvote them
        vp = find_vp(seg, weight, size, near, iterations=iterations, seed=attempt, score_weight=weight * near)
        if vp is None or vp.votes < MIN_VERTICAL_VOTES:
            return None
        g = gravity_from_vp(vp.point, K_guess)
        if np.degrees(np.arccos(min(1.0, abs(float(g @ u))))) <= 35.0:
            return vp
        near = near & ~vp.inliers
    return None


def _pick_vertical(vps: list, seg: np.ndarray, up_hint: np.ndarray | None, focal: float, c: np.ndarray):
    """The vertical VP among ``vps``: nearest the bodies' up (within 35 deg), else the one whose
    segments run closest to the image's vertical (at least half of them within VERTICAL_WITHIN_DEG)."""
    if not vps:
        return None
    if up_hint is not None:
        K = np.array([[focal, 0, c[0]], [0, focal, c[1]], [0, 0, 1.0]])
        u = np.asarray(up_hint, float) / np.linalg.norm(up_hint)
        ang = [np.degrees(np.arccos(np.clip(abs(gravity_from_vp(v.point, K) @ u), 0, 1))) for v in vps]
        i = int(np.argmin(ang))
        return vps[i] if ang[i] <= 35.0 else None
    share = [vertical_candidates(seg[v.inliers]).mean() for v in vps]
    i = int(np.argmax(share))
    return vps[i] if share[i] >= 0.5 else None


def _fuse_focal(horizontal: list, vert, c: np.ndarray, diag: float) -> tuple[float | None, float | None]:
    """The focal length most horizontal VPs agree on (within 10%), weighted by their votes; pairs of
    horizontal VPs count too when there is no vertical VP. Implausible values are not believed."""
    est = [(f, n) for _, n, f in horizontal if f is not None]
    if vert is None:
        for i in range(len(horizontal)):
            for j in range(i + 1, len(horizontal)):
                f = focal_from_vps(horizontal[i][0], horizontal[j][0], c)
                if f is not None:
                    est.append((f, min(horizontal[i][1], horizontal[j][1])))
    est = [(f, n) for f, n in est if FOCAL_RANGE[0] * diag <= f <= FOCAL_RANGE[1] * diag]
    if not est:
        return None, None
    best, best_votes = None, 0
    for f, _ in est:
        agree = [(g, n) for g, n in est if abs(g / f - 1) <= 0.10]
        votes = sum(n for _, n in agree)
        if votes > best_votes:
            best, best_votes = agree, votes
    fs = np.array([g for g, _ in best])
    ws = np.array([n for _, n in best], float)
    focal = float(np.sum(fs * ws) / ws.sum())
    spread = float(np.std(fs) / focal) if len(fs) > 1 else None
    return focal, spread


__all__ = ["detect_segments", "find_vp", "gravity_from_vp", "focal_from_vps", "calibrate_from_lines",
           "SceneCalibration", "VanishingPoint"]


def height_ratios(feet: np.ndarray, tops: np.ndarray, vertical_vp: np.ndarray, focal: float, c: np.ndarray) -> np.ndarray:
    """Single-view metrology (the cross-ratio along each person's vertical line): the height of each
    ``tops`` point (N, 2) px above its ``feet`` point (N, 2) px on the ground, over the camera's height,
    for a camera of focal ``focal`` px, principal point ``c`` and vertical VP ``vertical_vp`` (homogeneous).

    The horizon is the polar line of the vertical VP: v'x x + v'y y + f^2 v'w = 0 in centred pixels. The
    vertical through the feet meets it at i, the image of the point at the camera's height, and
    (b, t; i, v) = H / h_camera. NaN where a point is degenerate."""
    v = np.asarray(vertical_vp, float)
    vc = np.array([v[0] - c[0] * v[2], v[1] - c[1] * v[2], v[2]])
    horizon = np.array([vc[0], vc[1], focal ** 2 * vc[2]])
    b = np.column_stack([feet - c, np.ones(len(feet))])
    t = np.column_stack([tops - c, np.ones(len(tops))])
    line = np.cross(b, vc[None, :])
    i = np.cross(line, horizon[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        direction = (vc[:2] - vc[2] * b[:, :2])  # from the feet towards the VP
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)

        def along(p):  # signed position along each person's vertical (finite points; the VP may be far)
            return np.sum((p[:, :2] / p[:, 2:3] - b[:, :2]) * direction, axis=1)

        s_t, s_i = along(t), along(i)
        s_v = along(np.repeat(vc[None], len(b), 0)) if abs(vc[2]) > 1e-12 else np.full(len(b), np.inf)
        if np.isinf(s_v).all():
            return s_t / s_i
        return (s_t * (s_v - s_i)) / (s_i * (s_v - s_t))


def focal_from_people(tracks: list, vertical_vp: np.ndarray, size: tuple[int, int], steps: int = 41) -> dict | None:
    """The focal length that keeps each person's height constant as they walk nearer and further:
    ``tracks`` is a list of (feet (T, 2), tops (T, 2)) px per person (upright frames); a wrong focal
    puts the horizon elsewhere and makes a walker grow or shrink with depth. A log-spaced search over
    FOCAL_RANGE; None when the camera is level (no focal information) or nobody moves in depth.
    -> {"focal_px", "sharpness" (cost at +-20% over the minimum), "people"}"""
    c = np.array([size[0] / 2, size[1] / 2])
    diag = float(np.hypot(*size))
    v = np.asarray(vertical_vp, float)
    if abs(v[2]) < 1e-9:
        return None
    usable = [(f, t) for f, t in tracks if len(f) >= 5 and np.ptp(f[:, 1]) >= 0.05 * size[1]]
    if not usable:
        return None
    coarse = np.geomspace(FOCAL_RANGE[0] * diag, FOCAL_RANGE[1] * diag, steps)
    feet_all, tops_all = np.concatenate([f for f, _ in usable]), np.concatenate([t for _, t in usable])
    ends = np.cumsum([len(f) for f, _ in usable])[:-1]

    def cost(f: float) -> float:
        res = []
        for r in np.split(height_ratios(feet_all, tops_all, v, f, c), ends):  # everyone's ratios at once (row by row)
            r = np.log(r[np.isfinite(r) & (r > 0)])
            if len(r) >= 5:
                res.append(r - np.median(r))
        if not res:
            return np.inf
        return float(np.median(np.abs(np.concatenate(res))))

    costs = np.array([cost(f) for f in coarse])
    if not np.isfinite(costs).any():
        return None
    k = int(np.nanargmin(costs))
    grid = coarse[k] * np.geomspace(0.95, 1.05, 11)  # then finer around the best
    costs = np.array([cost(f) for f in grid])
    k = int(np.nanargmin(costs))
    f = float(grid[k])
    near = [cost(f * 0.8), cost(f * 1.2)]
    sharp = float(min(near) / max(costs[k], 1e-9))
    return {"focal_px": f, "sharpness": round(sharp, 3), "people": len(usable), "cost": round(float(costs[k]), 4)}
