"""From observations to the scene: everything after the models, no model needed.

``reconstruct(observations, config) -> Scene`` is a pure function of the observations and the options
that matter after the models (smoothing preset, intrinsics, minimum time on screen). It is made of the
public stage functions below, in the README's order: keep people -> place roots (camera) -> fit the rig
(identity lock, keypoint repair) -> smooth (camera frame) -> ground (floor, camera pose, focal) -> to
the world + physical constraints -> people. ``reconstruct_steps`` is the same as a generator of progress
events, for the CLI and the service. The bench and the tests call these same functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial
from typing import Iterator

import numpy as np

from nvwa.body.keypoints import RIG_TARGETS
from nvwa.camera import Intrinsics, solve_root_translations
from nvwa.camera.calibration import calibrate_camera, under_K
from nvwa.camera.motion import (CameraMotion, camera_motion, focal_from_rotation, rotation_misfit, stabilised,
                               track_for_identities, turned)
from nvwa.errors import InputError
from nvwa.grounding.floor import Floor
from nvwa.grounding.soles import FEET, flat_planted_feet, human_body_asset, on_soles  # noqa: F401  (re-exported)
from nvwa.grounding.scale import metric_scale, stature_from_bones
from nvwa.grounding.world import PersonFeet, ground_people
from nvwa.observations import Observations, PersonObservations
from nvwa.options import option
from nvwa.rig.fit import fit_rig, fit_rigs
from nvwa.rig.motion import RigMotion, carry_joints, in_frames
from nvwa.rig.segments import in_groups
from nvwa.rig.skeleton import JOINT
from nvwa.scene import PersonMotion, Scene
from nvwa.smoothing import SMOOTHING_PRESETS, constrain_rigs, smooth_rigs
from nvwa.smoothing.hidden_legs import hidden_legs_unseen
from nvwa.smoothing.identity_lock import lock_identity_many, repair_keypoints_many
from nvwa.smoothing.motion_smooth import MotionSmoothConfig, smooth_motions
from nvwa.smoothing.one_euro import OneEuroConfig
from nvwa.timing import StageTimer
from nvwa.tracking.handover import handed_over
from nvwa.tracking.people import keep_people, never_upright, pieces_of_others, with_gaps_filled
from nvwa.tracking.shots import one_shot
from nvwa.tracking.clothes import clothes_changed
from nvwa.tracking.stand_in import stand_ins
from nvwa.tracking.swaps import swapped
from nvwa.video.cadence import evenly_timed

# The floor is fitted to a steadier view of the feet than any preset keeps: it is one plane for the whole
# video, so lag costs nothing there and noise costs a tilt.
FLOOR_VIEW_SMOOTHING = MotionSmoothConfig(OneEuroConfig(0.5, 0.1), OneEuroConfig(1.0, 0.1), passes=1)


@dataclass(frozen=True)
class ReconstructConfig:
    """The options that act after the models (changing one needs no model run)."""

    smoothing: str = option("balanced", "smoothing preset", choices=tuple(SMOOTHING_PRESETS), flag="", job=True)
    focal_px: float | None = option(None, "focal length of the stored video (default: estimated from the scene)",
                                    unit="px", gt=0, le=1_000_000, flag="--focal", job=True)
    K: str | None = option(None, 'intrinsics "fx,fy,cx,cy" or 9 numbers of a 3x3 K, stored-video px; overrides --focal',
                           flag="--K")
    min_person_s: float = option(1.0, "people seen for less time than this are dropped as spurious", unit="s",
                                 ge=0, le=3600, flag="")
    fill_gaps_s: float = option(0.5, "a person lost by the body model for at most this long is moved through the gap "
                                "(the frames are marked unseen); 0: gaps stay", unit="s", ge=0, le=10, flag="")
    camera: str = option("auto", "the video camera: auto (its motion found from the background), static (a tripod: "
                         "no motion looked for), moving (handheld: its motion followed even when small)",
                         choices=("auto", "static", "moving"), flag="", job=True)
    film_cadence: str = option("even", "a film stored at a faster rate (24 pictures a second in 30 fps, 25 in 60, ...): "
                               "its pictures timed an even step apart, as filmed (even), or each at its first showing "
                               "(shown)", choices=("even", "shown"), flag="", job=True)


@dataclass(frozen=True)
class Progress:
    """One step of the reconstruction: ``stage`` as the pipeline's ProgressEvent names them."""

    stage: str
    message: str
    data: dict


# -- the stages, in order -----------------------------------------------------------------------------

def intrinsics_for(obs: Observations, config: ReconstructConfig) -> Intrinsics:
    """The K to reconstruct with: given now (--K, --focal), else the one the models were given. A backend
    that placed people itself did so with the observed K: another K would contradict its placements."""
    w, h = int(obs.video["width"]), int(obs.video["height"])
    if config.K:
        K = Intrinsics.from_text(config.K, w, h, tuple(obs.video.get("borders") or (0, 0, 0, 0)))
    elif config.focal_px:
        K = Intrinsics.from_focal(config.focal_px, w, h)
    else:
        Ko = np.asarray(obs.K_observed, dtype=np.float64)
        return Intrinsics(float(Ko[0, 0]), float(Ko[1, 1]), float(Ko[0, 2]), float(Ko[1, 2]), w, h, obs.intrinsics_source)
    if obs.backend_places_people and not np.allclose(K.K, obs.K_observed, rtol=1e-6):
        raise InputError(f"--focal/--K {config.K or config.focal_px}",
                         f"body model {obs.body_model!r} placed the people with the K it was given; run `nvwa process` to change it")
    return K


def place_roots(person: PersonObservations, K: Intrinsics) -> np.ndarray:
    """(T, 3) m: the root in the camera frame per frame; the backend's own placement when it gave one,
    else the translation that best reprojects the 3D keypoints onto the 2D ones."""
    if person.translation_cam is not None:
        return np.asarray(person.translation_cam, dtype=np.float64)
    kp3, kp2, vis = (np.asarray(a, dtype=np.float64) for a in (person.keypoints_3d, person.keypoints_2d, person.visibility))
    return solve_root_translations(kp3, kp2, vis, K)[0] if len(kp3) else np.zeros((0, 3))


def fit_person(person: PersonObservations, root_cam: np.ndarray, keypoint_set: str):
    """Keypoints -> rig: bone lengths locked first, keypoints repaired against them, then the joint
    rotations -> (RigMotion camera frame, rig targets, lock summary)."""
    targets, lengths, summary = person_targets(person, root_cam, keypoint_set)
    return fit_rig(targets, lengths), targets, summary


def person_targets(person: PersonObservations, root_cam: np.ndarray, keypoint_set: str):
    """What the rig is fitted to: the keypoints as rig targets, bone lengths locked, the keypoints
    repaired against them -> (targets, bone lengths (24,), lock summary)."""
    return people_targets([person], [root_cam], keypoint_set)[0]


def people_targets(people: list[PersonObservations], roots_cam: list[np.ndarray], keypoint_set: str) -> list[tuple]:
    """:func:`person_targets` for everyone at once (the lock and the repair run over all their frames)."""
    if keypoint_set not in RIG_TARGETS:
        raise NotImplementedError(f"keypoint set {keypoint_set!r} has no rig mapping")
    targets = [RIG_TARGETS[keypoint_set](np.asarray(p.keypoints_3d, dtype=np.float64), np.asarray(p.visibility, dtype=np.float64))
               .translated(root) for p, root in zip(people, roots_cam)]
    locked = lock_identity_many([tg.joints for tg in targets], [tg.confidence for tg in targets])
    repaired = repair_keypoints_many([tg.joints for tg in targets], [tg.confidence for tg in targets], [lengths for lengths, _ in locked],
                                     [np.asarray(p.timestamp_s) for p in people])
    return [(replace(tg, joints=joints, confidence=conf), lengths, {**lock, **repair})
            for tg, (lengths, lock), (joints, conf, repair) in zip(targets, locked, repaired)]


def person_feet(m: RigMotion, t: np.ndarray, confidence: np.ndarray) -> PersonFeet:
    """The rig's own feet (ankles and toes, as the scene will have them): what must meet the floor."""
    j = m.joints()
    return PersonFeet(t, m.root_position, j[:, FEET] - j[:, :1], confidence[:, FEET], j[:, JOINT["neck"]] - j[:, JOINT["pelvis"]])


def motion_to_world(m: RigMotion, R: np.ndarray, t: np.ndarray) -> RigMotion:
    """A camera-frame rig motion in the world frame: the root moves, the root rotation turns."""
    return m.in_frame(R, t)


def stood_in_world(m: RigMotion, root_cam: np.ndarray, size: float, R: np.ndarray, t: np.ndarray) -> RigMotion:
    """A person as grounding stood them: their bones ``size`` times the body model's (their true size), their
    root where their feet put it (camera frame), then in the world."""
    return everyone_stood_in_world([m], [root_cam], [size], R, t)[0]


def everyone_stood_in_world(motions: list[RigMotion], roots_cam: list, sizes: list, R: np.ndarray, t: np.ndarray) -> list[RigMotion]:
    """:func:`stood_in_world` for everyone at once (their root rotations turned in one call)."""
    stood = [replace(m, bone_lengths=m.bone_lengths * size).moved(root_position=root) for m, root, size in zip(motions, roots_cam, sizes)]
    return in_frames(stood, [R] * len(stood), [t] * len(stood))


def person_motion(person: PersonObservations, m: RigMotion, contact: np.ndarray, confidence: np.ndarray,
                  depth_scale: float, keypoint_set: str, R: np.ndarray, t: np.ndarray) -> PersonMotion:
    """The scene's record of one person (world frame), with the backend's mesh turned to world axes."""
    joints_world = m.joints()
    mesh = {}
    if person.vertices is not None:
        mesh = {"mesh_vertices": (np.asarray(person.vertices, dtype=np.float32) @ R.T).astype(np.float16),
                "mhr_model_params": person.model_params, "shape_params": person.shape_params}
    return PersonMotion(
        person_id=int(person.person_id), keypoint_set=keypoint_set, frame_index=np.asarray(person.frame_index, dtype=np.int64),
        timestamp_s=np.asarray(person.timestamp_s, dtype=np.float64), joints_world=joints_world,
        joints_cam=(joints_world - t) @ R, root_world=m.root_position, local_rotations=m.local_rotations,
        bone_lengths=m.bone_lengths, rest_directions=m.rest_directions, joint_confidence=confidence,
        keypoints_2d=np.asarray(person.keypoints_2d, dtype=np.float64), keypoint_confidence=np.asarray(person.visibility, dtype=np.float64),
        foot_contact=contact, depth_scale=depth_scale, colours=person.colours, **mesh)


def true_sizes(g, motions: dict, times: dict, metric_bodies: bool = False):
    """Each person's size from where their feet put them (the pinning's depth factor), then the one
    metric scale (median person = the adult stature prior; none when the body model gives metric
    bodies of their own shape, as SAM 3D Body does) -> (the grounding scaled, {person id: factor on that
    person's bones}, what the scale rests on)."""
    placed = {pid: stature_from_bones(m.bone_lengths) * g.depth_scale[pid] for pid, m in motions.items()}
    # each counts for as long as they stood on the floor: on a support their size is what their floor frames said,
    # or their body's size alone if they never left it (a jumper on his box for 5.6 s of 7.6 counts for his 2 s landed)
    seconds = {pid: max(float(times[pid][-1] - times[pid][0]) -
                        sum(st["end_s"] - st["start_s"] for st in g.supports.get(pid, [])), 0.0) for pid in motions}
    scale, info = metric_scale(placed, seconds)
    if metric_bodies:
        scale, info = 1.0, {"method": "the body model's metric shapes", "people": len(placed)}
    return g.scaled(scale), {pid: g.depth_scale[pid] * scale for pid in motions}, info


SUPPORT_MARGIN_M = 0.25  # m: a support's footprint reaches this far around the feet that stood on it


def support_list(people: list[PersonMotion], found: dict) -> tuple[dict, ...]:
    """The scene's supports (the floor needs none): per raised stretch a person stood on, its top (m above
    the floor) and its footprint on the floor plane, the convex hull of their feet while on it grown by
    SUPPORT_MARGIN_M, as a counter-clockwise polygon seen from above."""
    from scipy.spatial import ConvexHull, QhullError

    by_id = {p.person_id: p for p in people}
    out = []
    ring = SUPPORT_MARGIN_M * np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)])
    for pid, stretches in found.items():
        p = by_id.get(pid)
        for st in stretches if p is not None else []:
            on = (p.timestamp_s >= st["start_s"]) & (p.timestamp_s <= st["end_s"])
            feet = p.joints_world[on][:, FEET][:, :, [0, 2]].reshape(-1, 2)
            pts = (feet[:, None, :] + ring[None]).reshape(-1, 2)
            try:
                poly = pts[ConvexHull(pts).vertices]
            except (QhullError, ValueError):
                continue
            poly = poly[::-1]  # x right, z towards the viewer: seen from +Y, reversed order is counter-clockwise
            out.append({"top_y_m": round(float(st["height_m"]), 3), "footprint_xz": np.round(poly, 3).tolist(),
                        "person_ids": [int(pid)], "start_s": float(st["start_s"]), "end_s": float(st["end_s"])})
    return tuple(out)


def _height_disagreement(cal, height_m: float) -> list[str]:
    """A warning when the walkers' cross-ratio puts the camera more than 20% off the height used."""
    other = cal.focal_cues.get("people_camera_height_m")
    if other and height_m > 0 and abs(other / height_m - 1) > 0.2:
        return [f"the walkers' heights put the camera {other:.2f} m up, the feet {height_m:.2f} m: one of them is off"]
    return []


def floor_dict(floor: Floor) -> dict:
    return {"normal_cam": floor.normal_cam, "offset": floor.offset, "inliers": floor.inliers,
            "candidates": floor.candidates, "rms": floor.rms, "method": floor.method}


def fit_people(kept: list[PersonObservations], K: Intrinsics, keypoint_set: str, preset: str, timer: StageTimer):
    """Each person placed (camera), fitted (rig) and smoothed in the camera frame (phases 1-2), plus the
    steadier view of their feet the floor is fitted to -> ({id: (motion, the rig targets' confidence (T, 24))},
    {id: floor view}, {id: summary}). Of the targets only their confidence is kept: a long video's joints
    would otherwise be held through the rest of the reconstruction."""
    summary: dict[int, dict] = {}
    fitted: dict[int, tuple] = {}
    floor_view: dict[int, RigMotion] = {}
    roots = []
    seen = hidden_legs_unseen(kept, keypoint_set)  # legs hidden behind something or someone: that frame's pose is not fitted (repaired after)
    for p in seen:
        with timer("camera"):
            roots.append(place_roots(p, K))
    # a long video's people in groups: each group's targets and raw rigs are let go before the next is fitted
    for group in in_groups([len(p.frame_index) for p in seen]):
        with timer("rig"):  # the group's frames in one pass: identity lock, keypoint repair, the rig's solve
            prepared = people_targets([seen[k] for k in group], [roots[k] for k in group], keypoint_set)
            rigs = fit_rigs([tg for tg, _, _ in prepared], [lengths for _, lengths, _ in prepared])
        ts = [np.asarray(kept[k].timestamp_s) for k in group]
        with timer("smoothing"):  # the group at once: the filters' per-frame cost is paid once for all of it
            confs = [targets.confidence for targets, _, _ in prepared]
            views = smooth_motions(rigs, ts, confs, FLOOR_VIEW_SMOOTHING)
            smoothed = smooth_rigs(rigs, ts, preset, confs)
            carry_joints([v for v, _, _ in views] + [m for m, _, _ in smoothed])  # their feet next: everyone's FK in one pass
        for k, (_, _, lock), conf, view, (m, _, motion_summary) in zip(group, prepared, confs, views, smoothed):
            pid = kept[k].person_id
            floor_view[pid] = view[0]
            fitted[pid] = (m, conf)
            summary[pid] = {"identity_lock": lock, "motion": motion_summary}
        del prepared, rigs, views, smoothed  # (before the next group's are made)
    return fitted, floor_view, summary


def _moving_camera(obs: Observations, K: Intrinsics, mode: str, zoomed: bool = False) -> tuple[Intrinsics, CameraMotion]:
    """A turning camera's focal from its own rotation unless the user gave one (only the true focal makes
    every homography a rotation: where the turn pins it down, it beats the lines, whose horizontal
    vanishing points a cropped or narrow view hardly has; not a ``zoomed`` camera's, whose homographies no
    one focal makes rotations), then its rotation per frame with that K."""
    warnings = []
    if K.source not in ("K", "focal") and not obs.backend_places_people and not zoomed:
        f = focal_from_rotation(obs.camera_track.H_raw_first_from_frame, int(obs.video["width"]), int(obs.video["height"]))
        if f is not None:
            if K.source != "default" and abs(K.fx / f - 1) > 0.15:
                warnings.append(f"the camera's turning says a focal of {f:.0f} px, the {K.source} {K.fx:.0f} px: "
                                "the turning's used")
            K = K.with_focal(f, "camera rotation")
    motion = camera_motion(obs.camera_track, K.K, mode, zoomed=zoomed)  # (the people were moved as a zoom's, or not)
    return K, replace(motion, warnings=(*warnings, *motion.warnings))


def _stabilised(obs: Observations, K: Intrinsics, motion: CameraMotion | None, timer: StageTimer) -> Observations:
    """Unless the camera stood still, the observations moved onto the first frame's pixels by its ``motion``."""
    with timer("camera_motion"):
        return stabilised(obs, obs.camera_track, motion, K.K) if motion is not None and not motion.still else obs


def _calibrated(obs: Observations, K: Intrinsics, kept: list, motion: CameraMotion | None, mode: str, timer: StageTimer):
    """The camera calibrated (lines, people; a cue's focal the camera's turning rules out not believed),
    then a turning camera's focal and rotations, gravity again under that focal, and the people's 3D turned
    into the first frame's camera -> (calibration, K, motion, kept people)."""
    misfit = None  # a camera that only turns: its homographies are rotations under the true focal alone
    if motion is not None and motion.kind == "rotating" and motion.zoom is None and obs.camera_track is not None:
        H, size = obs.camera_track.H_raw_first_from_frame, (int(obs.video["width"]), int(obs.video["height"]))
        misfit = partial(rotation_misfit, H, *size)
    with timer("calibration"):
        cal = calibrate_camera(obs, K, kept, misfit)
    K = cal.K
    if motion is not None and not motion.still:
        with timer("camera_motion"):
            K, motion = _moving_camera(obs, K, mode, zoomed=motion.zoom is not None)
            kept = turned(kept, motion)
        if K.fx != cal.K.fx:  # the turning's focal: gravity and the walkers' camera height under it
            cal = under_K(cal, K, obs, kept)
    return cal, K, motion, kept


def camera_poses(motion: CameraMotion | None, R: np.ndarray, t: np.ndarray, people: list[PersonMotion],
                 focal_px: float = 0.0) -> dict:
    """The video camera's pose at each analysed frame (world <- camera): the first frame's turned by the
    camera's own rotation since (a static camera: the same pose every frame); a zooming camera's focal
    (px) at each, the first frame's ``focal_px`` times its zoom."""
    if motion is not None:
        ts, turn = motion.timestamp_s, motion.R_first_from_frame
    else:  # observations from before the camera was followed: the frames the people were seen on
        ts = np.unique(np.concatenate([q.timestamp_s for q in people])) if people else np.zeros(0)
        turn = np.tile(np.eye(3), (len(ts), 1, 1))
    zoom = {} if motion is None or motion.zoom is None else {"camera_focal_px": focal_px * np.asarray(motion.zoom, np.float64)}
    return {"camera_timestamp_s": np.asarray(ts, np.float64), "camera_R_world_from_cam": R @ turn,
            "camera_t_world_from_cam": np.tile(np.asarray(t, np.float64), (len(ts), 1)), **zoom}


def _in_frame_cameras(q: PersonMotion, motion: CameraMotion, observed: PersonObservations) -> PersonMotion:
    """A person reconstructed in the first frame's camera, given back in each frame's own: joints_cam in
    that frame's camera axes, keypoints_2d in the video's own pixels."""
    R = motion.rotation_at(np.asarray(q.frame_index))  # first <- frame
    return replace(q, joints_cam=np.einsum("tkj,tji->tki", q.joints_cam, R),
                   keypoints_2d=np.asarray(observed.keypoints_2d, dtype=np.float64))


# -- the whole, as steps -----------------------------------------------------------------------------

def reconstruct_steps(obs: Observations, config: ReconstructConfig = ReconstructConfig(),
                      timer: StageTimer | None = None, models_dir: str | None = None) -> Iterator[Progress]:
    """The reconstruction as progress steps: "stage" (people kept), "grounded", "smoothed", and last
    "scene" whose data["scene"] is the Scene (stats: the observation's, plus this run's seconds).
    ``models_dir``: where the human body asset is (its soles are what people stand on)."""
    if config.smoothing not in SMOOTHING_PRESETS:
        raise InputError(f"smoothing={config.smoothing!r}", f"unknown preset; choose one of {', '.join(SMOOTHING_PRESETS)}")
    timer = timer or StageTimer()
    wall0 = time.perf_counter()
    obs, shot = one_shot(obs)  # an edited video: its one shot with the most people in it
    obs, filmed = evenly_timed(obs) if config.film_cadence == "even" else (obs, "")
    K = intrinsics_for(obs, config)
    with timer("camera_motion"):  # (classed with the K at hand; the people's edits below leave the camera as it is)
        motion = camera_motion(obs.camera_track, K.K, config.camera)
    camera = track_for_identities(obs.camera_track, motion, K.K, config.camera)
    people, swaps = swapped(list(obs.people), {p.person_id for p in keep_people(obs, config.min_person_s)}, camera=camera)
    people, changed = clothes_changed(people, {p.person_id for p in keep_people(replace(obs, people=tuple(people)), config.min_person_s)},
                                      camera=camera)
    obs = replace(obs, people=tuple(people))
    picture = (int(obs.video["width"]), int(obs.video["height"]))
    people, joined = handed_over(people, {p.person_id for p in keep_people(obs, config.min_person_s)}, picture=picture,
                                 camera=camera)
    people, stood = stand_ins(people, {p.person_id for p in keep_people(replace(obs, people=tuple(people)), config.min_person_s)},
                                 picture=picture, camera=camera)
    joined.update(stood)
    obs = with_gaps_filled(replace(obs, people=tuple(people)), config.fill_gaps_s)
    observed = {p.person_id: p for p in obs.people}  # as the video shows them (keypoints in its own pixels)
    obs = _stabilised(obs, K, motion, timer)
    kept = keep_people(obs, config.min_person_s)
    # everyone found, and none seen long enough (a still picture, a clip of a few frames): say so, not just "empty"
    brief = (f"{len(obs.people)} {'person was' if len(obs.people) == 1 else 'people were'} found, none seen for "
             f"--min-person-s ({config.min_person_s:g} s): left out (--min-person-s 0 keeps everyone found, as for a "
             f"still picture)") if obs.people and not kept and config.min_person_s > 0 else ""
    pieces = pieces_of_others(kept)  # a second track on someone's head and shoulders: not a person of its own
    kept = [p for p in kept if p.person_id not in pieces]
    yield Progress("stage", f"{len(kept)} people kept of {len(obs.people)} tracks", {"tracks": len(obs.people)})
    cal, K, motion, kept = _calibrated(obs, K, kept, motion, config.camera, timer)

    fitted, floor_view, summary = fit_people(kept, K, obs.keypoint_set, config.smoothing, timer)
    times = {p.person_id: np.asarray(p.timestamp_s) for p in kept}
    with timer("grounding"):
        g = ground_people({pid: person_feet(floor_view[pid], times[pid], conf) for pid, (_, conf) in fitted.items()},
                          {pid: person_feet(m, times[pid], conf) for pid, (m, conf) in fitted.items()},
                          estimate_focal=K.source == "default", gravity=cal.gravity_cam)
        del floor_view  # the floor is found: the steadier view of everyone's feet is not held through what follows
        if g.focal_estimated:
            K = K.with_focal(K.fx * g.focal_scale, "estimated")
        g, sizes, scale_info = true_sizes(g, {pid: m for pid, (m, _) in fitted.items()}, times, obs.backend_places_people)
        R, t = g.R_world_from_cam, g.t_world_from_cam
    zoomed = {} if motion is None or motion.zoom is None else {  # (the least and most, of the first frame's focal)
        "camera_zoom": [round(float(np.min(motion.zoom)), 3), round(float(np.max(motion.zoom)), 3)]}
    grounding = {**g.event_data(), "calibration": cal.as_dict(), "metric_scale": scale_info, **zoomed,
                 "camera_motion": "static" if motion is None else motion.kind,
                 "warnings": [*([shot] if shot else []), *([filmed] if filmed else []), *([brief] if brief else []), *cal.warnings, *g.warnings, *_height_disagreement(cal, g.camera.height_m),
                              *(() if motion is None else motion.warnings),
                              *(f"person {pid} dropped: {why}" for pid, why in sorted(pieces.items())),
                              *(why for _, why in sorted(swaps.items())), *(why for _, why in sorted(changed.items())),
                              *(why for _, why in sorted(joined.items()))]}
    yield Progress("grounded", f"floor: {g.floor.method}, camera {g.camera.height_m:.2f} m up, pitch {g.camera.pitch_deg:.1f} deg"
                   + "".join(f"; {w}" for w in grounding["warnings"]), grounding)
    people, body = [], human_body_asset(models_dir)
    for group in in_groups([len(p.frame_index) for p in kept]):  # (a long video's people a group at a time)
        members = [kept[k] for k in group]
        with timer("smoothing"):  # phase 3 needs the floor: world frame; the group at once
            constrained = constrain_rigs(everyone_stood_in_world([fitted[p.person_id][0] for p in members], [g.roots[p.person_id] for p in members],
                                                                 [sizes[p.person_id] for p in members], R, t),
                                         [times[p.person_id] for p in members], config.smoothing)
        for p, (world, contact, physical) in zip(members, constrained):
            confidence = fitted.pop(p.person_id)[1]  # (their camera-frame motion: stood in the world now)
            with timer("smoothing"):
                world = on_soles(world, times[p.person_id], contact, g.supports.get(p.person_id, []), body)
            summary[p.person_id]["physical"] = physical
            why = never_upright(world, times[p.person_id])
            if why:
                grounding["warnings"].append(f"person {p.person_id} dropped: {why}")
                continue
            with timer("grounding"):
                people.append(person_motion(p, world, contact, confidence, g.depth_scale[p.person_id],
                                            obs.keypoint_set, R, t))
        del constrained  # (before the next group's are made)
    yield Progress("smoothed", f"smoothing preset {config.smoothing}", {"people": summary})
    people.sort(key=lambda q: q.person_id)
    cameras = camera_poses(motion, R, t, people, K.fx)
    if motion is not None and not motion.still:  # each person as their own frame's camera saw them
        people = [_in_frame_cameras(q, motion, observed[q.person_id]) for q in people]
    wall = time.perf_counter() - wall0
    frames = int(obs.stats.get("frames", 0))
    seconds = {**obs.stats.get("seconds", {}), **{k: round(v, 3) for k, v in timer.seconds.items()}}
    stats = {**obs.stats, "people": len(people), "seconds": seconds, "reconstruct_s": round(wall, 3),
             "wall_s": round(wall, 3), "fps": round(frames / wall, 3) if wall > 0 else 0.0,  # run() puts the whole run's
             "options": {**obs.options, "smoothing": config.smoothing, "intrinsics": K.source}}
    scene = Scene(video=obs.video, K=K.K, R_world_from_cam=R, t_world_from_cam=t, floor=floor_dict(g.floor),
                  people=tuple(people), stats=stats, grounding=grounding, mesh_faces=obs.mesh_faces,
                  supports=support_list(people, g.supports), camera_motion=grounding["camera_motion"], **cameras)
    yield Progress("scene", f"{len(people)} people" if people else "no people found: the scene is empty", {"scene": scene})


def reconstruct(obs: Observations, config: ReconstructConfig = ReconstructConfig()) -> Scene:
    """The scene from the observations (see the module's docstring)."""
    *_, last = reconstruct_steps(obs, config)
    return last.data["scene"]


__all__ = ["ReconstructConfig", "reconstruct", "reconstruct_steps", "intrinsics_for", "keep_people", "place_roots",
           "fit_person", "person_targets", "people_targets", "fit_people", "never_upright", "person_feet", "motion_to_world", "stood_in_world", "everyone_stood_in_world", "true_sizes", "support_list", "person_motion", "floor_dict", "FLOOR_VIEW_SMOOTHING"]
