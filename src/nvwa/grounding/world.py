"""World grounding: everyone's feet -> one floor, gravity, the camera's pose, the focal length, and each
person's depth pinned to what they stand on.

Inputs are camera-frame (OpenCV axes: x right, y down, z forward), metres. The world is glTF's: Y up
(the floor normal), floor at Y=0, gravity -Y; origin on the floor right below the camera; -Z is the
camera's view direction projected on the floor (so the camera's heading is 0 and a level camera looks
along -Z, as glTF cameras do).

The rule for the focal length when none is given: a wrong focal length stretches the scene along the
camera's z axis only (depth ~ focal for a body of known size, the lateral position stays), which tilts
the floor fitted to the feet but not the bodies' own up direction (it comes from the 3D pose, not
from where the person is). So the focal length is the one that makes the floor normal and the
upright bodies' mean up agree. A camera looking almost level sees no difference (the stretch is along
the floor); there the guess is kept and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from nvwa.grounding.floor import (Floor, body_up_direction, contact_mask, fit_floor, foot_ray_factors, lowest_sole,
                                  pin_depth_to_floor, pin_depth_to_floor_many, running_median, world_from_camera)
from nvwa.grounding.paths import smoothed_along_rays_many, speed_bounded, speed_limit
from nvwa.grounding.supports import MAX_SUPPORT_M, RAISED_SUPPORT_M, RAISED_SUPPORT_MIN_S, at_their_own_scale, raised_supports

TYPICAL_CAMERA_HEIGHT_M = 1.6  # the prior when no floor can be fitted: an upright camera at eye height
MIN_CONTACT_POINTS = 8  # fewer foot contacts than this: the floor is the prior, not a fit
MIN_PITCH_FOR_FOCAL_DEG = 8.0  # below this the floor's tilt says nothing about the focal length
FOCAL_SCALE_RANGE = (0.5, 2.0)  # estimates outside guess x this range are not believed
# m: past this stance noise (a camera ~5.9 m or more above the person's pelvis; vtest's: 1.6-2.7 m) no raised stretch
# is looked for: a support would have to be taller than that to stand out, and the depth drifts by as much
HIGH_VIEW_NOISE_M = 1.5
SIZE_DEPTH_ERROR = 0.1  # share of the distance a body-size placement is off by (one person, one stretch)
ELEVATED_FACTOR = 1.6  # feet that meet the floor only this much further than the body's size puts them: a person on something
PATH_MEDIAN_S = 0.7  # s: a person's root path is a running median over this (a wrong or hidden foot for a few frames)
DROP_S = (0.3, 1.0)  # s before and after the last frame on a support: the step down off it, where the body may fall
SNAP_M = 0.15  # m: a standing foot this close to its support after smoothing (or before it) is put back on it
GROUND_SIZE_FRAMES = 2  # planted frames on the floor that size a person who also stood on a support: a support's
# height carries its own error into every frame pinned to it, the more the nearer the camera's height (1/(camera -
# support) of the size per metre: 25% for 10 cm on a 1.9-m box under a 1.5-m camera), the floor's hardly (1/camera)


@dataclass(frozen=True)
class PersonFeet:
    """What grounding needs of one person, camera frame."""

    t: np.ndarray  # (T,) s
    root: np.ndarray  # (T, 3) m, pelvis
    soles: np.ndarray  # (T, S, 3) m, sole points (ankles, toes) relative to the root
    sole_confidence: np.ndarray  # (T, S)
    up: np.ndarray  # (T, 3) pelvis -> neck, relative (from the 3D pose alone)


@dataclass(frozen=True)
class CameraPose:
    height_m: float  # above the floor
    pitch_deg: float  # positive: looking down
    roll_deg: float  # positive: the camera turned clockwise about its view (its right side down; the horizon rises to the right)
    world_from_camera: np.ndarray = field(repr=False)  # (4, 4): x_world = M @ [x_cam, 1]

    def as_dict(self) -> dict:
        return {"height_m": self.height_m, "pitch_deg": self.pitch_deg, "roll_deg": self.roll_deg,
                "world_from_camera": self.world_from_camera.tolist()}


@dataclass(frozen=True)
class Grounding:
    floor: Floor
    R_world_from_cam: np.ndarray
    t_world_from_cam: np.ndarray
    camera: CameraPose
    focal_scale: float  # the focal length found / the one the people were placed with (1: kept)
    focal_estimated: bool
    roots: dict  # person id -> (T, 3) camera-frame root after the focal correction and depth pinning
    depth_scale: dict  # person id -> mean factor the pinning applied along the camera ray
    supports: dict  # person id -> list of {"height_m", "start_s", "end_s"} raised supports (none: the floor)
    warnings: list = field(default_factory=list)
    cues: dict = field(default_factory=dict)  # each cue's own gravity estimate (body up, contact plane) and its angle to the one used

    def scaled(self, s: float) -> "Grounding":
        """The same world ``s`` times larger about the camera (metric scale): floor, camera height, roots."""
        floor = replace(self.floor, offset=self.floor.offset * s, rms=self.floor.rms * s)
        t = self.t_world_from_cam * s
        return replace(self, floor=floor, t_world_from_cam=t, camera=camera_pose(self.R_world_from_cam, t),
                       roots={pid: r * s for pid, r in self.roots.items()},
                       supports={pid: [{**x, "height_m": round(x["height_m"] * s, 3)} for x in v] for pid, v in self.supports.items()})

    def event_data(self) -> dict:
        """The ``grounded`` event's payload: floor, gravity, camera pose, per-person support."""
        return {
            "floor": {"normal_cam": self.floor.normal_cam.tolist(), "offset_m": self.floor.offset,
                      "method": self.floor.method, "inliers": self.floor.inliers, "candidates": self.floor.candidates,
                      "rms_m": self.floor.rms},
            "gravity_cam": (-self.floor.normal_cam).tolist(),
            "camera": self.camera.as_dict(),
            "focal_scale": self.focal_scale, "focal_estimated": self.focal_estimated,
            "people": {str(pid): {"depth_scale": self.depth_scale[pid], "raised_supports": self.supports[pid]}
                       for pid in self.roots},
            "warnings": list(self.warnings),
            "cues": self.cues,
        }


def camera_pose(R: np.ndarray, t: np.ndarray) -> CameraPose:
    """R_world_from_cam, t_world_from_cam -> the camera's height, pitch, roll and 4x4 pose."""
    forward = R @ np.array([0.0, 0.0, 1.0])
    right = R @ np.array([1.0, 0.0, 0.0])
    M = np.eye(4)
    M[:3, :3], M[:3, 3] = R, t
    pitch = float(np.degrees(np.arcsin(np.clip(-forward[1], -1.0, 1.0))))
    down = R @ np.array([0.0, 1.0, 0.0])
    roll = float(np.degrees(np.arctan2(-right[1], -down[1])))  # yaw-pitch-roll order: exact for any pitch < 90
    return CameraPose(float(t[1]), pitch, roll, M)


def prior_floor(candidates: int) -> Floor:
    """The camera upright (no pitch, no roll) at a typical height: what is assumed without contacts."""
    return Floor(np.array([0.0, -1.0, 0.0]), TYPICAL_CAMERA_HEIGHT_M, 0, candidates, 0.0, "prior")


def estimate_focal_scale(floor_normal: np.ndarray, body_up: np.ndarray) -> float | None:
    """The factor s (true focal = guessed focal / s) whose z-stretch tilts the floor normal onto the
    bodies' up; None when the camera looks too level for the floor to tell (or the bodies disagree)."""
    n, u = np.asarray(floor_normal), np.asarray(body_up)
    pitch = np.degrees(np.arcsin(min(abs(n[2]), 1.0)))
    if pitch < MIN_PITCH_FOR_FOCAL_DEG or abs(u[2]) < np.sin(np.radians(MIN_PITCH_FOR_FOCAL_DEG / 2)):
        return None
    # positions placed with focal f_g are x_g = diag(1, 1, s) x, s = f_g / f: a true normal (nx, ny, nz)
    # is seen as ~ (nx, ny, nz / s); the bodies' up keeps the true ratio uz / uy
    s = float((u[2] / u[1]) / (n[2] / n[1]))
    if not (FOCAL_SCALE_RANGE[0] <= s <= FOCAL_SCALE_RANGE[1]):
        return None
    return s


def _no_floor(floor: Floor) -> bool:
    """Too few foot contacts: the floor is the prior (its normal maybe gravity from the vanishing points)."""
    return floor.method == "prior" or floor.candidates < MIN_CONTACT_POINTS


def _fit(people: dict, up: np.ndarray, fixed: bool = False) -> Floor:
    """The floor under the people's foot contacts; ``fixed``: ``up`` is gravity's opposite, known."""
    pts = [p.root[:, None, :] + p.soles for p in people.values()]
    masks = [contact_mask(q, p.t, up, p.sole_confidence) for q, p in zip(pts, people.values())]
    contacts = np.concatenate([q[m] for q, m in zip(pts, masks)]) if pts else np.zeros((0, 3))
    if len(contacts) < MIN_CONTACT_POINTS:
        floor = prior_floor(len(contacts))
        return replace(floor, normal_cam=up, method="gravity") if fixed else floor
    return fit_floor(contacts, up, fixed_normal=fixed)


MOVING_CAMERA_TILT_DEG = 5.0  # floors of the two halves of the video further apart than this: the camera moved
MOVING_CAMERA_HEIGHT = 0.15  # ... or camera heights differing by this share


def camera_moved(people: dict, floor: Floor, cues: dict | None = None) -> str | None:
    """Fit the floor to the first and the second half of the video on their own (people as pinned to
    ``floor``): a static camera sees one floor; a panning, tilting or travelling one does not.
    -> a warning, or None; ``cues`` gets "floor_halves" (their tilt apart, deg, and height change, %)."""
    t_all = np.concatenate([p.t for p in people.values()]) if people else np.zeros(0)
    if len(t_all) == 0:
        return None
    mid = float(np.median(t_all))
    halves = []
    for first in (True, False):
        part = {}
        for pid, p in people.items():
            m = (p.t <= mid) if first else (p.t > mid)
            if m.sum() >= 2:
                part[pid] = PersonFeet(p.t[m], p.root[m], p.soles[m], p.sole_confidence[m], p.up[m])
        halves.append(_fit(part, floor.normal_cam) if part else prior_floor(0))
    if any(h.method != "ransac" for h in halves):
        return None  # too little in a half to tell
    tilt = float(np.degrees(np.arccos(np.clip(halves[0].normal_cam @ halves[1].normal_cam, -1.0, 1.0))))
    dh = abs(halves[0].offset - halves[1].offset) / max(min(halves[0].offset, halves[1].offset), 1e-6)
    if cues is not None:
        cues["floor_halves"] = {"tilt_deg": round(tilt, 2), "height_change_pct": round(100 * dh, 1)}
    if tilt > MOVING_CAMERA_TILT_DEG or dh > MOVING_CAMERA_HEIGHT:
        # (the heights themselves, not their change in %: a half's floor fitted at the camera's height gave "70186782%")
        return (f"the camera seems to move: the floors of the video's first and second halves are {tilt:.1f} deg apart, "
                f"{halves[0].offset:.2f} and {halves[1].offset:.2f} m below the camera; one static floor was used")
    return None


def _stretched(people: dict, s: float) -> dict:
    z = np.array([1.0, 1.0, 1.0 / s])
    return {pid: PersonFeet(p.t, p.root * z, p.soles, p.sole_confidence, p.up) for pid, p in people.items()}


def _gravity_cues(up: np.ndarray, floor: Floor, gravity: np.ndarray | None, warnings: list) -> dict:
    """Each cue's own gravity (the bodies' mean up; the plane through the foot contacts), and with
    ``gravity`` given, each one's angle to it; a warning when the feet's plane disagrees by > 10 deg."""
    cues = {"body_up": {"gravity_cam": (-up).tolist()},
            "contact_plane": {"gravity_cam": (-floor.normal_cam).tolist(), "method": floor.method, "rms_m": floor.rms}}
    if gravity is None:
        return cues
    g = np.asarray(gravity, float) / np.linalg.norm(gravity)
    for cue in cues.values():
        cue["deg_from_used"] = round(float(np.degrees(np.arccos(np.clip(g @ np.asarray(cue["gravity_cam"]), -1, 1)))), 2)
    if floor.method == "ransac" and cues["contact_plane"]["deg_from_used"] > 10:
        warnings.append(f"the feet's plane is {cues['contact_plane']['deg_from_used']:.0f} deg from the vanishing points' "
                        "gravity (feet along one line, or a sloped floor): gravity from the vanishing points used")
    return cues


def ground_people(floor_view: dict, people: dict, *, estimate_focal: bool, gravity: np.ndarray | None = None) -> Grounding:
    """Fit the floor to ``floor_view`` (person id -> PersonFeet, a steadier view of the same people),
    estimate the focal length if asked, and pin each of ``people``'s depth to their support.
    ``gravity`` (camera frame, unit; from the vanishing points): the floor's normal is known, only its
    height is fitted; the contact plane and the bodies' up are then kept as cues to compare."""
    warnings: list[str] = []
    if not people:
        floor = prior_floor(0)
        R, t = world_from_camera(floor)
        return Grounding(floor, R, t, camera_pose(R, t), 1.0, False, {}, {}, {}, ["nobody to ground: camera prior"])
    up = body_up_direction(np.concatenate([p.root for p in floor_view.values()]),
                           np.concatenate([p.root + p.up for p in floor_view.values()]))
    floor = _fit(floor_view, up)
    fixed = gravity is not None
    cues = _gravity_cues(up, floor, gravity, warnings)
    if fixed:
        up = -np.asarray(gravity, float) / np.linalg.norm(gravity)
        estimate_focal = False
        floor = _fit(floor_view, up, fixed=True)
    scale_z, estimated = 1.0, False
    if estimate_focal and floor.method == "ransac":
        s = estimate_focal_scale(floor.normal_cam, up)
        if s is None:
            warnings.append("focal length not estimated (camera nearly level or people disagree): the default kept")
        else:
            scale_z, estimated = s, True
            floor_view, people = _stretched(floor_view, s), _stretched(people, s)
            floor = _fit(floor_view, up)
    for _ in range(2):  # stand the steady view on the floor, refit
        if _no_floor(floor):
            break
        floor = refit_floor(floor_view, floor, fixed)
    if not _no_floor(floor):  # the same view: the body model's raw depth would invent a moving camera
        moved = camera_moved(_slowly_pinned(floor_view, floor), floor, cues)
        if moved:
            warnings.append(moved)
    if _no_floor(floor):
        warnings.append(f"too few foot contacts ({floor.candidates}) to fit a floor: assumed an upright camera "
                        f"{TYPICAL_CAMERA_HEIGHT_M} m above it")
    roots, depth, supports = {}, {}, {}
    stood = ([(p.root.copy(), 1.0, []) for p in people.values()] if _no_floor(floor) else
             stand_people(list(people.values()), floor, _pinned(people, floor)))
    for pid, (root, size, found) in zip(people, stood):
        roots[pid], depth[pid], supports[pid] = root, size, found
    R, t = world_from_camera(floor)
    return Grounding(floor, R, t, camera_pose(R, t), 1.0 / scale_z, estimated, roots, depth, supports, warnings, cues)


def refit_floor(floor_view: dict, floor: Floor, fixed: bool) -> Floor:
    """The floor again, the people stood on ``floor``: the tilt (unless gravity is ``fixed``) from the
    people pinned by a slow (1 s median) factor, which keeps their own motion; the height from the people
    stood on their feet (the slow view's contacts sit a little above its floor: refit on them alone, the
    floor would creep up iteration after iteration)."""
    normal, method = floor.normal_cam, floor.method
    if not fixed:
        tilted = _fit(_slowly_pinned(floor_view, floor), floor.normal_cam)
        normal, method = tilted.normal_cam, tilted.method
    stood = dict(zip(floor_view, (placed for placed, _ in _placed_many(list(floor_view.values()), floor, [0.0] * len(floor_view),
                                                                      _pinned(floor_view, floor)))))
    refit = _fit(stood, normal, fixed=True)
    return refit if _no_floor(refit) else replace(refit, method=method)


def stand_person(p: PersonFeet, floor: Floor, pinned: np.ndarray | None = None) -> tuple[np.ndarray, float, list[dict]]:
    """One person stood by their feet on the floor or on a support found under them -> (root path (T, 3)
    camera frame, their size factor, the supports they stood on). ``pinned``: their
    :func:`pin_depth_to_floor` factors on ``floor`` where the caller has them already."""
    return stand_people([p], floor, [pinned])[0]


def stand_people(people: list[PersonFeet], floor: Floor, pinned: list) -> list[tuple[np.ndarray, float, list[dict]]]:
    """:func:`stand_person` for many people, their paths smoothed side by side."""
    stances = [_stance(p, floor, k) for p, k in zip(people, pinned)]
    placed = _placed_many(people, floor, [level for level, _, _ in stances], [k for _, k, _ in stances])
    return [(q.root, size, found) for (q, size), (_, _, found) in zip(placed, stances)]


def _stance(p: PersonFeet, floor: Floor, pinned: np.ndarray | None) -> tuple:
    """What a person stands on -> (the support's height above the floor (T,) m, the depth factors pinned
    to it (T,), the supports found)."""
    k = pin_depth_to_floor(p.root, p.soles, p.sole_confidence, floor, p.t) if pinned is None else pinned
    # a stance well above the floor before pinning (a box, a step) is a support of its own
    lowest = np.where(p.sole_confidence >= 0.5, floor.height(p.root[:, None] + p.soles), np.inf).min(axis=1)
    lowest[~np.isfinite(lowest)] = np.nan  # no sole seen that frame
    noise = _stance_noise(p, floor)
    # seen from high up, a drift of the depth passes for a stepped-onto support (vtest's woman in red crossing
    # the back of the square was drawn on a 2.3-m one, on a 2.11-m noise bound): none is looked for there
    level, found = raised_supports(lowest, p.t, noise) if noise <= HIGH_VIEW_NOISE_M else (np.zeros(len(p.t)), [])
    if found:
        level, found = at_their_own_scale(level, found, lowest, p.t, floor.offset)
    if not found:
        level, found = _standing_above_floor(p, floor, lowest)
    if found:
        k = np.where(level > 0, _pin_to_levels(p, floor, level), k)
    return level, k, found


def _stance_noise(p: PersonFeet, floor: Floor) -> float:
    """The least stance height (m) a raised support of this person must have to be told from noise: the
    body-size placement is good to ~SIZE_DEPTH_ERROR of the distance, which moves the feet up or down by
    that along the ray's slope to the floor: SIZE_DEPTH_ERROR of the camera's height over them, at any
    distance (a camera high up: a lot)."""
    d = np.linalg.norm(p.root, axis=1)
    slope = np.abs(p.root @ floor.normal_cam) / np.maximum(d, 1e-9)
    return max(RAISED_SUPPORT_M, 3 * SIZE_DEPTH_ERROR * float(np.median(d * slope)))


def _pinned(people: dict, floor: Floor) -> list[np.ndarray]:
    """Everyone's :func:`pin_depth_to_floor` factors on ``floor``, in ``people``'s order, in one pass (each as alone)."""
    ps = list(people.values())
    return pin_depth_to_floor_many([p.root for p in ps], [p.soles for p in ps], [p.sole_confidence for p in ps], floor, [p.t for p in ps])


def _slowly_pinned(people: dict, floor: Floor) -> dict:
    """Each person scaled about the camera by a slow (running median) factor that puts their feet on the floor."""
    return {pid: PersonFeet(p.t, p.root * k[:, None], p.soles * k[:, None, None], p.sole_confidence, p.up)
            for (pid, p), k in zip(people.items(), _pinned(people, floor))}


def _standing_above_floor(p: PersonFeet, floor: Floor, lowest: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """A person who never stands on the floor (a man on a utility box for the whole clip): their feet's
    camera rays meet the floor only where they would be a giant (factor > ELEVATED_FACTOR on their
    body-size placement), or not at all, while at their body-size placement the feet rest steadily at
    one height above the floor. That height is a support of their own. -> (level per frame, supports)."""
    T = len(p.t)
    raw = foot_ray_factors(p.root, p.soles, p.sole_confidence, floor, limits=(0.05, 100.0))
    ok = np.isfinite(raw)
    if ok.mean() >= 0.3 and np.median(raw[ok]) <= ELEVATED_FACTOR:
        return np.zeros(T), []
    h = lowest[np.isfinite(lowest)]
    if len(h) < 3 or p.t[-1] - p.t[0] < RAISED_SUPPORT_MIN_S:
        return np.zeros(T), []
    top = float(np.median(h))
    if not RAISED_SUPPORT_M <= top <= MAX_SUPPORT_M or np.subtract(*np.percentile(h, [75, 25])) > 0.15:
        return np.zeros(T), []
    return np.full(T, top), [{"height_m": round(top, 3), "start_s": float(p.t[0]), "end_s": float(p.t[-1]), "whole_track": True}]


def _placed(p: PersonFeet, floor: Floor, level: np.ndarray | float = 0.0,
            fallback: np.ndarray | None = None) -> tuple[PersonFeet, float]:
    """The person stood on their lowest foot. Each frame that foot slides along its own camera ray onto
    the floor (or the support ``level`` (T,) m above it): where it meets it is where the person stands,
    whatever their size; the body hangs from it at one size for the whole track (the median factor over
    the planted frames; for someone who also stood on a support, over their planted frames on the floor
    where there are GROUND_SIZE_FRAMES or more), so it neither grows nor shrinks from frame to frame. The path of the root is then cleaned of what
    a person cannot do (a running median drops a wrong foot or a hidden one, a zero-lag One-Euro the
    jitter, at a fixed cutoff along the camera's ray) and its height above the support is the body's own
    (pelvis over the standing foot).
    ``fallback`` (T,): factors for frames whose ray says nothing (grazing); default: the median.
    -> (the person placed, their size factor)."""
    return _placed_many([p], floor, [level], [fallback])[0]


def _placed_many(ps: list[PersonFeet], floor: Floor, levels: list, fallbacks: list) -> list[tuple[PersonFeet, float]]:
    """:func:`_placed` for many people (each with their level and fallback), the paths' smoothing run for
    all of them side by side."""
    n = floor.normal_cam
    out: list = [None] * len(ps)
    paths: list = []  # (person's index, root before the smoothing, size, lowest sole, level)
    for i, (p, level, fallback) in enumerate(zip(ps, levels, fallbacks)):
        raw = foot_ray_factors(p.root, p.soles, p.sole_confidence, floor, level=level)
        # only where a foot is planted (slow across its ray): in a jump or a flip the lowest foot is in the air,
        # and those frames keep the body model's own motion, scaled by the slow factor (``fallback``)
        planted = contact_mask(p.root[:, None] + p.soles, p.t, n, p.sole_confidence).any(axis=1)
        if fallback is not None and planted.any():
            raw = np.where(planted, raw, np.nan)
        ok = np.isfinite(raw)
        if not ok.any() and fallback is None:
            out[i] = (p, 1.0)
            continue
        on_floor = ok & (np.broadcast_to(np.asarray(level, dtype=np.float64), ok.shape) == 0)
        sizing = on_floor if np.any(np.asarray(level) > 0) and on_floor.sum() >= GROUND_SIZE_FRAMES else ok
        size = float(np.median(raw[sizing])) if ok.any() else float(np.median(fallback))
        k = np.where(ok, raw, fallback if fallback is not None else size)
        q = lowest_sole(p.soles, p.sole_confidence, n)
        root = k[:, None] * (p.root + q) - size * q
        if len(p.t) > 2:
            root = running_median(root, p.t, PATH_MEDIAN_S)
            bounded = speed_bounded(root, p.t, speed_limit(root, p.t), n, _stepping_down(level, p.t))
            paths.append((i, bounded, size, q, level))
        else:
            out[i] = (PersonFeet(p.t, root, p.soles * size, p.sole_confidence, p.up), size)
    smoothed = smoothed_along_rays_many([root for _, root, _, _, _ in paths], [ps[i].t for i, _, _, _, _ in paths])
    for (i, before, size, q, level), root in zip(paths, smoothed):
        p = ps[i]

        def above(r):  # the standing foot's height above its support
            return (r + size * q) @ n + floor.offset - np.asarray(level, dtype=np.float64)
        # the smoothing leaves the standing foot off its support: put it back on (a foot clearly in the air, a
        # jump the running median kept, stays in the air; one below the support comes up). Far off, the
        # smoothing along the ray alone lifts it by a lot (at 65 m, 3 m along the ray is 0.3 m up): a foot
        # that stood on its support before the smoothing is put back whatever the lift
        foot = above(root)
        down = (foot < SNAP_M) | (above(before) < SNAP_M)
        root[down] -= foot[down, None] * n[None, :]
        out[i] = (PersonFeet(p.t, root, p.soles * size, p.sole_confidence, p.up), size)
    return out


def _stepping_down(level: np.ndarray | float, t: np.ndarray) -> np.ndarray | None:
    """(T,) the frames of a step down off a support (DROP_S around the last frame on it), or None."""
    level = np.broadcast_to(np.asarray(level, dtype=np.float64), t.shape)
    last_on = np.flatnonzero(level[1:] < level[:-1])
    if not len(last_on):
        return None
    return np.any([(t >= t[i] - DROP_S[0]) & (t <= t[i] + DROP_S[1]) for i in last_on], axis=0)


def _pin_to_levels(p: PersonFeet, floor: Floor, level: np.ndarray) -> np.ndarray:
    """Depth factors that put the person's lowest sole on a surface ``level`` (T,) m above the floor."""
    k = np.ones(len(p.t))
    for value in np.unique(level[level > 0]):
        m = level == value
        surface = Floor(floor.normal_cam, floor.offset - float(value), 0, 0, 0.0, "support")
        k[m] = pin_depth_to_floor(p.root[m], p.soles[m], p.sole_confidence[m], surface, p.t[m])
    return k
