"""The camera's motion from the background's homographies (the reconstruct side of a handheld camera).

A camera that only turns maps each frame onto the first by H = K R K^-1 whatever the depth, so with the
focal length each frame's rotation (first frame <- that frame) is K^-1 H K, made a rotation. Where no
calibration gave the focal, the rotations give it (a turning camera calibrates itself: only the true
focal makes every K^-1 H K a rotation). The motion is classed ``static`` (nothing measurable turned),
``rotating`` or ``moving`` (a parallax the homographies cannot explain: the camera also travelled).

A camera that zooms (a phone's pinch, a camcorder's zoom lever) changes its focal from frame to frame:
H = K R Z^-1 K^-1, Z = diag(z, z, 1) with z the frame's focal over the first's. Taken for a fixed focal,
the people grew as the zoom went in and were placed nearer (Sports2D zoomed 1x to 1.4x: the walker came
2 m toward the camera as she crossed it). Where the free homographies are explained at least ten times as
well with a zoom as without, and it reaches 5% (up to 8x), each frame's zoom is kept beside its rotation
(:func:`zooms`), and the people are moved onto the first frame's pixels through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvwa.camera.background import LOST, CameraTrack

STATIC_DEG = 1.0  # the camera counts as static while 95% of its frames are within this of the first
STATIC_MAX_DEG = 1.5  # ... and none beyond this (a tripod that creeps by a degree changes nothing a viewer sees)
PARALLAX_PX = 4.0  # px at the stored size: the median parallax above which the camera moved
MOTION_CLASSES = ("static", "rotating", "moving")
ROTATION_SHARPNESS = 2.0  # a turning camera's focal is trusted when 20% off it fits this many times worse
ZOOM_MIN = 0.05  # a zoom is followed where it reaches 5% (a frame's focal 1.05x or 0.95x the first's) ...
ZOOM_FIT = 0.1  # ... and it fits the background's motion at least ten times as well as a turn alone, on those frames
# (a zoom leaves ~0 of a turn's misfit; a wide pan seen under a focal 20-40% off leaves 0.44-0.46 of it)
ZOOM_GRID = np.exp(np.linspace(np.log(1 / 8), np.log(8.0), 86))  # the zooms tried (5% apart), then refined; a best
# zoom at either end (past 8x) is not followed


@dataclass(frozen=True)
class CameraMotion:
    """Per analysed frame: the rotation first camera <- that frame's camera, and the class of the motion."""

    frame_index: np.ndarray  # (F,)
    timestamp_s: np.ndarray  # (F,)
    R_first_from_frame: np.ndarray  # (F, 3, 3)
    kind: str  # "static", "rotating", "moving"
    lost_frames: int = 0
    warnings: tuple[str, ...] = ()
    zoom: np.ndarray | None = None  # (F,) each frame's focal over the first's, where the camera zoomed; else None

    def rotation_at(self, frame_index: np.ndarray) -> np.ndarray:
        """(N, 3, 3): each frame's rotation (the nearest analysed frame's for one not analysed)."""
        return self.R_first_from_frame[nearest(self.frame_index, frame_index)]

    @property
    def still(self) -> bool:
        """Neither turned nor zoomed: the observations are used as they are."""
        return self.kind == "static" and self.zoom is None

    def homographies(self, K: np.ndarray) -> np.ndarray:
        """(F, 3, 3) first frame's pixels <- each frame's, under ``K`` (the first frame's): K R Z^-1 K^-1."""
        Z = np.ones((len(self.frame_index), 3)) if self.zoom is None else np.column_stack([1 / self.zoom, 1 / self.zoom,
                                                                                             np.ones(len(self.zoom))])
        return K @ self.R_first_from_frame @ (Z[:, :, None] * np.linalg.inv(K))


def nearest(analysed: np.ndarray, frame_index: np.ndarray) -> np.ndarray:
    """Positions in the sorted ``analysed`` frame indices of the one nearest each of ``frame_index``."""
    pos = np.searchsorted(analysed, frame_index).clip(0, len(analysed) - 1)
    prev = (pos - 1).clip(0)
    return np.where(np.abs(analysed[prev] - frame_index) < np.abs(analysed[pos] - frame_index), prev, pos)


def to_rotation(M: np.ndarray) -> np.ndarray:
    """(..., 3, 3) nearest rotations (SVD), scale and sign removed."""
    U, _, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))
    U[..., :, 2] *= d[..., None]
    return U @ Vt


def rotations(H: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(F, 3, 3) homographies first <- frame (pixels) -> the rotations (first camera <- frame camera) that
    move a grid of pixels over the picture most nearly as they do, with this K (Kabsch on the bearings:
    a homography measured under another focal is not K R K^-1 for this one, but its pixel motion still
    says how far the camera turned)."""
    H = np.asarray(H, np.float64)
    if len(H) == 0:
        return np.zeros((0, 3, 3))
    w, h = 2 * K[0, 2], 2 * K[1, 2]
    gx, gy = np.meshgrid(np.linspace(0, w, 5), np.linspace(0, h, 5))
    px = np.column_stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])  # (P, 3)
    Kinv = np.linalg.inv(K)
    src = px @ Kinv.T
    src /= np.linalg.norm(src, axis=1, keepdims=True)
    dst = np.einsum("fij,pj->fpi", Kinv @ H, px)
    dst /= np.linalg.norm(dst, axis=2, keepdims=True)
    U, _, Vt = np.linalg.svd(np.einsum("fpi,pj->fij", dst, src))
    d = np.sign(np.linalg.det(U @ Vt))
    U[..., :, 2] *= d[..., None]
    return U @ Vt


def _kabsch(dst: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., P, 3) unit bearings -> the rotations (..., 3, 3) that take ``src`` most nearly onto ``dst``, and
    the misfit left (..., the sum of squared distances)."""
    U, _, Vt = np.linalg.svd(np.einsum("...pi,...pj->...ij", dst, src))
    d = np.sign(np.linalg.det(U @ Vt))
    U[..., :, 2] *= d[..., None]
    R = U @ Vt
    return R, np.sum((dst - np.einsum("...ij,...pj->...pi", R, src)) ** 2, axis=(-2, -1))


def zooms(H: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Free homographies (F, 3, 3: first <- frame, pixels) as a camera that turns and zooms about the principal
    point: each frame's zoom z (its focal over the first's; :data:`ZOOM_GRID`, then a parabola through the best
    three in log z, twice; a NaN or singular homography's 1), its rotation (first camera <- frame camera), and
    the misfit of a grid of pixels' bearings with that zoom and with none (F,) each."""
    H = np.asarray(H, np.float64).copy()
    sound = np.isfinite(H).all(axis=(1, 2))
    sound[sound] = np.abs(np.linalg.det(H[sound])) > 1e-12  # (a damaged file's NaN or zero rows: fitted as still)
    H[~sound] = np.eye(3)
    w, h = 2 * K[0, 2], 2 * K[1, 2]
    gx, gy = np.meshgrid(np.linspace(0, w, 5), np.linspace(0, h, 5))
    px = np.column_stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])  # (P, 3)
    Kinv = np.linalg.inv(K)
    dst = np.einsum("fij,pj->fpi", Kinv @ H, px)
    dst /= np.maximum(np.linalg.norm(dst, axis=2, keepdims=True), 1e-300)
    u = px @ Kinv.T

    def misfit(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # z (F, G) -> rotations (F, G, 3, 3), misfits (F, G)
        src = np.concatenate([u[None, None, :, :2] / z[..., None, None], np.ones(z.shape + (len(u), 1))], axis=-1)
        src /= np.linalg.norm(src, axis=-1, keepdims=True)
        return _kabsch(np.broadcast_to(dst[:, None], src.shape), src)

    _, costs = misfit(np.broadcast_to(ZOOM_GRID, (len(H), len(ZOOM_GRID))))
    best = np.argmin(costs, axis=1)
    z = ZOOM_GRID[best.clip(1, len(ZOOM_GRID) - 2)]
    step = np.log(ZOOM_GRID[1] / ZOOM_GRID[0])
    for _ in range(2):  # a parabola through three zooms in log z, then again a tenth as far apart
        a, b, c = misfit(z[:, None] * np.exp([-step, 0.0, step]))[1].T
        bend = a - 2 * b + c
        z = z * np.exp(np.where(bend > 0, 0.5 * (a - c) / np.where(bend > 0, bend, 1.0), 0.0).clip(-1, 1) * step)
        step /= 10
    z = np.where(sound & (best > 0) & (best < len(ZOOM_GRID) - 1), z, np.where(sound, ZOOM_GRID[best], 1.0))
    R, fit = misfit(np.column_stack([z, np.ones(len(H))]))
    return z, R[:, 0], fit[:, 0], fit[:, 1]


def _may_zoom(H: np.ndarray) -> bool:
    """Whether any frame's free homography scales the picture (the root of its 2x2 part's determinant) by half
    ZOOM_MIN or more: else no frame zoomed that much (a turn of a few degrees scales it by less; of the 193 sets
    of observations at hand, the handheld clips' 15 are looked at further)."""
    H = np.asarray(H, np.float64)
    with np.errstate(all="ignore"):  # (a damaged row: NaN, left out)
        scale = np.sqrt(np.abs(np.linalg.det(H[:, :2, :2]))) / np.maximum(np.abs(H[:, 2, 2]), 1e-12)
        far = np.abs(np.log(np.maximum(scale, 1e-12)))
    far = far[np.isfinite(far)]
    return bool(len(far)) and bool(far.max() >= np.log1p(ZOOM_MIN) / 2)


def angles_deg(R: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))


def _non_rotation(H: np.ndarray, K: np.ndarray) -> float:
    """How far K^-1 H K is from a scaled rotation, the median over the frames (0 for the true K; the median,
    as a few frames of a chain that slipped would outweigh the rest)."""
    M = np.linalg.inv(K) @ H @ K
    sv = np.linalg.svd(M, compute_uv=False)
    return float(np.median(np.log(sv[:, 0] / sv[:, 2]) ** 2))


def _turned_fit(H: np.ndarray, width: int, height: int, min_deg: float):
    """(focal -> how far the frames that turned >= ``min_deg`` are from rotations under it, the focal grid
    0.3-4x the frame's long side, the cost on it) or None when fewer than 5 frames turned that much."""
    cx, cy, side = width / 2.0, height / 2.0, max(width, height)

    def K(f):
        return np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])

    # frames that turned enough, by their rotation under a middling focal
    turned = angles_deg(rotations(H, K(1.2 * side))) >= min_deg
    if turned.sum() < 5:
        return None
    Hs = H[turned][:: max(1, int(turned.sum()) // 200)]
    grid = np.exp(np.linspace(np.log(0.3 * side), np.log(4.0 * side), 60))

    def cost(f):
        return _non_rotation(Hs, K(f))
    return cost, grid, np.array([cost(f) for f in grid])


def focal_from_rotation(H: np.ndarray, width: int, height: int, min_deg: float = 2.0) -> float | None:
    """The focal length (stored px) that makes the homographies rotations, principal point at the centre;
    None when the camera turned too little (< ``min_deg`` on every frame) to tell."""
    from scipy.optimize import minimize_scalar

    fit = _turned_fit(H, width, height, min_deg)
    if fit is None:
        return None
    cost, grid, costs = fit
    i = int(np.argmin(costs))
    lo, hi = grid[max(0, i - 1)], grid[min(len(grid) - 1, i + 1)]
    f = float(minimize_scalar(cost, bounds=(lo, hi), method="bounded").x)
    # a flat minimum (the rotations are small, about the optical axis, or the camera also travelled) tells
    # nothing: the cost 20% off the focal must be ROTATION_SHARPNESS times the minimum's
    sharp = min(cost(0.8 * f), cost(1.25 * f)) / max(cost(f), 1e-12)
    if i in (0, len(grid) - 1) or sharp < ROTATION_SHARPNESS:
        return None
    return f


def rotation_misfit(H: np.ndarray, width: int, height: int, focal: float, min_deg: float = 2.0) -> float | None:
    """How many times worse than the best focal of the grid a turning camera's homographies fit
    rotations under ``focal`` (px); None when it turned too little to tell. A minimum too flat to give a
    focal can still rule one out: on a handheld clip turning 3 deg, 35% off the best fits 3.7 times worse."""
    fit = _turned_fit(H, width, height, min_deg)
    if fit is None or int(np.argmin(fit[2])) in (0, len(fit[2]) - 1):  # no minimum inside the grid: no best to compare
        return None
    cost, _, costs = fit
    return float(cost(focal) / max(float(costs.min()), 1e-12))


def camera_motion(track: CameraTrack | None, K: np.ndarray, mode: str = "auto", zoomed: bool | None = None) -> CameraMotion | None:
    """The camera's motion over the analysed frames, or None for no track (older observations). ``zoomed``:
    whether the camera zoomed, as decided before (the people were moved by it: a second look under another
    K keeps that answer and measures the zoom again); None: decided here."""
    if track is None or len(track.frame_index) == 0:
        return None
    R = rotations(track.H_first_from_frame, K)
    par = track.parallax_px[np.isfinite(track.parallax_px)]
    moved = len(par) >= 5 and float(np.median(par)) > PARALLAX_PX  # (a camera walking forward looms as a zoom does:
    warnings = []  # its parallax says it is not one)
    decided = zoomed
    looked = mode != "static" and not moved and (decided if decided is not None else _may_zoom(track.H_raw_first_from_frame))
    zoomed = False
    if looked:  # (a cheap look first: 0.4 s of vtest's fit)
        zoom, R_zoomed, with_zoom, without = zooms(track.H_raw_first_from_frame, K)
        far = np.abs(np.log(zoom)) >= np.log1p(ZOOM_MIN)
        past = (zoom <= ZOOM_GRID[0] * 1.0001) | (zoom >= ZOOM_GRID[-1] * 0.9999)
        zoomed = bool(decided) if decided is not None else bool(
            far.sum() >= 3 and np.median(with_zoom[far]) <= ZOOM_FIT * np.median(without[far]))
        if zoomed and past.any():
            warnings.append(f"the camera seems to zoom past {ZOOM_GRID[-1]:.0f}x: the zoom is not followed")
            zoomed = False
        if zoomed:  # the turn as a zooming camera's, not as a fixed focal's
            R = R_zoomed
    R = np.where(np.isfinite(R).all(axis=(1, 2))[:, None, None], R, np.eye(3))
    lost = int((track.status == LOST).sum())
    if lost:
        first = track.timestamp_s[track.status == LOST]
        warnings.append(f"the background was lost on {lost} frame(s) (first at {first[0]:.2f} s: a cut, a bare wall or "
                        "people filling the view): the camera kept its last good pose there")
    ang = angles_deg(R)
    turned = len(ang) > 0 and (np.percentile(ang, 95) > STATIC_DEG or ang.max() > STATIC_MAX_DEG)
    kind = "moving" if moved and turned else "rotating" if turned else "static"
    if mode == "static":
        kind = "static"
    elif mode == "moving" and kind == "static":
        kind = "rotating"
    if kind == "moving":
        warnings.append(f"the camera travelled (parallax {np.median(par):.1f} px): its rotation is followed, its "
                        "translation is not estimated yet, so the people's paths carry it")
    if zoomed:
        warnings.append(f"the camera zoomed ({zoom.min():.2f}x to {zoom.max():.2f}x the first frame's focal): each "
                        "frame's zoom is followed, and the people placed as the first frame's focal sees them")
    if kind == "static":
        R = np.tile(np.eye(3), (len(R), 1, 1))
    return CameraMotion(track.frame_index, track.timestamp_s, R, kind, lost, tuple(warnings), zoom if zoomed else None)


def _apply_H(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(N, 3, 3) homographies applied to (N, K, 2) points, one per row."""
    ph = np.concatenate([pts, np.ones(pts.shape[:-1] + (1,))], axis=-1)
    out = np.einsum("nij,nkj->nki", H, ph)
    return out[..., :2] / out[..., 2:3]


def homography_at(track: CameraTrack, frame_index: np.ndarray) -> np.ndarray:
    """(N, 3, 3): each frame's homography to the first (the nearest analysed frame's)."""
    return track.H_first_from_frame[nearest(track.frame_index, frame_index)]


def stabilised(obs, track: CameraTrack, motion: CameraMotion | None = None, K: np.ndarray | None = None):
    """The observations as the first frame's camera would have seen them (a turning camera's pictures
    are one homography from each other): the people's 2D keypoints and the scene's lines moved onto the
    first frame's pixels. The 3D (camera axes) waits for the rotations (``turned``). A zooming camera's
    (``motion.zoom``) are moved by its turn and zoom under ``K``, not by the fixed focal's homographies."""
    from dataclasses import replace

    Hs = track.H_first_from_frame if motion is None or motion.zoom is None else motion.homographies(K)

    def moved_by(frame_index: np.ndarray) -> np.ndarray:  # each frame's homography (the nearest analysed frame's)
        return Hs[nearest(track.frame_index, frame_index)]

    people = []
    for p in obs.people:
        H = moved_by(np.asarray(p.frame_index))
        people.append(replace(p, keypoints_2d=_apply_H(H, np.asarray(p.keypoints_2d, np.float64))))
    lines = obs.scene_lines
    if lines is not None and len(lines):
        lines = np.asarray(lines, np.float64).copy()
        H = moved_by(lines[:, 4].astype(np.int64))
        lines[:, :4] = _apply_H(H, lines[:, :4].reshape(-1, 2, 2)).reshape(-1, 4)
    return replace(obs, people=tuple(people), scene_lines=lines)


def turned(people, motion: CameraMotion):
    """Each person's 3D (keypoints, the backend's root and mesh: camera axes of their frame) turned into the
    first frame's camera axes."""
    from dataclasses import replace

    out = []
    for p in people:
        R = motion.rotation_at(np.asarray(p.frame_index))
        kw = {"keypoints_3d": np.einsum("tij,tkj->tki", R, np.asarray(p.keypoints_3d, np.float64))}
        if p.translation_cam is not None:
            kw["translation_cam"] = np.einsum("tij,tj->ti", R, np.asarray(p.translation_cam, np.float64))
        if p.vertices is not None:
            kw["vertices"] = np.einsum("tij,tkj->tki", R, np.asarray(p.vertices, np.float32)).astype(np.float16)
        out.append(replace(p, **kw))
    return out


def track_for_identities(track: CameraTrack | None, motion: CameraMotion | None, K: np.ndarray, mode: str = "auto") -> CameraTrack | None:
    """The camera track the identity rules place people by (where the first frame shows them): a zooming
    camera's homographies under ``K`` with its zoom taken out too, as the people are moved (at 1.4x, a box
    500 px from the centre seemed to move 200 px outward by the turn's alone); none where the user said the
    camera stands still (``mode`` "static": the people where the frame shows them, as they are reconstructed);
    any other camera's as followed."""
    from dataclasses import replace

    if mode == "static":
        return None
    if track is None or motion is None or motion.zoom is None:  # (the motion's frames are the track's)
        return track
    return replace(track, H_first_from_frame=motion.homographies(K))


__all__ = ["CameraMotion", "stabilised", "turned", "track_for_identities", "homography_at", "camera_motion", "zooms", "focal_from_rotation", "rotation_misfit", "rotations", "to_rotation", "angles_deg",
           "MOTION_CLASSES"]
