"""Export speed and size: a 1-minute, 3-person, 30 fps scene written as GLB, BVH, NPZ and PLY.

    python bench/export.py [--out bench/results/export.json]

Targets (issue 5): the whole export (GLB + BVH + NPZ) under 1 s; a 30 fps person-minute of GLB
animation at most 1 MB. Issue 19: the human body's mesh at most 1.5 MB per person, its low-poly one 0.3 MB.
GLB and PLY (5,400 files here, timed once) per body (human, human-lowpoly, capsule). Wall-clock seconds,
best of 3.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


BODIES = ("human", "human-lowpoly", "capsule")


def _best(run, n: int = 3) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    from nvwa.export import ExportConfig, export_scene
    from nvwa.scene.synthetic import synthetic_person, synthetic_scene

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "export.json"))
    args = ap.parse_args(argv)
    fps, T = 30.0, 1800
    scene = synthetic_scene([synthetic_person(pid, T, seed=pid) for pid in (1, 2, 3)], fps=fps)
    one = synthetic_scene([synthetic_person(1, T)], fps=fps)
    empty = synthetic_scene([], fps=fps)
    seconds, by_body = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("glb", "bvh", "npz"):  # the default body (human) in the GLB
            seconds[name] = _best(lambda: export_scene(scene, Path(tmp) / name, [name]))
        glb_total = (Path(tmp) / "glb" / "scene.glb").stat().st_size
        export_scene(empty, Path(tmp) / "empty", ["glb"])
        for body in BODIES:
            config = ExportConfig(body=body)
            export_scene(one, Path(tmp) / body / "one", ["glb"], config)
            size = (Path(tmp) / body / "one" / "scene.glb").stat().st_size - (Path(tmp) / "empty" / "scene.glb").stat().st_size
            by_body[body] = {"glb_s": round(_best(lambda: export_scene(scene, Path(tmp) / body, ["glb"], config)), 3),
                             "glb_bytes_per_person_minute": size,
                             "ply_s": round(_best(lambda: export_scene(scene, Path(tmp) / body, ["ply"], config), 1), 2)}
            shutil.rmtree(Path(tmp) / body)
    seconds["ply"] = by_body["human"]["ply_s"]
    per_person_minute = by_body["human"]["glb_bytes_per_person_minute"]
    total = seconds["glb"] + seconds["bvh"] + seconds["npz"]
    report = {
        "scene": {"people": 3, "frames_per_person": T, "fps": fps},
        "seconds": seconds,
        "glb_bvh_npz_seconds": total,
        "glb_bytes_3_people": glb_total,
        "glb_bytes_per_person_minute": per_person_minute,
        "by_body": by_body,
        "met": {"export_under_1s": total < 1.0,
                "glb_person_minute_le_1MB_capsule": by_body["capsule"]["glb_bytes_per_person_minute"] <= 1_000_000,
                "human_mesh_le_1_5MB": per_person_minute - by_body["capsule"]["glb_bytes_per_person_minute"] <= 1_500_000,
                "lowpoly_mesh_le_0_3MB": by_body["human-lowpoly"]["glb_bytes_per_person_minute"]
                - by_body["capsule"]["glb_bytes_per_person_minute"] <= 300_000},
    }
    for k, v in seconds.items():
        print(f"{k:<4} {v:7.3f} s")
    print(f"glb+bvh+npz {total:.3f} s; GLB {glb_total / 1e6:.2f} MB for 3 person-minutes, "
          f"{per_person_minute / 1e6:.2f} MB per person-minute (human body mesh included)")
    for body, row in by_body.items():
        print(f"{body:<14} GLB {row['glb_s']:.3f} s, {row['glb_bytes_per_person_minute'] / 1e6:.2f} MB per person-minute; "
              f"PLY {row['ply_s']:.1f} s")
    print("met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in report["met"].items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
