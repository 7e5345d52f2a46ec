"""Half the frames: what a user in a hurry gains in time and loses in the world.

    python bench/fewer_frames.py [--only vtest,sports2d] [--repeats 2] [--out bench/results/fewer_frames.json]

Each clip of ``../shared/data`` is processed with `nvwa process` (start to end, the models' load included,
as a user runs it) with every frame analysed (the default, up to 30 fps) and with half of them
(``--stride 2``, or ``--max-fps 15`` for a 30 or 60-fps clip), one after the other, ``--repeats`` times.
Per run: wall and CPU seconds (the child's user + system), the frames analysed, the people kept, the
camera's height and focal (and the frames between the analysed ones it was followed through: a moving
camera's), and each person's height as drawn (the median span of their joints, head to
foot) and lowest joint (90th percentile). On vtest, recall and false tracks on the labelled frames both
runs analyse (``../shared/data/labels/vtest_people.json``, scored as ``bench/recall.py`` scores them); on
Sports2D, the jumper's lowest joint at 7.0 s (his landing: on the ground, as one id). The README's "Faster,
at a price" table is this benchmark's.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

# name -> (video under ../shared/data, the option that analyses half the frames)
CLIPS = {
    "vtest": ("video/vtest.avi", ["--stride", "2"]),
    "sports2d": ("video/sports2d_demo.mp4", ["--max-fps", "15"]),
    "taiji": ("video/taiji.mp4", ["--stride", "2"]),
    "juggle": ("video/juggle.mp4", ["--stride", "2"]),
    "kids_bed": ("video/handheld_kids_bed.mp4", ["--max-fps", "15"]),
    "cam03": ("calibrated/pose2sim_single/cam03.mp4", ["--max-fps", "15"]),
}
LANDED_S = 7.0  # Sports2D: the jumper is on the ground again by then


def processed(video: Path, folder: Path, options: list[str]) -> dict:
    """`nvwa process` on ``video`` into ``folder``, as ``bench/recall.py`` runs it -> its wall and CPU seconds."""
    from recall import _processed

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _processed(video, folder, options)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "cpu_s": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2)}


def world(folder: Path) -> dict:
    """What the scene in ``folder`` says of its world."""
    from nvwa.scene.schema import read_scene

    scene = read_scene(folder)
    summary = json.loads((folder / "scene.json").read_text())
    heights = [float(np.median(np.ptp(np.asarray(p.joints_world)[..., 1], axis=1))) for p in scene.people]
    lowest = [float(np.percentile(np.asarray(p.joints_world)[..., 1].min(axis=1), 90)) for p in scene.people]
    return {"frames": int(scene.stats["frames"]), "duration_s": float(scene.video["duration_s"]), "people": len(scene.people),
            "camera_m": round(float(summary["camera"]["height_m"]), 3), "focal_px": round(float(summary["intrinsics"]["K"][0][0]), 1),
            "camera_frames_between": summary.get("stats", {}).get("camera_frames_between"),
            "heights_m": [round(h, 3) for h in heights], "lowest_p90_m": [round(v, 3) for v in lowest], "scene": scene,
            "analysed": analysed_frames(folder)}


def analysed_frames(folder: Path) -> set[int]:
    """The frames the run analysed (the background's track holds every one of them)."""
    from nvwa.observations import load_observations

    track = load_observations(folder).camera_track
    if track is None:
        raise SystemExit(f"{folder}: its observations hold no camera track, so which frames were analysed is unknown")
    return {int(f) for f in track.frame_index}


def landed(scene) -> dict:
    """Sports2D: the jumper (on his box from the first frame) at LANDED_S: his lowest joint, and the ids kept."""
    first = min(scene.people, key=lambda p: float(p.timestamp_s[0]))
    t = np.asarray(first.timestamp_s)
    low = np.asarray(first.joints_world)[..., 1].min(axis=1)
    return {"jumper_last_s": round(float(t[-1]), 3), "jumper_lowest_at_landed_m": round(float(low[np.argmin(abs(t - LANDED_S))]), 3)}


def recall_on(runs: list[dict], labels: dict | None = None) -> dict:
    """vtest: recall and false tracks of each run's scene (``{"scene", "analysed"}``) on the labelled frames
    every run analysed (``labels``: vtest's, as ``bench/recall.py`` reads them, unless given)."""
    import recall  # bench/recall.py: the same scoring

    labels = json.loads(recall.LABELS.read_text()) if labels is None else labels
    analysed = set.intersection(*(run["analysed"] for run in runs))
    kept = dict(labels, frames=[f for f in labels["frames"] if int(f["frame_index"]) in analysed])
    return {"labelled_frames": len(kept["frames"]), "labelled_people": sum(len(f["people"]) for f in kept["frames"]),
            "scores": [{k: recall.score(run["scene"], kept)[k] for k in ("found", "false_tracks")} for run in runs]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(CLIPS), help=f"clips, comma-separated, of {', '.join(CLIPS)}")
    ap.add_argument("--repeats", type=int, default=2, help="each clip's pair of runs this many times (the wall time's spread)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "fewer_frames.json"))
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CLIPS]
    if unknown or args.repeats < 1:
        ap.error(f"--only {','.join(unknown)}: unknown clip(s); choose from {', '.join(CLIPS)}" if unknown else
                 f"--repeats {args.repeats}: at least one run is needed")
    missing = [str(SHARED / CLIPS[n][0]) for n in names if not (SHARED / CLIPS[n][0]).exists()]
    if missing:
        raise SystemExit(f"{missing[0]}: not found (this benchmark reads the clips of ../shared/data beside the repository)")
    report = {"clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            video, half = SHARED / CLIPS[name][0], CLIPS[name][1]
            runs = {"every": [], "half": []}
            for r in range(args.repeats):
                for label, options in (("every", []), ("half", half)):
                    folder = Path(tmp) / f"{name}_{label}_{r}"
                    runs[label].append({**processed(video, folder, options), **world(folder)})
            row = {"video": str(video), "half_option": half}
            for label, done in runs.items():
                last = done[-1]
                row[label] = {"wall_s": [d["wall_s"] for d in done], "cpu_s": [d["cpu_s"] for d in done],
                              "realtime_x": [round(d["wall_s"] / d["duration_s"], 3) for d in done],
                              **{k: v for k, v in last.items() if k not in ("wall_s", "cpu_s", "scene", "analysed")}}
                if name == "sports2d":
                    row[label].update(landed(last["scene"]))
            if name == "vtest":
                row["recall"] = recall_on([runs["every"][-1], runs["half"][-1]])
            report["clips"][name] = row
            e, h = row["every"], row["half"]
            who = lambda n: f"{n} {'person' if n == 1 else 'people'}"  # noqa: E731
            print(f"{name}: every frame {min(e['wall_s'])}-{max(e['wall_s'])} s ({min(e['realtime_x'])}-{max(e['realtime_x'])}x), "
                  f"{who(e['people'])}, camera {e['camera_m']} m; half ({' '.join(half)}) {min(h['wall_s'])}-{max(h['wall_s'])} s "
                  f"({min(h['realtime_x'])}-{max(h['realtime_x'])}x), {who(h['people'])}, camera {h['camera_m']} m", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
