"""The landmark network with its middle in int8 (nvwa.body.landmarks_int8): its speed and how far its poses move.

    python bench/landmarks_int8.py [--out bench/results/landmarks_int8.json]
    python bench/landmarks_int8.py --calibrate   # measure the activations' ranges again (see below)

The landmark network is most of a run's CPU (vtest: ~5,000 crops). ``nvwa.body.landmarks_int8`` makes its
middle int8 (ai-edge-quantizer, weights per channel, activations per tensor), its first 15 and last 30
operators and its input and outputs float, with activation ranges kept in the package. Scored here on the
labelled people of `../shared/data/labels/vtest_people.json` (not used to calibrate), per crop, in % of the
person's height in the crop (their landmarks seen > 0.5): the mean landmark move, int8 against float; beside
it what a 1.5-px shift of the same crop moves the float network's landmarks (the noise the tracker already
lives with); the presence and the 3D landmarks' move. Speed: the two networks' invoke times on one core,
alternating in one process. It depends on the CPU: 1.47x where the twentieth session measured it, 1.41x on an
Intel Xeon with AVX-512 VNNI and AMX-INT8, 0.92x on an AVX2-only EPYC (no int8 dot products), where
``--blazepose.landmark-network auto`` keeps the float network.

``--calibrate`` runs ``nvwa process`` on vtest and Sports2D and measures the ranges again on their tracked
people's crops (every 12th / 9th frame of each person, the region their pose gives), writing
``src/nvwa/body/landmarks_int8_ranges.json``: a new int8 network, so raise ``INT8_REWRITE`` with it.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def network(model: bytes):
    """crop (256, 256, 3) uint8 -> (landmarks (33, 2) crop px, refined as the pipeline does; visibility
    (33,); 3D landmarks (33, 3) m; presence). Both networks take and give float32 (the int8 one's input
    and outputs are kept float: see nvwa.body.landmarks_int8)."""
    from ai_edge_litert.interpreter import Interpreter

    from nvwa.body.landmarks import _refined, _sigmoid

    it = Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    outs = {tuple(o["shape"][1:]): o for o in it.get_output_details()}
    if inp["dtype"] != np.float32 or any(o["dtype"] != np.float32 for o in outs.values()):
        raise SystemExit("landmarks_int8 bench: a network with quantized input or outputs (this bench reads float32 only)")

    def get(shape):
        return it.get_tensor(outs[shape]["index"])

    def run(crop):
        it.set_tensor(inp["index"], crop[None].astype(np.float32) / 255.0)
        it.invoke()
        raw = get((195,)).reshape(39, 5).astype(np.float64)
        return (_refined(raw[:, :2], get((64, 64, 39))[0])[:33], _sigmoid(raw[:33, 3]),
                get((117,)).reshape(39, 3)[:33].astype(np.float64), float(get((1,)).reshape(-1)[0]))
    return run


def labelled_crops(labels: Path, video: Path) -> np.ndarray:
    """Every labelled person's upright crop (their box, 1.5x) -> (N, 256, 256, 3) uint8 RGB."""
    from nvwa.body.landmarks import Region
    from nvwa.video import iter_frames

    frames = {f["frame_index"]: [p["box"] for p in f["people"]] for f in json.loads(labels.read_text())["frames"]}
    return np.stack([Region.from_box(np.asarray(box, float), 1.5).crop(frame.image)
                     for frame in iter_frames(video, max_side=None) for box in frames.get(frame.index, [])])


def tracked_crops(videos: list[tuple[Path, int]]) -> np.ndarray:
    """The crops the network sees of tracked people: ``nvwa process`` on each (video, step), then every
    step-th frame of each person, every third of those, cut on the region their pose gives."""
    from nvwa.body.landmarks import Region
    from nvwa.video import iter_frames

    crops = []
    for video, step in videos:
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run([str(Path(sys.executable).parent / "nvwa"), "process", str(video), "-o", out, "--format", "npz"],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{video}: nvwa process failed:\n{done.stderr[-2000:]}")
            z = np.load(Path(out) / "observations.npz")
            want: dict[int, list] = {}
            for p in sorted({k.split("/")[1] for k in z.files if k.startswith("person/")}, key=int):
                rows = z[f"person/{p}/frame_index"], z[f"person/{p}/keypoints_2d"], z[f"person/{p}/visibility"]
                for j in range(0, len(rows[0]), step):
                    if (j // step) % 3 == 0:
                        want.setdefault(int(rows[0][j]), []).append((rows[1][j], rows[2][j]))
        for frame in iter_frames(video, max_side=1280):
            for kp, vis in want.get(frame.index, []):
                region = Region.from_keypoints(kp * frame.scale, vis)
                if region is not None:
                    crops.append(region.crop(frame.image))
    return np.stack(crops)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(ROOT.parent / "shared/data/labels/vtest_people.json"))
    ap.add_argument("--video", default=str(ROOT.parent / "shared/data/video/vtest.avi"))
    ap.add_argument("--out", default=str(ROOT / "bench/results/landmarks_int8.json"))
    ap.add_argument("--calibrate", action="store_true", help="measure the activations' ranges again on tracked people "
                    "(vtest, Sports2D) and write them into the package")
    args = ap.parse_args(argv)
    videos = Path(args.video).parent
    if not Path(args.labels).exists() or not Path(args.video).exists():
        print(f"{args.labels} or {args.video}: missing; skipping (see ../shared/data/README.md)")
        return 0
    import cv2

    from nvwa.body.landmarks import LANDMARK_NETWORK, bundle_without_mask
    from nvwa.body.landmarks_int8 import QUANTIZER, RANGES, calibrated_ranges, int8_network
    from nvwa.models import blazepose_task_path

    with zipfile.ZipFile(io.BytesIO(bundle_without_mask(blazepose_task_path(None)))) as z:
        shipped = z.read(LANDMARK_NETWORK)
    if args.calibrate:
        crops = tracked_crops([(Path(args.video), 4), (videos / "sports2d_demo.mp4", 3)])
        kept = json.loads(RANGES.read_text())
        kept.update(quantizer=QUANTIZER, calibration=f"{len(crops)} crops of tracked people: vtest.avi every 12th of a "
                    "person's frames (pose regions), sports2d_demo.mp4 every 9th (bench/landmarks_int8.py --calibrate)",
                    ranges=calibrated_ranges(shipped, crops))
        RANGES.write_text(json.dumps(kept, indent=0))
        print(f"wrote {RANGES} ({len(crops)} crops): raise INT8_REWRITE and the tests' INT8_SHA256 with it")
    scored = labelled_crops(Path(args.labels), Path(args.video))
    int8 = int8_network(shipped)
    full, small = network(shipped), network(int8)
    shift = np.float32([[1, 0, 1.5], [0, 1, 0]])
    rows = []
    for crop in scored:
        a, b = full(crop), small(crop)
        c = full(cv2.warpAffine(crop, shift, (256, 256)))
        seen = a[1] > 0.5
        height = np.ptp(a[0][seen, 1]) if seen.sum() >= 3 else 0.0
        if a[3] < 0.5 or height < 10:
            continue  # nobody the float network is sure of
        rows.append([np.linalg.norm(b[0] - a[0], axis=1)[seen].mean() / height,
                     np.linalg.norm(c[0] - [1.5, 0] - a[0], axis=1)[seen].mean() / height,
                     abs(b[3] - a[3]), np.abs(b[2] - a[2]).mean(), np.abs(c[2] - a[2]).mean(), height])
    R = np.array(rows)
    times = {"float": [], "int8": []}
    for _ in range(5):  # alternating, so the machine's noise falls on both
        for name, run in (("float", full), ("int8", small)):
            t0 = time.perf_counter()
            for crop in scored[:40]:
                run(crop)
            times[name].append((time.perf_counter() - t0) / 40 * 1000)
    ms = {k: float(np.median(v)) for k, v in times.items()}
    from nvwa.body.landmarks_int8 import cpu_model, int8_dot_products

    result = {
        "cpu": cpu_model(), "int8_dot_products": int8_dot_products(),  # the speed depends on it
        "crops_scored": len(R),
        "ms_per_crop": ms, "speedup": ms["float"] / ms["int8"],
        "landmark_move_pct_of_height": {"int8_median": 100 * float(np.median(R[:, 0])), "int8_p90": 100 * float(np.percentile(R[:, 0], 90)),
                                        "shift_1p5px_median": 100 * float(np.median(R[:, 1])), "shift_1p5px_p90": 100 * float(np.percentile(R[:, 1], 90))},
        "presence_move_median": float(np.median(R[:, 2])),
        "landmarks_3d_move_mm": {"int8_median": 1000 * float(np.median(R[:, 3])), "shift_1p5px_median": 1000 * float(np.median(R[:, 4]))},
    }
    lm, w3 = result["landmark_move_pct_of_height"], result["landmarks_3d_move_mm"]
    print(f"int8 {ms['int8']:.2f} ms against float {ms['float']:.2f} ms a crop ({result['speedup']:.2f}x) on {result['cpu']} "
          f"(int8 dot products: {'yes' if result['int8_dot_products'] else 'no'}), {len(R)} labelled people scored")
    print(f"landmarks moved (% of height): int8 {lm['int8_median']:.2f} (p90 {lm['int8_p90']:.2f}); a 1.5-px shift {lm['shift_1p5px_median']:.2f} "
          f"(p90 {lm['shift_1p5px_p90']:.2f}); 3D landmarks {w3['int8_median']:.1f} against {w3['shift_1p5px_median']:.1f} mm; "
          f"presence {result['presence_move_median']:.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
