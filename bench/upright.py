"""Does BlazePose need crops rotated upright? A real person (the Sports2D clip's walker, frame 30) turned by
0-180 degrees about their centre, at full size and scaled down: the pose check on the turned image against
the same check on the image turned back upright (keypoints mapped back), as the median keypoint error in %
of the person's height against the upright pose turned the same way.

    python bench/upright.py [--out bench/results/upright.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

ANGLES = (0, 45, 90, 135, 180)
SCALES = (1.0, 0.35, 0.25)  # the walker is ~195 px tall in the clip: ~68 and ~49 px scaled down


def _error(body, image, box, truth, height):
    obs = body.probe(image, box)
    return None if obs is None else round(float(100 * np.median(np.linalg.norm(obs.keypoints_2d - truth, axis=1)) / height), 2)


def main(argv=None) -> int:
    import av
    import cv2

    from nvwa.body.blazepose import BlazePoseBody, BlazePoseConfig
    from nvwa.models import blazepose_task_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "upright.json"))
    args = ap.parse_args(argv)
    with av.open(str(ROOT / "tests" / "data" / "sports2d_3s.mp4")) as c:
        full = next(f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i == 30)
    body = BlazePoseBody(BlazePoseConfig(str(blazepose_task_path())))
    ref = body.probe(full, np.array([237.7, 15.7, 365.1, 233.0]))  # the detector's box of the walker
    rows = []
    for s in SCALES:
        img = cv2.resize(full, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        H, W = img.shape[:2]
        kp = ref.keypoints_2d * s
        box = np.r_[kp.min(0), kp.max(0)]
        centre, height = tuple((box[:2] + box[2:]) / 2), float(box[3] - box[1])
        for angle in ANGLES:
            M = cv2.getRotationMatrix2D(centre, angle, 1.0)
            turned = cv2.warpAffine(img, M, (W, H), borderValue=(114, 114, 114))
            truth = kp @ M[:, :2].T + M[:, 2]
            back = cv2.warpAffine(turned, cv2.getRotationMatrix2D(centre, -angle, 1.0), (W, H), borderValue=(114, 114, 114))
            upright = body.probe(back, box)
            rows.append({"person_px": round(height), "angle_deg": angle,
                         "turned_err_pct": _error(body, turned, np.r_[truth.min(0), truth.max(0)], truth, height),
                         "upright_err_pct": None if upright is None else round(float(
                             100 * np.median(np.linalg.norm(upright.keypoints_2d @ M[:, :2].T + M[:, 2] - truth, axis=1)) / height), 2)})
            print(rows[-1])
    body.close()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
