"""Slow motion, measured: the same moment stored to play 2-8 times slower, with and without the camera's capture rate.

    python bench/slow_motion.py [--only sports2d_x4,cam03_x2] [--out bench/results/slow_motion.json]

A phone films slow motion at 120 or 240 frames a second and saves it to play at 30 (Android tags the
capture rate, ``com.android.capture.fps``; a clip shared from an iPhone or cut in an editor does not). Here
the frames of ``../shared/data/video/sports2d_demo.mp4`` (30 fps) and of the calibrated lab view
``../shared/data/calibrated/pose2sim_single/cam03.mp4`` (60 fps, with true camera and joints) are stored
again, packet for packet (the same pixels), with their times stretched 2-8 times: Sports2D to play 4 and 8x
slower, cam03 2 and 4x. Each copy is processed three ways with ``nvwa process``: untagged, as it plays (what
every version before the capture rate was read did, tagged or not); tagged, as Android tags it; untagged
with ``--capture-fps``. Each run is compared with the original's: the people kept, the scene's length,
Sports2D's jumper's landing (his own id to the end, as ``bench/reencodes.py`` scores it), the people's
roots against the original's at the same frames (median distance, m), the camera's height and statures;
for cam03 the camera and joints against the truth (``bench/metric_world.py``'s figures) and the
subject's speed (pelvis, first to last frame, m/s, camera frame) against the truth's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from metric_world import CAL, calibrated  # noqa: E402  the metric-world bench's truth and figures

SHARED = ROOT.parent / "shared" / "data"
ORIGINALS = {"sports2d": (SHARED / "video" / "sports2d_demo.mp4", 30.0), "cam03": (CAL / "cam03.mp4", 60.0)}
COPIES = {"sports2d_x4": ("sports2d", 4), "sports2d_x8": ("sports2d", 8), "cam03_x2": ("cam03", 2), "cam03_x4": ("cam03", 4)}
WAYS = ("as it plays", "tagged", "--capture-fps")


def stretched_copy(src: str | Path, dst: str | Path, factor: float, capture_fps: float | None = None) -> Path:
    """``src``'s video packets (the same pixels) stored again with their times ``factor`` times longer: a slow
    motion (``factor`` > 1) or a time-lapse (< 1) as a phone stores it; ``capture_fps``: the rate the camera
    filmed at, tagged as Android tags it (``com.android.capture.fps``), else untagged."""
    import av

    factor = Fraction(factor).limit_denominator(1000)
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "use_metadata_tags"} if capture_fps else {}) as out:
        vin = inp.streams.video[0]
        stream = out.add_stream_from_template(vin)
        stream.time_base = vin.time_base
        if capture_fps:
            out.metadata["com.android.capture.fps"] = f"{capture_fps:.6f}"
        for packet in inp.demux(vin):
            if packet.dts is None:  # (the demuxer's flush)
                continue
            packet.pts = None if packet.pts is None else int(packet.pts * factor)
            packet.dts = int(packet.dts * factor)
            packet.duration = int((packet.duration or 0) * factor)
            packet.stream = stream
            out.mux(packet)
    return Path(dst)


def nvwa_process(video: Path, out: Path, *extra: str) -> None:
    """``nvwa process`` on ``video`` into ``out`` (observations and the scene as npz), in a fresh process."""
    subprocess.run([sys.executable, "-m", "nvwa", "process", str(video), "-o", str(out), "--quiet", "--export", "npz", *extra],
                   check=True, capture_output=True, text=True, cwd=ROOT)


def processed(video: Path, out: Path, *extra: str):
    """``nvwa process`` on ``video`` into ``out``, and the scene reconstructed from its observations."""
    from nvwa.observations import load_observations
    from nvwa.reconstruct import reconstruct

    nvwa_process(video, out, *extra)
    return reconstruct(load_observations(out))


def matched(scene, reference, least: int = 1):
    """(reference person, the scene's person nearest them in the picture, the rows of each at the frames both
    were seen on) for each of ``reference``'s people sharing at least ``least`` frames with one of the scene's.
    Nearest: the median distance between their 2D keypoints at those frames (two people seen on the same
    frames, as Sports2D's jumper and walker, are told apart by where they are, not by how long they were seen)."""
    for p in reference.people:
        best = None
        for q in scene.people:
            common, a, b = np.intersect1d(p.frame_index, q.frame_index, return_indices=True)
            if len(common) < least or not len(common):
                continue
            gap = np.linalg.norm(np.asarray(p.keypoints_2d)[a] - np.asarray(q.keypoints_2d)[b], axis=-1)
            with warnings.catch_warnings():  # (a frame whose keypoints are all NaN: "All-NaN slice")
                warnings.simplefilter("ignore", RuntimeWarning)
                off = float(np.nanmedian(np.nanmedian(gap, axis=-1))) if np.isfinite(gap).any() else np.inf
            if best is None or off < best[0]:
                best = (off, q, a, b)
        if best is not None:
            yield p, *best[1:]


def asked(doc: str, copies, out: str, clip_of) -> tuple[argparse.Namespace, list[str]] | None:
    """A bench's command line (``--only``, ``--out``, its results file ``out`` by default) and the copies it picks;
    None, said in one line, where a clip one of them is made from (``clip_of(copy)``) is not at hand."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--only", help="comma-separated copies: " + ",".join(copies))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / out))
    args = ap.parse_args()
    picked = chosen(ap, args.only, copies)
    missing = [str(clip_of(c)) for c in picked if not Path(clip_of(c)).exists()]
    if missing:
        print(f"{missing[0]}: not found (../shared beside the checkout)", file=sys.stderr)
        return None
    return args, picked


def with_references(picked: list[str]):
    """(clip, name, kind) of each copy ``picked`` ("<clip>_<kind>"), its clip's reference ("<clip>_none", kind
    "none") before the first of that clip's copies."""
    seen = set()
    for copy in picked:
        clip, kind = copy.split("_")
        if clip not in seen:
            seen.add(clip)
            yield clip, f"{clip}_none", "none"
        yield clip, copy, kind


def chosen(ap: argparse.ArgumentParser, only: str | None, copies) -> list[str]:
    """The copies ``--only`` names (all where it names none); a name not among them is argparse's one line."""
    picked = only.split(",") if only else list(copies)
    if any(c not in copies for c in picked):
        ap.error(f"--only {only}: choose from {', '.join(copies)}")
    return picked


def _roots_off(scene, original) -> float | None:
    """The median distance (m) between each original person's root and the run's person nearest them in the
    picture (:func:`matched`), at the frames both were seen on (the scene's world: its floor and camera as found)."""
    offs = [np.linalg.norm(np.asarray(p.root_world)[a] - np.asarray(q.root_world)[b], axis=1)
            for p, q, a, b in matched(scene, original)]
    return round(float(np.median(np.concatenate(offs))), 3) if offs else None


def _subject_speed(scene) -> float | None:
    """The longest-seen person's pelvis, first frame to last, over the time between (m/s, camera frame)."""
    if not scene.people:
        return None
    p = max(scene.people, key=lambda q: len(q.timestamp_s))
    j, t = np.asarray(p.joints_cam), np.asarray(p.timestamp_s)
    return round(float(np.linalg.norm(j[-1, 0] - j[0, 0]) / (t[-1] - t[0])), 3) if t[-1] > t[0] else None


def _true_speed(name: str) -> float:
    ref = np.load(CAL / "reference.npz", allow_pickle=False)
    pelvis = ref[f"{name}_landmarks_cam"][:, [23, 24]].mean(axis=1)
    t = np.asarray(ref["timestamps"], np.float64)
    return round(float(np.linalg.norm(pelvis[-1] - pelvis[0]) / (t[-1] - t[0])), 3)


def scored(name: str, scene, original=None) -> dict:
    people = sorted(scene.people, key=lambda q: q.timestamp_s[0])
    out = {"people": len(people), "frames": [len(p.frame_index) for p in people],
           "scene_s": round(float(max(p.timestamp_s[-1] for p in people) - min(p.timestamp_s[0] for p in people)), 3)
           if people else 0.0,
           "camera_height_m": round(float(scene.t_world_from_cam[1]), 3),
           "time_scale": float(scene.video.get("time_scale") or 1.0)}
    if name == "sports2d":  # the jumper: on his box from the first frame, landing at ~7 s of the 7.67
        last_frame = int(people[0].frame_index[-1]) if people else -1
        out["landing"] = "split" if len(people) > 2 else "one id" if last_frame >= 215 else "lost"
    else:
        cal = calibrated(name, scene)
        out.update({k: cal.get(k) for k in ("focal_err_pct", "height_err_pct", "gravity_err_deg", "pa_mpjpe_mm")},
                   subject_speed_m_s=_subject_speed(scene), true_speed_m_s=_true_speed(name))
    if original is not None:
        out["roots_off_original_m"] = _roots_off(scene, original)
    return out


def main() -> int:
    line = asked(__doc__, COPIES, "slow_motion.json", lambda c: ORIGINALS[COPIES[c][0]][0])
    if line is None:
        return 2
    args, picked = line
    rows, originals = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for copy in picked:
            name, factor = COPIES[copy]
            src, fps = ORIGINALS[name]
            if name not in originals:
                originals[name] = processed(src, tmp / name)
                rows.append({"copy": name, "way": "original", **scored(name, originals[name])})
                print(json.dumps(rows[-1]), flush=True)
            plain = stretched_copy(src, tmp / f"{copy}.mp4", factor)
            tagged = stretched_copy(src, tmp / f"{copy}_tagged.mp4", factor, capture_fps=fps)
            for way, video, extra in ((WAYS[0], plain, ()), (WAYS[1], tagged, ()), (WAYS[2], plain, ("--capture-fps", f"{fps:g}"))):
                scene = processed(video, tmp / f"{copy}_{WAYS.index(way)}", *extra)
                rows.append({"copy": copy, "way": way, **scored(name, scene, originals[name])})
                print(json.dumps(rows[-1]), flush=True)
    Path(args.out).write_text(json.dumps({"runs": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
