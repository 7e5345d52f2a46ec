"""Sports2D re-encoded 33 ways: does the jumper land as one person, and does the world hold?

    python bench/reencodes.py [--codec all|h264|hevc] [--only 0,5] [--out bench/results/reencodes.json]

A user's copy of a video is rarely the original: a phone, a messenger or an editor encodes it again. The
same 230 frames of ``../shared/data/video/sports2d_demo.mp4`` are encoded 21 ways with libx264 (PyAV) at
CRF 12-30, 960-1920 px wide, presets veryfast to slow, and 12 ways with libx265 as a phone's HEVC (CRF
16-28, 1280-1920 px, 8 and 10 bits), 30 fps, and each copy is processed with `nvwa process`. Per
copy: the people kept (2 on the original: the jumper and the walker), whether the jumper's landing is his
own id (a third id from ~6 s is his landing split off; his track ending before 7 s is the landing lost),
the camera's height and each person's stature. The summary counts the copies that keep his landing as
one id and the camera heights more than 20% off their median (the world's spread under re-encoding), for
each codec and for all.
Issue 21's figure: Sports2D both people end to end, the landing included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
# (CRF, width px, x264 preset)
H264 = [(16, 1768, "medium"), (12, 1768, "medium"), (16, 1768, "veryfast"), (18, 1920, "slow"), (20, 1768, "medium"),
          (23, 1280, "medium"), (23, 1768, "medium"), (23, 960, "fast"), (28, 1768, "medium"), (14, 1768, "medium"),
          (18, 1440, "medium"), (18, 1768, "fast"), (18, 1768, "medium"), (20, 1024, "medium"), (21, 1768, "medium"),
          (22, 1600, "slow"), (23, 1440, "fast"), (24, 1768, "veryfast"), (25, 1768, "medium"), (26, 1024, "fast"),
          (30, 1768, "medium")]
# (CRF, width px, x265 preset, bits a sample)
HEVC = [(18, 1768, "medium", 8), (22, 1768, "medium", 8), (26, 1768, "medium", 8), (20, 1920, "fast", 8),
        (24, 1280, "fast", 8), (28, 1768, "fast", 8), (18, 1768, "medium", 10), (22, 1768, "fast", 10),
        (26, 1440, "medium", 10), (20, 1280, "medium", 10), (24, 1768, "medium", 10), (16, 1920, "fast", 10)]
COPIES = [("h264", crf, width, preset, 8) for crf, width, preset in H264] + [("hevc", *c) for c in HEVC]


def encode(src: Path, dst: Path, crf: int, width: int, preset: str, codec: str = "h264", bits: int = 8) -> None:
    """Every frame of ``src`` encoded with libx264 (``codec`` "h264") or libx265 ("hevc"; ``bits`` 8 or 10) at
    its own steady rate (Sports2D's 30 fps, vtest's 10)."""
    import av

    pix = "yuv420p" if bits == 8 else "yuv420p10le"

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        rate = Fraction(vin.average_rate or 30).limit_denominator(1001)
        height = int(round(vin.height * width / vin.width / 2) * 2)
        s = out.add_stream("libx264" if codec == "h264" else "libx265", rate=rate)
        s.width, s.height, s.pix_fmt = width, height, pix
        s.options = {"crf": str(crf), "preset": preset, **({"x265-params": "log-level=error"} if codec == "hevc" else {})}
        s.time_base = 1 / rate
        for n, frame in enumerate(inp.decode(vin)):
            f = frame.reformat(width=width, height=height, format=pix)
            f.pts, f.time_base = n, 1 / rate
            out.mux(s.encode(f))
        out.mux(s.encode())


def scored(scene_dir: Path) -> dict:
    s = json.loads((scene_dir / "scene.json").read_text())
    people = sorted(s["people"], key=lambda p: p["first_s"])
    jumper = people[0] if people else None  # on his box from the first frame
    return {"people": len(people),
            "landing": ("split" if len(people) > 2 else  # his landing a third id (his own ends at ~6 s)
                        "lost" if jumper is None or jumper["last_s"] < 7.0 else "one id"),
            "jumper_last_s": None if jumper is None else round(jumper["last_s"], 2),
            "camera_height_m": round(s["camera"]["height_m"], 3),
            "statures_m": [round(p["stature_m"], 2) for p in people],
            # what the reconstruction's identity rules did (docs/identity-rules.md), as its warnings say
            "identity_repairs": [w for w in s.get("grounding", {}).get("warnings", []) if " is person " in w
                                 or "swapped back" in w or "changed clothes" in w]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codec", choices=("all", "h264", "hevc"), default="all", help="which copies (default all)")
    ap.add_argument("--only", help="comma-separated indices into the codec's copies (h264: 0-20, hevc: 0-11, all: 0-32)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "reencodes.json"))
    args = ap.parse_args()
    if not VIDEO.exists():
        print(f"{VIDEO}: not found (../shared beside the checkout)", file=sys.stderr)
        return 2
    copies = [c for c in COPIES if args.codec in ("all", c[0])]
    only = args.only.split(",") if args.only else []
    if not all(i.strip().isdigit() and int(i) < len(copies) for i in only):
        ap.error(f"--only {args.only}: indices from 0 to {len(copies) - 1} for --codec {args.codec}, comma-separated")
    picked = [copies[int(i)] for i in only] or copies
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for codec, crf, width, preset, bits in picked:
            name = f"crf{crf}_{width}_{preset}" + ("" if codec == "h264" else f"_hevc{bits}")
            video, out = Path(tmp) / f"{name}.mp4", Path(tmp) / name
            encode(VIDEO, video, crf, width, preset, codec, bits)
            subprocess.run([sys.executable, "-m", "nvwa", "process", str(video), "-o", str(out), "--quiet",
                            "--export", "npz"], check=True, capture_output=True, text=True)
            rows.append({"copy": name, "codec": codec, **scored(out)})
            print(json.dumps(rows[-1]), flush=True)
    summary = {**_summary(rows), "by_codec": {c: _summary([r for r in rows if r["codec"] == c])
                                              for c in ("h264", "hevc") if any(r["codec"] == c for r in rows)}}
    print(json.dumps(summary))
    Path(args.out).write_text(json.dumps({"summary": summary, "copies": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


def _summary(rows: list[dict]) -> dict:
    heights = np.array([r["camera_height_m"] for r in rows])
    return {"copies": len(rows), "landing_one_id": sum(r["landing"] == "one id" for r in rows),
            "landing_split": sum(r["landing"] == "split" for r in rows),
            "landing_lost": sum(r["landing"] == "lost" for r in rows),
            "camera_height_median_m": round(float(np.median(heights)), 3),
            "camera_heights_over_20pct_off": int(np.sum(np.abs(heights / np.median(heights) - 1) > 0.2)),
            "identity_repairs": sum(len(r["identity_repairs"]) for r in rows)}


if __name__ == "__main__":
    sys.exit(main())
