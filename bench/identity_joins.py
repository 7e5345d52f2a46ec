"""The reconstruction's identity joins on a long video: how their time grows with its length.

    python bench/identity_joins.py [--tracks 300,1000,3000] [--per-minute 30] [--out bench/results/identity_joins.json]

A synthetic video at 10 fps in a 768x576 picture, as busy as vtest.avi (~30 tracks a minute, so 300 tracks are
10 minutes of it and 3,000 an hour and 40): N tracks of 1-10 s each, people walking
straight between two random places, 50-90 px tall, each track with 0-3 gaps of 0.3-1.4 s (the tracker
losing them). Their poses are vtest's real ones (``tests/data/vtest_stand_ins.npz``, the woman in black's,
each scaled to the person's box and cycled as a gait), so every check the joins make has real keypoints to
look at. Times ``nvwa.tracking.handover.handed_over`` and ``nvwa.tracking.stand_in.stand_ins`` on them, one
after the other as ``nvwa reconstruct`` runs them (one process, the same tracks each size: a seeded draw).
There is no target in the issue; the figure that matters is that the time grows with the video's length, not
with every pair of its tracks (each check meets only the tracks seen around the same seconds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
POSES = ROOT / "tests" / "data" / "vtest_stand_ins.npz"
PICTURE = (768, 576)  # width, height px
FPS = 10


def _gait() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """vtest's woman in black's sure poses, each centred on its box and scaled to a height of 1 -> (2D (P, 33, 2),
    3D (P, 33, 3), visibility (P, 33))."""
    d = np.load(POSES)
    kp, vis, k3 = (d[f"woman_first_{n}"] for n in ("keypoints_2d", "visibility", "keypoints_3d"))
    ok = (vis >= 0.5).sum(1) >= 20
    kp, vis, k3 = kp[ok].astype(np.float64), vis[ok], k3[ok]
    sure = np.where(vis[..., None] >= 0.5, kp, np.nan)
    lo, hi = np.nanmin(sure, 1), np.nanmax(sure, 1)
    return (kp - ((lo + hi) / 2)[:, None]) / (hi[:, 1] - lo[:, 1])[:, None, None], k3, vis


def crowd(n: int, length_s: float, seed: int = 0) -> list:
    """``n`` tracks of people walking about the picture over ``length_s`` (see the module's docstring)."""
    from nvwa.observations import PersonObservations

    rng = np.random.default_rng(seed)
    gait, k3, vis = _gait()
    w, h = PICTURE
    tracks = []
    for pid in range(n):
        t0 = rng.uniform(0, length_s - 10)
        t1 = t0 + rng.uniform(1, 10)
        frames = np.arange(int(round(t0 * FPS)), int(round(t1 * FPS)) + 1)
        t = frames / FPS
        a, b = rng.uniform((100, 150), (w - 100, h - 120), size=(2, 2))
        centre = a + (b - a) * ((t - t0) / (t1 - t0))[:, None]
        k = (frames + pid) % len(gait)
        keep = np.ones(len(frames), bool)
        for _ in range(rng.integers(0, 4)):  # the tracker losing them now and then
            g = rng.integers(len(frames))
            keep[g:g + rng.integers(3, 15)] = False
        keep[0] = keep[-1] = True
        tracks.append(PersonObservations(person_id=pid, frame_index=frames[keep], timestamp_s=t[keep],
                                         keypoints_2d=(gait[k] * rng.uniform(50, 90) + centre[:, None]).astype(np.float32)[keep],
                                         keypoints_3d=k3[k][keep], visibility=vis[k][keep]))
    return tracks


def main(argv=None) -> int:
    from nvwa.tracking.handover import handed_over
    from nvwa.tracking.stand_in import stand_ins

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", default="300,1000,3000", help="comma-separated numbers of tracks")
    ap.add_argument("--per-minute", type=float, default=30.0, help="tracks a minute (vtest.avi: ~30)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "identity_joins.json"))
    args = ap.parse_args(argv)
    try:
        sizes = [int(x) for x in args.tracks.split(",")]
    except ValueError:
        ap.error(f"--tracks {args.tracks!r}: comma-separated whole numbers")
    if not sizes or min(sizes) < 1:
        ap.error(f"--tracks {args.tracks!r}: at least one track")
    if not args.per_minute > 0:
        ap.error(f"--per-minute {args.per_minute}: a positive number of tracks")
    rows = []
    for n in sizes:
        length_s = max(60.0 * n / args.per_minute, 20.0)
        tracks = crowd(n, length_s)
        t0 = time.perf_counter()
        people, joined = handed_over(tracks, None, picture=PICTURE)
        t1 = time.perf_counter()
        people, stood = stand_ins(people, None, picture=PICTURE)
        t2 = time.perf_counter()
        rows.append({"tracks": n, "video_min": round(length_s / 60, 1), "handed_over_s": round(t1 - t0, 2), "stand_ins_s": round(t2 - t1, 2),
                     "joins": len(joined), "stand_ins": len(stood)})
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"per_minute": args.per_minute, "fps": FPS, "picture": PICTURE, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
