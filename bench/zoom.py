"""A zoom while filming, measured: the same clips zoomed in (and in and out) as they play, with and without the zoom followed.

    python bench/zoom.py [--only cam03_in,sports2d_inout] [--out bench/results/zoom.json]

A phone's pinch zoom (or a camcorder's zoom lever) changes the focal as the video plays. Here each frame of
``../shared/data/calibrated/pose2sim_single/cam03.mp4`` (60 fps, with true camera and joints) and of
``../shared/data/video/sports2d_demo.mp4`` is made the centre 1/z of itself scaled back to full size (a
digital zoom about the principal point, x264 CRF 18), z going 1x -> 1.4x over the clip ("in") or 1x ->
1.4x -> 1x ("inout"); the copy with z = 1 throughout ("none") is the reference, encoded the same way. Each
copy is processed once (``nvwa process``) and reconstructed from its observations twice: with the zoom
followed (``nvwa.camera.motion.zooms``) and without (``ZOOM_MIN`` out of reach: the reconstruction as it was
before the zoom was followed). Per run: the zoom found (its largest, against the truth's), the focal found
(against the first frame's: the true K for cam03, the reference copy's for Sports2D), the camera's height,
and the people: cam03's subject against the truth (camera-frame MPJPE, which holds his depth, PA-MPJPE,
his pelvis's depth first and last frame), Sports2D's people against the reference copy's run at the same
frames (their distance to the camera, first and last shared frame, and the roots' median distance).
The zoom crops the picture's edges: what leaves the picture (the walker at the end, lines at the borders)
is lost to both runs alike.
"""

from __future__ import annotations

import json
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from metric_world import CAL, calibrated  # noqa: E402  the metric-world bench's truth and figures
from slow_motion import asked, matched, nvwa_process, with_references  # noqa: E402  the slow-motion bench's runs and matching

SHARED = ROOT.parent / "shared" / "data"
CLIPS = {"cam03": CAL / "cam03.mp4", "sports2d": SHARED / "video" / "sports2d_demo.mp4"}
ZOOMS = {"none": lambda u: 1.0, "in": lambda u: 1 + 0.4 * u, "inout": lambda u: 1 + 0.4 * np.sin(np.pi * u)}
COPIES = [f"{clip}_{kind}" for clip in CLIPS for kind in ("in", "inout")]


def zoomed_copy(src: str | Path, dst: str | Path, zoom_at, crf: int = 18) -> Path:
    """``src`` with each frame the centre 1/z of itself scaled back to its size, z = ``zoom_at(u)`` at the
    clip's fraction u (0 at its first frame, 1 at its last): a digital zoom about the principal point, as a
    phone's pinch zoom; libx264 at ``crf``, the clip's own rate."""
    import av
    import cv2

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        rate = Fraction(vin.average_rate).limit_denominator(1001)
        last = max(1, int(vin.frames or 1) - 1)
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = vin.width, vin.height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "fast", "threads": "1"}
        stream.time_base = 1 / rate
        for n, frame in enumerate(inp.decode(vin)):
            image = frame.to_ndarray(format="rgb24")
            h, w = image.shape[:2]
            z = float(zoom_at(min(1.0, n / last)))
            A = np.array([[z, 0, (1 - z) * (w - 1) / 2], [0, z, (1 - z) * (h - 1) / 2]])
            made = av.VideoFrame.from_ndarray(cv2.warpAffine(image, A, (w, h), flags=cv2.INTER_LINEAR,
                                                             borderMode=cv2.BORDER_REFLECT), format="rgb24")
            made = made.reformat(format="yuv420p")
            made.pts, made.time_base = n, 1 / rate
            out.mux(stream.encode(made))
        out.mux(stream.encode())
    return Path(dst)


def reconstructed(folder: Path, followed: bool):
    """The scene from ``folder``'s observations, with the zoom followed or not (as before it was)."""
    import nvwa.camera.motion as motion
    from nvwa.observations import load_observations
    from nvwa.reconstruct import reconstruct

    kept = motion.ZOOM_MIN
    motion.ZOOM_MIN = kept if followed else np.inf
    try:
        return reconstruct(load_observations(folder))
    finally:
        motion.ZOOM_MIN = kept


def _people_against(scene, reference) -> list[dict]:
    out = []
    cam, ref_cam = np.asarray(scene.t_world_from_cam), np.asarray(reference.t_world_from_cam)
    for p, q, a, b in matched(scene, reference, least=10):
        ra, rb = np.asarray(p.root_world)[a], np.asarray(q.root_world)[b]
        da, db = np.linalg.norm(ra - ref_cam, axis=1), np.linalg.norm(rb - cam, axis=1)
        out.append({"reference_person": int(p.person_id), "frames": len(a),
                    "distance_m_reference": [round(float(da[0]), 2), round(float(da[-1]), 2)],
                    "distance_m": [round(float(db[0]), 2), round(float(db[-1]), 2)],
                    "roots_off_m": round(float(np.median(np.linalg.norm(ra - rb, axis=1))), 3)})
    return out


def scored(clip: str, scene, reference=None, zoom_true: float = 1.0) -> dict:
    found = None if scene.camera_focal_px is None else float(np.max(scene.camera_focal_px) / scene.K[0, 0])
    out = {"camera_motion": scene.camera_motion, "zoom_found_max": None if found is None else round(found, 3),
           "zoom_true_max": zoom_true, "focal_px": round(float(scene.K[0, 0]), 1),
           "camera_height_m": round(float(scene.t_world_from_cam[1]), 3), "people": len(scene.people)}
    if clip == "cam03":
        cal = calibrated("cam03", scene)
        p = max(scene.people, key=lambda q: len(q.timestamp_s))
        pelvis = np.asarray(p.joints_cam)[:, 0, 2]
        ref = np.load(CAL / "reference.npz", allow_pickle=False)["cam03_landmarks_cam"][:, [23, 24]].mean(axis=1)[:, 2]
        out.update({k: cal.get(k) for k in ("focal_err_pct", "height_err_pct", "gravity_err_deg", "mpjpe_cam_mm", "pa_mpjpe_mm")},
                   pelvis_depth_m=[round(float(pelvis[0]), 2), round(float(pelvis[-1]), 2)],
                   pelvis_depth_true_m=[round(float(ref[p.frame_index[0]]), 2), round(float(ref[p.frame_index[-1]]), 2)])
    elif reference is not None:
        out.update(focal_vs_reference_pct=round(100 * (float(scene.K[0, 0]) / float(reference.K[0, 0]) - 1), 1),
                   people_vs_reference=_people_against(scene, reference))
    return out


def main() -> int:
    line = asked(__doc__, COPIES, "zoom.json", lambda c: CLIPS[c.split("_")[0]])
    if line is None:
        return 2
    args, picked = line
    rows, references = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip, name, how in with_references(picked):
            video = zoomed_copy(CLIPS[clip], tmp / f"{name}.mp4", ZOOMS[how])
            nvwa_process(video, tmp / name)
            if how == "none":
                references[clip] = reconstructed(tmp / name, True)
                rows.append({"copy": name, "zoom": "followed", **scored(clip, references[clip])})
                print(json.dumps(rows[-1]), flush=True)
                continue
            for followed in (False, True):
                scene = reconstructed(tmp / name, followed)
                rows.append({"copy": name, "zoom": "followed" if followed else "not followed (before)",
                             **scored(clip, scene, references[clip], 1.4)})
                print(json.dumps(rows[-1]), flush=True)
    Path(args.out).write_text(json.dumps({"runs": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
