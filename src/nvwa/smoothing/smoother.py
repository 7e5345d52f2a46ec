"""The temporal smoother: identity lock -> motion smoothing -> physical constraints, with named presets.

Phases 1-2 work in any frame (the pipeline runs them in the camera frame, before grounding); phase 3
needs the floor, so it runs on world-frame motion (floor at Y=0). Each phase returns a summary that
the pipeline passes on in its ``smoothed`` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nvwa.rig.motion import RigMotion
from nvwa.rig.motion import carry_joints
from nvwa.rig.segments import Segments, in_groups
from nvwa.rig.skeleton import JOINT
from nvwa.smoothing.foot_contact import ContactConfig, detect_contacts_many
from nvwa.smoothing.footskate import lock_pelvis_height_many, plant_feet_many
from nvwa.smoothing.motion_smooth import MotionSmoothConfig, smooth_motions
from nvwa.smoothing.one_euro import OneEuroConfig


@dataclass(frozen=True)
class SmootherConfig:
    motion: MotionSmoothConfig | None  # None: no motion filtering
    contacts: ContactConfig | None = field(default_factory=ContactConfig)  # None: no foot planting
    blend_s: float = 0.1  # s: how long a foot takes to blend into and out of its planted position


SMOOTHING_PRESETS: dict[str, SmootherConfig] = {
    "none": SmootherConfig(None, None),
    "fast": SmootherConfig(MotionSmoothConfig(OneEuroConfig(2.0, 0.5), OneEuroConfig(3.0, 0.5), zero_lag=False)),
    # balanced: tuned on bench/motion_quality.py (two forward-backward pairs; jitter under every
    # baseline's with MPJPE under the best baseline's). quality: smoother still, for motion editors.
    "balanced": SmootherConfig(MotionSmoothConfig(OneEuroConfig(2.0, 0.5), OneEuroConfig(4.0, 1.0))),
    "quality": SmootherConfig(MotionSmoothConfig(OneEuroConfig(1.5, 0.3), OneEuroConfig(4.0, 0.5)), blend_s=0.15),
}


def _preset(name: str) -> SmootherConfig:
    if name not in SMOOTHING_PRESETS:
        raise ValueError(f"smoothing preset {name!r}: choose one of {', '.join(SMOOTHING_PRESETS)}")
    return SMOOTHING_PRESETS[name]


def smooth_rig(motion: RigMotion, timestamps_s: np.ndarray, preset: str, confidence: np.ndarray | None = None) -> tuple[RigMotion, np.ndarray, dict]:
    """Phase 2 with a named preset. confidence (T, 24) or None -> (motion, observed (T,), summary)."""
    return smooth_rigs([motion], [timestamps_s], preset, [confidence])[0]


def smooth_rigs(motions: list[RigMotion], timestamps_s: list[np.ndarray], preset: str,
                confidences: list[np.ndarray | None] | None = None) -> list[tuple[RigMotion, np.ndarray, dict]]:
    """Phase 2 for many people in one pass of the filters -> one (motion, observed, summary) each."""
    config = _preset(preset)
    confs = []
    for t, c in zip(timestamps_s, confidences or [None] * len(motions)):
        c = np.ones((len(t), 24)) if c is None else np.asarray(c, dtype=np.float64)
        confs.append(np.repeat(c[:, None], 24, axis=1) if c.ndim == 1 else c)
    if config.motion is None:
        return [(m, np.ones(len(t), dtype=bool), {"frames": len(t), "frames_filled": 0, "warnings": [], "max_correction_m": 0.0})
                for m, t in zip(motions, timestamps_s)]
    return smooth_motions(motions, timestamps_s, confs, config.motion)


def foot_points(joints: np.ndarray) -> np.ndarray:
    """joints (T, 24, 3) -> (T, 2, 3): per foot (left, right) the lower of ankle and toe."""
    out = []
    for ankle, toe in (("left_ankle", "left_foot"), ("right_ankle", "right_foot")):
        a, b = joints[:, JOINT[ankle]], joints[:, JOINT[toe]]
        out.append(np.where((a[:, 1] < b[:, 1])[:, None], a, b))
    return np.stack(out, axis=1)


def constrain_rig(motion_world: RigMotion, timestamps_s: np.ndarray, preset: str) -> tuple[RigMotion, np.ndarray, dict]:
    """Phase 3 on world-frame motion: contacts, planted feet, no ground penetration.
    -> (motion, contact (T, 2) bool left/right, summary)."""
    return constrain_rigs([motion_world], [timestamps_s], preset)[0]


def constrain_rigs(motions_world: list[RigMotion], timestamps_s: list[np.ndarray], preset: str) -> list[tuple[RigMotion, np.ndarray, dict]]:
    """Phase 3 for many people -> one (motion, contact, summary) each, as :func:`constrain_rig` gives it;
    contacts, pelvis lock and planted feet run over everyone's frames end to end (and the forward
    kinematics of those that have none yet in one pass); a long video's people in groups (:func:`in_groups`)."""
    groups = in_groups([len(t) for t in timestamps_s])
    if len(groups) > 1:
        return [r for g in groups for r in constrain_rigs([motions_world[k] for k in g], [timestamps_s[k] for k in g], preset)]
    config = _preset(preset)
    ts = [np.asarray(t, dtype=np.float64) for t in timestamps_s]
    out = [(m, np.zeros((len(t), 2), dtype=bool), {"contacts": [0, 0]}) for m, t in zip(motions_world, ts)]
    todo = [k for k, t in enumerate(ts) if len(t) >= 2] if config.contacts is not None else []
    if not todo:
        return out
    motions = [motions_world[k] for k in todo]
    people = Segments([len(ts[k]) for k in todo])
    t = people.join([ts[k] for k in todo])
    carry_joints(motions)
    contact = detect_contacts_many(foot_points(people.join([m.joints() for m in motions], (24, 3))), t, people, config.contacts)
    locked = lock_pelvis_height_many(motions, t, contact, people, blend_s=config.blend_s)
    planted = plant_feet_many([m for m, _ in locked], t, contact, people, blend_s=config.blend_s)
    for k, c, (_, lock_summary), (m, summary) in zip(todo, people.split(contact), locked, planted):
        out[k] = (m, c, {**summary, **lock_summary})
    return out
