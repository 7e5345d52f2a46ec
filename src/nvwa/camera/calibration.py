"""The camera calibrated from what the models saw: the scene's straight edges and the people's vertical
lines (feet to shoulders) vote for the vertical vanishing point and, with the horizontal ones, the focal
length (see :mod:`nvwa.camera.vanishing`). Intrinsics given by the user win over the estimate; gravity
is still found. Each cue's own answer is kept in the result, with how many segments voted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from nvwa.body.keypoints import B, M
from nvwa.camera.intrinsics import Intrinsics
from nvwa.camera.steady import STEADY_DEG
from nvwa.camera.vanishing import (MIN_VERTICAL_VOTES, SceneCalibration, calibrate_from_lines, focal_from_people,
                                   gravity_from_vp)

# keypoint indices (left/right ankle, hip, shoulder) per keypoint set
_VERTICAL_KEYPOINTS = {
    "blazepose33": [B[n] for n in ("left_ankle", "right_ankle", "left_hip", "right_hip", "left_shoulder", "right_shoulder")],
    "mhr70": [M[n] for n in ("left_ankle", "right_ankle", "left_hip", "right_hip", "left_shoulder", "right_shoulder")],
}
PEOPLE_FRAMES = 40  # frames per person offered as vertical segments (spread over the track)
MIN_VISIBILITY = 0.6
MAX_LEAN_IN_IMAGE_DEG = 50.0  # a body whose 3D up is further than this from the camera's up is lying, not standing
UPRIGHT_DEG = 15.0  # a person's feet-hip-shoulder line bent more than this (in 3D) is not a vertical segment
PEOPLE_SHARPNESS = 1.5  # the walkers' height spread at +-20% focal over its minimum: below, they say little
STRONG_VOTES = 20  # segments a VP needs before it outranks the feet (a few short edges of round things can agree by chance)
MIN_VIEW_DEG = 20.0  # deg across the frame's diagonal: a narrower view (a lens over ~120 mm full-frame) is not believed unless given


@dataclass
class CameraCalibration:
    """The intrinsics to reconstruct with and gravity in the camera (None: no vertical evidence)."""

    K: Intrinsics
    gravity_cam: np.ndarray | None  # (3,) unit, OpenCV camera axes
    lines: SceneCalibration | None
    people_segments: int
    warnings: list = field(default_factory=list)
    focal_cues: dict = field(default_factory=dict)  # each cue's own focal: the lines', the walking people's

    def as_dict(self) -> dict:
        out = {"focal_px": self.K.fx, "intrinsics": self.K.source, "people_segments": self.people_segments,
               "gravity_cam": None if self.gravity_cam is None else [float(x) for x in self.gravity_cam]}
        if self.lines is not None:
            out["vanishing_points"] = self.lines.as_dict()
        out["focal_cues"] = self.focal_cues
        return out


def people_segments(people, keypoint_set: str) -> tuple[np.ndarray, np.ndarray]:
    """Upright people as image segments, mid-ankles -> mid-shoulders (M, 4) px, and the mean 3D up of the
    bodies (camera axes, from the 3D pose alone: the hint that tells the vertical VP from the others)."""
    idx = _VERTICAL_KEYPOINTS.get(keypoint_set)
    if idx is None:
        return np.zeros((0, 4)), None
    segs, ups = [], []
    for p in people:
        kp2, kp3, vis = (np.asarray(a, np.float64) for a in (p.keypoints_2d, p.keypoints_3d, p.visibility))
        take = np.unique(np.linspace(0, len(kp2) - 1, min(PEOPLE_FRAMES, len(kp2))).astype(int))
        for i in take:
            if vis[i, idx].min() < MIN_VISIBILITY:
                continue
            la, ra, lh, rh, ls, rs = kp3[i, idx]
            legs, torso = (lh + rh - la - ra) / 2, (ls + rs - lh - rh) / 2
            cos = legs @ torso / (np.linalg.norm(legs) * np.linalg.norm(torso) + 1e-9)
            up = legs + torso  # ankles -> shoulders: the body's up, camera axes (about -y for a level camera)
            up = up / (np.linalg.norm(up) + 1e-9)
            if -up[1] < np.cos(np.radians(MAX_LEAN_IN_IMAGE_DEG)):
                continue  # lying, or upside down: says nothing about the vertical
            ups.append(up)
            if np.degrees(np.arccos(np.clip(cos, -1, 1))) > UPRIGHT_DEG:
                continue
            a2 = kp2[i, idx]
            segs.append(np.r_[(a2[0] + a2[1]) / 2, (a2[4] + a2[5]) / 2])
    hint = np.mean(ups, axis=0) if ups else None
    return np.asarray(segs, np.float64).reshape(-1, 4), hint


def walker_tracks(people, keypoint_set: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per person, (feet (T, 2), shoulders (T, 2)) px on the frames where both are seen: for the focal
    length that keeps each walker one height at every depth (:func:`focal_from_people`)."""
    idx = _VERTICAL_KEYPOINTS.get(keypoint_set)
    out = []
    for p in people if idx is not None else []:
        kp, vis = np.asarray(p.keypoints_2d, np.float64), np.asarray(p.visibility, np.float64)
        ok = vis[:, [idx[0], idx[1], idx[4], idx[5]]].min(axis=1) >= MIN_VISIBILITY
        out.append(((kp[ok, idx[0]] + kp[ok, idx[1]]) / 2, (kp[ok, idx[4]] + kp[ok, idx[5]]) / 2))
    return out


SHOULDER_SHARE = 0.818  # shoulder height over stature, adults (anthropometric tables)


def camera_height_from_people(tracks: list, vertical_vp: np.ndarray, K: Intrinsics, size: tuple[int, int]) -> float | None:
    """The camera's height (m) from the walkers alone: the cross-ratio gives each one's shoulder height
    over the camera's; with shoulders at SHOULDER_SHARE of the adult stature prior, the median of the
    people's medians. None when nobody is seen whole often enough."""
    from nvwa.camera.vanishing import height_ratios
    from nvwa.grounding.scale import ADULT_STATURE_M

    c = np.array([K.cx, K.cy])
    per_person = []
    for feet, tops in tracks:
        if len(feet) >= 5:
            r = height_ratios(feet, tops, vertical_vp, K.fx, c)
            r = r[np.isfinite(r) & (r > 0.01) & (r < 10)]
            if len(r) >= 5:
                per_person.append(float(np.median(r)))
    if not per_person:
        return None
    return round(SHOULDER_SHARE * ADULT_STATURE_M / float(np.median(per_person)), 3)


def view_deg(focal_px: float, size: tuple[int, int]) -> float:
    """The angle (deg) a focal length (px) sees across a frame of ``size`` (w, h) px, corner to corner."""
    return float(np.degrees(2 * np.arctan(np.hypot(*size) / 2 / focal_px)))


def _believed(focal: float | None, cue: str, size: tuple[int, int], warnings: list) -> float | None:
    """``focal`` (px) unless it sees less than MIN_VIEW_DEG across: then a cue gone wrong (on a handheld
    home video, a vertical vanishing point a few degrees off put one at 3,900 px, a 16-deg view and a camera
    10.8 m up), not a lens; None, with a warning."""
    if focal is None:
        return None
    if not np.isfinite(focal) or focal <= 0:
        warnings.append(f"the {cue} focal came out as {focal}: not used")
        return None
    if view_deg(focal, size) >= MIN_VIEW_DEG:
        return focal
    warnings.append(f"the {cue} focal of {focal:.0f} px is a view {view_deg(focal, size):.0f} deg across (a long "
                    f"telephoto): not believed; give --focal if it is one")
    return None


MISFIT_TIMES = 2.0  # as the turning's own focal must be sharp: 20% off it fits this many times worse


def _turn_allows(focal: float | None, cue: str, misfit, warnings: list) -> float | None:
    """``focal`` unless the camera's own turning fits it over MISFIT_TIMES worse than its best focal (lines
    from several frames of a hand-held camera can agree on a focal no single view has)."""
    times = None if focal is None or misfit is None else misfit(focal)
    if times is None or times <= MISFIT_TIMES:
        return focal
    warnings.append(f"the {cue} focal of {focal:.0f} px fits the camera's turning {times:.1f} times worse than "
                    "its best: not believed")
    return None


def calibrate_camera(obs, K: Intrinsics, people, misfit=None) -> CameraCalibration:
    """The K to reconstruct with (the user's if given, else the focal the vanishing points agree on, else
    ``K`` as it is) and gravity in the camera from the vertical vanishing point (None when fewer than
    MIN_VERTICAL_VOTES segments vote for one). ``misfit``: for a turning camera, focal -> how many times
    worse than its best the turning fits it (:func:`nvwa.camera.motion.rotation_misfit`); a cue's focal it
    fits over MISFIT_TIMES worse is not believed."""
    size = (int(obs.video["width"]), int(obs.video["height"]))
    lines = np.zeros((0, 4)) if obs.scene_lines is None else np.asarray(obs.scene_lines, np.float64)[:, :4]
    segs, hint = people_segments(people, obs.keypoint_set)
    warnings = []
    if len(lines) + len(segs) < MIN_VERTICAL_VOTES:
        return CameraCalibration(K, None, None, len(segs), ["no straight lines and nobody upright: no vanishing points"])
    cal = calibrate_from_lines(lines, segs, size, up_hint=hint, focal_guess=K.fx)
    if cal.vertical_spread_deg is not None and cal.vertical_spread_deg > STEADY_DEG:
        chosen = "the one of those the bodies' up is nearest" if hint is not None else "the most central of those"
        warnings.append(f"the vertical vanishing point is not pinned down by its segments (found again on draws of "
                        f"them, it moves {cal.vertical_spread_deg:.0f} deg): {chosen} used")
    focal_votes = sum(n for _, n, f in cal.horizontal_vps if f is not None and cal.focal_px and abs(f / cal.focal_px - 1) <= 0.1)
    lines_focal = cal.focal_px if cal.focal_px is not None and focal_votes >= STRONG_VOTES else None
    people_focal = focal_from_people(walker_tracks(people, obs.keypoint_set), cal.vertical_vp, size) \
        if cal.vertical_vp is not None else None
    cues = {"lines_focal_px": lines_focal, "lines_focal_votes": int(focal_votes), "people": people_focal}
    walkers = people_focal if people_focal and people_focal["sharpness"] >= PEOPLE_SHARPNESS and people_focal["people"] >= 2 else None
    if K.source == "default" and not obs.backend_places_people:
        doubted = len(warnings)
        lines_focal = _turn_allows(_believed(lines_focal, "lines'", size, warnings), "lines'", misfit, warnings)
        if walkers is not None and _turn_allows(_believed(walkers["focal_px"], "people's heights'", size, warnings),
                                                "people's heights'", misfit, warnings) is None:
            walkers = None
        doubted = len(warnings) > doubted
        if lines_focal is not None:
            K = K.with_focal(lines_focal, "vanishing points")
            if walkers and abs(walkers["focal_px"] / lines_focal - 1) > 0.15:
                warnings.append(f"the people's heights suggest a focal of {walkers['focal_px']:.0f} px, the lines "
                                f"{lines_focal:.0f} px: the lines' used")
        elif walkers is not None:
            K = K.with_focal(walkers["focal_px"], "people's heights")
        elif doubted:
            warnings.append("no focal length believed: the default kept" +
                            ("" if misfit is None else " unless the camera's turning gives one"))
        else:
            warnings.append("focal length not found (too few straight horizontal edges, nobody walking nearer and "
                            "further): the default kept")
    if cal.vertical_vp is not None and abs(cal.vertical_vp[2]) > 1e-9:
        cues["people_camera_height_m"] = camera_height_from_people(walker_tracks(people, obs.keypoint_set), cal.vertical_vp, K, size)
    gravity = None
    if cal.vertical_vp is not None and cal.vertical_votes - cal.vertical_people_votes >= STRONG_VOTES:
        gravity = gravity_from_vp(cal.vertical_vp, K.K)
    elif cal.vertical_vp is not None:
        warnings.append(f"vertical vanishing point from {cal.vertical_votes} segments only: gravity from the feet and bodies")
    return CameraCalibration(K, gravity, cal, len(segs), warnings, cues)


def under_K(cal: CameraCalibration, K: Intrinsics, obs, people) -> CameraCalibration:
    """The calibration's gravity and the walkers' camera height taken again under ``K`` (a turning camera's
    focal, found after the cues: the vertical VP's direction depends on the focal it is seen with). The
    cues' own focal stays what they said."""
    vp = None if cal.lines is None else cal.lines.vertical_vp
    if vp is None or abs(vp[2]) < 1e-9:
        return cal
    cues = dict(cal.focal_cues)
    if "people_camera_height_m" in cues:
        size = (int(obs.video["width"]), int(obs.video["height"]))
        cues["people_camera_height_m"] = camera_height_from_people(walker_tracks(people, obs.keypoint_set), vp, K, size)
    return replace(cal, gravity_cam=None if cal.gravity_cam is None else gravity_from_vp(vp, K.K), focal_cues=cues)


__all__ = ["CameraCalibration", "calibrate_camera", "under_K", "people_segments", "view_deg"]
