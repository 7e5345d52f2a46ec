"""BVH (Biovision hierarchy): one file per person, and one with everyone.

- Hierarchy: the SMPL-24 joints by their names, OFFSETs = the person's locked rest offsets; End Sites
  past the head, hands and feet. Units: centimetres (what Blender, MotionBuilder and most retargeting
  tools assume for BVH; Blender's importer scales by 0.01 to metres). Y up, floor at Y=0.
- Channels: the root ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, every other joint
  ``Zrotation Xrotation Yrotation`` (degrees; R = Rz Rx Ry, the joint's rotation relative to its parent).
- Frames: BVH needs a constant frame time; it is the video's (1 / fps), and each person's motion is
  resampled onto that grid (linear root, slerp rotations) from their first timestamp.
- When frame 0 is: ``timing.json`` beside the files gives each file's video time of frame 0, frame time
  and frame count (and the CLI prints it); a slow motion's or a time-lapse's times are the moment's (real
  time), and each file's ``video_start_s`` is frame 0's second of the video as it plays. Not a comment line in the file: BVH has no comment syntax,
  and one breaks a common reader wherever it goes (measured: after HIERARCHY or before MOTION, assimp
  5.2 refuses the file; after the frames, Blender 3.4's importer does).
- ``everyone.bvh``: a root ``world`` (6 channels, all zero) with each person's skeleton under it, joints
  named ``p<id>_<joint>``, on one grid from the earliest to the latest timestamp. Outside the time a
  person was seen they are parked out of the scene, ``PARKED_Y_M`` under the floor (in their first or
  last pose), never standing among the people who are there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from nvwa.rig.skeleton import CHILDREN, SMPL24_NAMES
from nvwa.scene.schema import PersonMotion, Scene, atomic_write
from nvwa.video.speed import moment_fps, time_meaning

CM = 100.0  # BVH units per metre
PARKED_Y_M = -100.0  # everyone.bvh: where an absent person waits (m, under the floor, out of any view)
END_SITE_CM = {"head": (0.0, 15.0, 0.0), "left_hand": (6.0, 0.0, 0.0), "right_hand": (-6.0, 0.0, 0.0),
               "left_foot": (0.0, 0.0, 5.0), "right_foot": (0.0, 0.0, 5.0)}


def frame_time(scene: Scene) -> float:
    """Seconds per BVH frame: the video's nominal rate, else (none given, or a variable-rate video's average:
    a phone's 60 / 30 / 60 fps clip averages 49.9) the median step of the timestamps (1/30 s at --max-fps 30)."""
    fps = moment_fps(scene.video)  # (a slow motion's: the rate it was filmed at, as the scene's times are the moment's)
    if fps > 0 and not (scene.stats.get("options") or {}).get("variable_rate"):
        return 1.0 / fps
    steps = [np.diff(p.timestamp_s) for p in scene.people if len(p.timestamp_s) > 1]
    steps = np.concatenate(steps) if steps else np.zeros(0)
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else 1.0 / 30


def resample(p: PersonMotion, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The person's (root (N, 3) m, local rotations (N, 24, 4) xyzw) at ``times`` (s): linear root,
    scipy's slerp for the rotations, held constant before the first and after the last timestamp."""
    t = np.asarray(p.timestamp_s, dtype=np.float64)
    q = np.asarray(p.local_rotations, dtype=np.float64)
    root = np.asarray(p.root_world, dtype=np.float64)
    if len(t) == 1:
        return np.repeat(root, len(times), 0), np.repeat(q, len(times), 0)
    tc = np.clip(times, t[0], t[-1])
    out_root = np.column_stack([np.interp(tc, t, root[:, k]) for k in range(3)])
    out_q = np.stack([Slerp(t, Rotation.from_quat(q[:, j]))(tc).as_quat() for j in range(q.shape[1])], axis=1)
    return out_root, out_q


def _hierarchy(p: PersonMotion, prefix: str, indent: str, root_keyword: str) -> list[str]:
    offsets = np.asarray(p.rest_directions) * np.asarray(p.bone_lengths)[:, None] * CM
    lines = []

    def joint(j: int, depth: int):
        pad = indent + "  " * depth
        name = prefix + SMPL24_NAMES[j]
        if j == 0:
            lines.append(f"{pad}{root_keyword} {name}")
            off = (0.0, 0.0, 0.0)
            channels = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
        else:
            lines.append(f"{pad}JOINT {name}")
            off = offsets[j]
            channels = "CHANNELS 3 Zrotation Xrotation Yrotation"
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {off[0]:.4f} {off[1]:.4f} {off[2]:.4f}")
        lines.append(f"{pad}  {channels}")
        for c in CHILDREN[j]:
            joint(c, depth + 1)
        if not CHILDREN[j]:
            e = END_SITE_CM.get(SMPL24_NAMES[j], (0.0, 5.0, 0.0))
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {e[0]:.4f} {e[1]:.4f} {e[2]:.4f}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    joint(0, 0)
    return lines


def _channels(root: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(N, 3) m, (N, 24, 4) -> (N, 6 + 23 * 3) channel values in file order (cm, degrees)."""
    N = len(root)
    euler = Rotation.from_quat(q.reshape(-1, 4)).as_euler("ZXY", degrees=True).reshape(N, 24, 3)
    order = _joint_order()
    return np.concatenate([root * CM, euler[:, order].reshape(N, -1)], axis=1)


def _joint_order() -> list[int]:
    """Joints in the depth-first order the hierarchy lists them (the order of the motion columns)."""
    out = []

    def walk(j):
        out.append(j)
        for c in CHILDREN[j]:
            walk(c)

    walk(0)
    return out


def _motion(frames: np.ndarray, dt: float) -> list[str]:
    lines = ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {dt:.8f}"]
    fmt = " ".join(["%.4f"] * frames.shape[1])
    lines += [fmt % tuple(row) for row in frames.tolist()]
    return lines


def person_bvh(p: PersonMotion, dt: float) -> str:
    t0, n = _grid(p, dt)
    root, q = resample(p, t0 + np.arange(n) * dt)
    return "\n".join(["HIERARCHY", *_hierarchy(p, "", "", "ROOT"), *_motion(_channels(root, q), dt)]) + "\n"


def everyone_bvh(scene: Scene, dt: float) -> str:
    people = [p for p in scene.people if len(p.timestamp_s)]
    lines = ["HIERARCHY", "ROOT world", "{", "  OFFSET 0.0000 0.0000 0.0000",
             "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"]
    for p in people:
        lines += _hierarchy(p, f"p{int(p.person_id)}_", "  ", "JOINT")
    if not people:
        lines += ["  End Site", "  {", "    OFFSET 0.0000 10.0000 0.0000", "  }"]
    lines.append("}")
    t0, n = everyone_grid(people, dt)
    times = t0 + np.arange(n) * dt
    cols = [np.zeros((len(times), 6))]
    for p in people:
        root, q = resample(p, times)
        t = np.asarray(p.timestamp_s, dtype=np.float64)
        absent = (times < t[0] - dt / 2) | (times > t[-1] + dt / 2)
        root[absent, 1] = PARKED_Y_M
        cols.append(_channels(root, q))
    return "\n".join(lines + _motion(np.concatenate(cols, axis=1), dt)) + "\n"


def everyone_grid(people: list[PersonMotion], dt: float) -> tuple[float, int]:
    """everyone.bvh's grid: from the earliest to the latest timestamp of anyone -> (t0 s, frames)."""
    if not people:
        return 0.0, 1
    t0 = min(float(p.timestamp_s[0]) for p in people)
    t1 = max(float(p.timestamp_s[-1]) for p in people)
    return t0, int(np.floor((t1 - t0) / dt + 1e-6)) + 1


def _grid(p: PersonMotion, dt: float) -> tuple[float, int]:
    """A person's BVH grid: (video time of frame 0 s, frames)."""
    t = np.asarray(p.timestamp_s, dtype=np.float64)
    return float(t[0]), int(np.floor((t[-1] - t[0]) / dt + 1e-6)) + 1


def write_bvh(scene: Scene, folder: str | os.PathLike) -> list[Path]:
    """``folder``/person_<id>.bvh for each person and ``folder``/everyone.bvh, each written atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dt = frame_time(scene)
    written = []
    for p in scene.people:
        if len(p.timestamp_s):
            text = person_bvh(p, dt)
            path = folder / f"person_{int(p.person_id)}.bvh"
            atomic_write(path, lambda f, s=text: f.write(s.encode()))
            written.append(path)
    text = everyone_bvh(scene, dt)
    path = folder / "everyone.bvh"
    atomic_write(path, lambda f: f.write(text.encode()))
    timing = folder / "timing.json"
    atomic_write(timing, lambda f: f.write(json.dumps(bvh_timing(scene, dt), indent=1).encode()))
    return written + [path, timing]


def bvh_timing(scene: Scene, dt: float) -> dict:
    """What BVH cannot say: each file's time of frame 0 (the video's; a slow motion's, the moment's and the
    video's), its frames, the frame time."""
    people = [p for p in scene.people if len(p.timestamp_s)]
    files = {}
    meaning = time_meaning(scene.video)
    scale = meaning.get("time_scale", 1.0)

    def span(t0: float, n: int) -> dict:  # (a slow motion's: frame 0's second of the video too)
        return {"start_s": round(t0, 6), "frames": n, "end_s": round(t0 + (n - 1) * dt, 6),
                **({"video_start_s": round(t0 / scale, 6)} if scale != 1.0 else {})}
    for p in people:
        files[f"person_{int(p.person_id)}.bvh"] = {"person_id": int(p.person_id), **span(*_grid(p, dt))}
    files["everyone.bvh"] = {**span(*everyone_grid(people, dt)), "absent_people": f"parked {-PARKED_Y_M:g} m under the floor"}
    return {"frame_time_s": dt, **meaning, "files": files}
