"""Observe once, reconstruct many times, measured: `nvwa process` on a video, then `nvwa reconstruct` on
its folder with the same options, in one run (same machine load). JSON out:

    python bench/reconstruct.py [--video ../shared/data/video/vtest.avi] [--out bench/results/reconstruct.json]

Reports both wall times (the processes' own, from their scene.json stats and from outside), their ratio
(target <= 5%), and how far the reconstructed scene is from the processed one (same ids and timestamps;
joints_world within 1 mm is the target).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = ROOT.parent / "shared" / "data" / "video" / "vtest.avi"


def nvwa(*args) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nvwa", *map(str, args), "--quiet"], check=True, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=str(DEFAULT_VIDEO))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "reconstruct.json"))
    args = ap.parse_args()
    from nvwa.scene import read_scene

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "processed"
        process_s = nvwa("process", args.video, "-o", folder, "--format", "glb,npz")
        before = read_scene(folder)
        copy = Path(tmp) / "reconstructed"
        shutil.copytree(folder, copy)
        reconstruct_s = nvwa("reconstruct", copy, "--format", "glb,npz")
        after = read_scene(copy)
    same_ids = [p.person_id for p in before.people] == [p.person_id for p in after.people]
    same_times = same_ids and all(np.array_equal(a.timestamp_s, b.timestamp_s) for a, b in zip(before.people, after.people))
    joint_err = max((float(np.abs(a.joints_world - b.joints_world).max()) for a, b in zip(before.people, after.people)),
                    default=0.0) if same_ids else None
    result = {
        "video": Path(args.video).name, "frames": before.stats["frames"], "people": len(before.people),
        "process_wall_s": round(process_s, 2), "reconstruct_wall_s": round(reconstruct_s, 2),
        "ratio_pct": round(100 * reconstruct_s / process_s, 2), "target_ratio_pct": 5.0,
        "reconstruct_inside_s": after.stats.get("reconstruct_s"), "same_person_ids": same_ids,
        "same_timestamps": same_times, "max_joint_diff_m": joint_err, "target_joint_diff_m": 0.001,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
