"""Would an int8 BlazePose landmark network pay? Its speed and how far its poses move, against the float one.

    python bench/landmarks_int8.py --quantizer-python PYTHON [--out bench/results/landmarks_int8.json]

The landmark network is most of a run's CPU (vtest: ~5,000 crops). Here it is quantised to int8 (weights
per channel, activations per tensor, ai-edge-quantizer's ``static_wi8_ai8`` recipe) after its float16
weights are folded to float32 (the quantizer leaves float16-weight layers alone), calibrated on real people:
the crops of the labelled people of `../shared/data/labels/vtest_people.json` on every other labelled frame;
the rest are scored. Scored per crop, in % of the person's height in the crop (their landmarks seen > 0.5):
the mean landmark move, int8 against float; beside it what a 1.5-px shift of the same crop moves the float
network's landmarks (the noise the tracker already lives with); the presence and the 3D landmarks' move.
Speed: the two networks' invoke times on one core, alternating in one process.

ai-edge-quantizer is not a dependency of nvwa (it pulls its own LiteRT): give a Python that has it
(``python -m venv /tmp/q && /tmp/q/bin/pip install ai-edge-quantizer``); without one this exits 0 and says so.
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

QUANTISE = """
import sys, numpy as np
from ai_edge_quantizer import quantizer, recipe
q = quantizer.Quantizer(open(sys.argv[1], 'rb').read())
q.load_quantization_recipe(recipe.static_wi8_ai8())
X = np.load(sys.argv[2]).astype(np.float32) / 255.0
done = q.quantize(q.calibrate({'serving_default': [{'input': x[None]} for x in X]}))
open(sys.argv[3], 'wb').write(done.quantized_model)
"""


def float32_network(model: bytes) -> bytes:
    """The network with its float16 weights folded to float32 (no DEQUANTIZE operators left, no tensor left
    unused) and a ``serving_default`` signature (the quantizer calibrates by signature)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    net = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    graph = net.subgraphs[0]
    kept = []
    for op in graph.operators:
        src = graph.tensors[op.inputs[0]]
        data = net.buffers[src.buffer].data
        if (net.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.DEQUANTIZE and data is not None
                and len(data) and src.type == schema.TensorType.FLOAT16):
            weights = schema.BufferT()
            weights.data = np.frombuffer(bytes(data), np.float16).astype(np.float32).view(np.uint8)
            net.buffers.append(weights)
            graph.tensors[op.outputs[0]].buffer = len(net.buffers) - 1
        else:
            kept.append(op)
    graph.operators = kept
    used = sorted({t for op in kept for t in [*op.inputs, *op.outputs] if t >= 0} | set(graph.inputs) | set(graph.outputs))
    new = {t: i for i, t in enumerate(used)}
    graph.tensors = [graph.tensors[t] for t in used]
    for op in kept:
        op.inputs = [new.get(t, -1) for t in op.inputs]
        op.outputs = [new[t] for t in op.outputs]
    graph.inputs, graph.outputs = [new[t] for t in graph.inputs], [new[t] for t in graph.outputs]

    def entry(name: str, index: int):
        m = schema.TensorMapT()
        m.name, m.tensorIndex = name.encode(), index
        return m

    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = b"serving_default", 0
    signature.inputs = [entry("input", graph.inputs[0])]
    signature.outputs = [entry(f"output_{k}", t) for k, t in enumerate(graph.outputs)]
    net.signatureDefs = [signature]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(net))


def network(model: bytes):
    """crop (256, 256, 3) uint8 -> (landmarks (33, 2) crop px, refined as the pipeline does; visibility
    (33,); 3D landmarks (33, 3) m; presence), whatever the network's input and output types."""
    from ai_edge_litert.interpreter import Interpreter

    from nvwa.body.landmarks import _refined, _sigmoid

    it = Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    outs = {tuple(o["shape"][1:]): o for o in it.get_output_details()}

    def get(shape):
        o = outs[shape]
        v = it.get_tensor(o["index"])
        if o["dtype"] != np.float32:
            scale, zero = o["quantization"]
            v = (v.astype(np.float32) - zero) * scale
        return v

    def run(crop):
        x = crop[None].astype(np.float32) / 255.0
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(inp["dtype"])
        it.set_tensor(inp["index"], x)
        it.invoke()
        raw = get((195,)).reshape(39, 5).astype(np.float64)
        return (_refined(raw[:, :2], get((64, 64, 39))[0])[:33], _sigmoid(raw[:33, 3]),
                get((117,)).reshape(39, 3)[:33].astype(np.float64), float(get((1,)).reshape(-1)[0]))
    return run


def labelled_crops(labels: Path, video: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every labelled person's upright crop (their box, 1.5x): (calibration: every other labelled frame, scored)."""
    from nvwa.body.landmarks import Region
    from nvwa.video import iter_frames

    frames = json.loads(labels.read_text())["frames"]
    boxes = {f["frame_index"]: (k % 2 == 0, [p["box"] for p in f["people"]]) for k, f in enumerate(frames)}
    parts = {True: [], False: []}
    for frame in iter_frames(video, max_side=None):
        calibration, people = boxes.get(frame.index, (None, []))
        for box in people:
            region = Region.from_box(np.asarray(box, float), 1.5)
            parts[calibration].append(region.crop(frame.image))
    return np.stack(parts[True]), np.stack(parts[False])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quantizer-python", help="a Python with ai-edge-quantizer installed")
    ap.add_argument("--labels", default=str(ROOT.parent / "shared/data/labels/vtest_people.json"))
    ap.add_argument("--video", default=str(ROOT.parent / "shared/data/video/vtest.avi"))
    ap.add_argument("--out", default=str(ROOT / "bench/results/landmarks_int8.json"))
    args = ap.parse_args(argv)
    if not args.quantizer_python:
        print("no --quantizer-python: a Python with ai-edge-quantizer is needed to quantise the network; skipping")
        return 0
    if not Path(args.labels).exists() or not Path(args.video).exists():
        print(f"{args.labels} or {args.video}: missing; skipping (see ../shared/data/README.md)")
        return 0
    import cv2

    from nvwa.body.landmarks import LANDMARK_NETWORK, bundle_without_mask
    from nvwa.models import blazepose_task_path

    with zipfile.ZipFile(io.BytesIO(bundle_without_mask(blazepose_task_path(None)))) as z:
        shipped = z.read(LANDMARK_NETWORK)
    calibration, scored = labelled_crops(Path(args.labels), Path(args.video))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "f32.tflite").write_bytes(float32_network(shipped))
        np.save(Path(tmp) / "calibration.npy", calibration)
        done = subprocess.run([args.quantizer_python, "-c", QUANTISE, *(str(Path(tmp) / n) for n in ("f32.tflite", "calibration.npy", "int8.tflite"))],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{args.quantizer_python}: quantising failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        int8 = (Path(tmp) / "int8.tflite").read_bytes()
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
    result = {
        "crops_calibration": len(calibration), "crops_scored": len(R),
        "ms_per_crop": ms, "speedup": ms["float"] / ms["int8"],
        "landmark_move_pct_of_height": {"int8_median": 100 * float(np.median(R[:, 0])), "int8_p90": 100 * float(np.percentile(R[:, 0], 90)),
                                        "shift_1p5px_median": 100 * float(np.median(R[:, 1])), "shift_1p5px_p90": 100 * float(np.percentile(R[:, 1], 90))},
        "presence_move_median": float(np.median(R[:, 2])),
        "landmarks_3d_move_mm": {"int8_median": 1000 * float(np.median(R[:, 3])), "shift_1p5px_median": 1000 * float(np.median(R[:, 4]))},
    }
    lm, w3 = result["landmark_move_pct_of_height"], result["landmarks_3d_move_mm"]
    print(f"int8 {ms['int8']:.2f} ms against float {ms['float']:.2f} ms a crop ({result['speedup']:.2f}x), {len(R)} labelled people scored, "
          f"{len(calibration)} calibrating")
    print(f"landmarks moved (% of height): int8 {lm['int8_median']:.2f} (p90 {lm['int8_p90']:.2f}); a 1.5-px shift {lm['shift_1p5px_median']:.2f} "
          f"(p90 {lm['shift_1p5px_p90']:.2f}); 3D landmarks {w3['int8_median']:.1f} against {w3['shift_1p5px_median']:.1f} mm; "
          f"presence {result['presence_move_median']:.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
