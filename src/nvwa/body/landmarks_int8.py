"""BlazePose's landmark network with its middle in int8, where that moves its poses no more than a 1.5-px
shift of the crop does.

The landmark network is most of a run's CPU (vtest: ~5,000 crops at ~9.5 ms). Quantised whole to int8
(ai-edge-quantizer's ``static_wi8_ai8``: weights per channel, activations per tensor) it runs 1.75x faster
but moves the landmarks 2.2% of the person's height, 2.6x what a 1.5-px shift moves them. Keeping layers in
float one block at a time showed where that error is made: in the first 15 operators (the stem, and the
full-resolution branch the heatmap reads: the landmarks' refinement) and in the last 30 (the heads; they
carry the 3D landmarks' error). With those two in float, and the graph's input and outputs (which the
quantizer also makes int8: the landmarks rounded to 1.3-px steps of the crop), the network runs 1.5x
faster, and its landmarks move 0.82% of height (a 1.5-px shift: 0.83%) and its 3D landmarks 12.5 mm (the
shift: 13.5 mm) on 836 tracked people's crops of vtest and Sports2D; ``bench/landmarks_int8.py`` scores it
on vtest's labelled people (0.85% against 0.87%, 1.47x).

It follows the people already tracked (``--blazepose.landmark-network int8``; ``auto``, the default, where
the CPU has int8 dot-product instructions, :func:`int8_dot_products`: without them it is no faster): most of
a run's crops. The float network keeps every first look and every decision (a candidate's probe, a person
just found, following one back, the upright look), a tracked person it would lose, people whose boxes
overlap another's (a crossing's crop holds both, and a small difference decides whom the pose takes: on
vtest the int8 network there moved a track onto the walker it crossed) and people under
``int8_min_px`` (a 32-px walker was lost for four frames).

The activations' ranges were calibrated once on real people (466 tracked crops of vtest and Sports2D, every
third of those ``bench/landmarks_int8.py --calibrate`` takes) and are kept in ``landmarks_int8_ranges.json``:
the int8 network is then made from the float one in ~1.5 s with no images, the same bytes on every machine
(its checksum is recorded beside it by ``nvwa models fetch``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np

QUANTIZER = "ai-edge-quantizer 0.10.0"  # pinned in pyproject.toml: the same bytes from the same ranges
RANGES = Path(__file__).with_name("landmarks_int8_ranges.json")
FLOAT_FIRST, FLOAT_LAST = 15, 30  # operators kept in float at each end of the network (see the docstring)
INT8_REWRITE = 1  # the version of the recipe a copy was made by (raise it when the recipe or the ranges change)


# CPU features with int8 dot products, which LiteRT's XNNPACK kernels use for int8 layers: /proc/cpuinfo's
# x86 flags (AVX-512 VNNI, AVX-VNNI, AMX) and Arm's "asimddp" (SDOT/UDOT)
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def int8_dot_products(cpuinfo: str | None = None, system: str | None = None, machine: str | None = None) -> bool:
    """Has this CPU int8 dot-product instructions? The int8 network ran 1.47x faster a crop on the twentieth
    session's machine (its CPU not recorded; XNNPACK's int8 kernels are built on these instructions), 0.92-0.95x
    on an AVX2-only AMD EPYC, where a whole run was 4% slower with it. ``cpuinfo``,
    ``system``, ``machine``: /proc/cpuinfo's text, platform.system() and platform.machine() (read here when
    not given). Linux: its flags; an Apple arm64 Mac: yes (every Apple chip has them); elsewhere: no (unknown)."""
    import platform

    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    if system == "Darwin":
        return machine == "arm64"
    value = _cpuinfo_field(("flags", "features"), cpuinfo if cpuinfo is not None else _cpuinfo() if system == "Linux" else "")
    return value is not None and bool(INT8_DOT_FLAGS & set(value.split()))  # the first processor's (they are alike)


def cpu_model() -> str:
    """The CPU's name as /proc/cpuinfo (else platform) gives it: for benchmarks to say what they ran on."""
    import platform

    return _cpuinfo_field(("model name",), _cpuinfo()) or platform.processor() or platform.machine()


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def _cpuinfo_field(keys: tuple[str, ...], cpuinfo: str) -> str | None:
    """The first processor's value of the first of its lines whose key (case aside) is one of ``keys``."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in keys:
            return value.strip()
    return None


def float32_network(model: bytes) -> bytes:
    """The network with its float16 weights folded to float32 (no DEQUANTIZE operators left, no tensor left
    unused: the quantizer leaves float16-weight layers alone) and a ``serving_default`` signature (the
    quantizer calibrates by signature)."""
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


@contextlib.contextmanager
def _quiet():
    """The quantizer prints progress bars and sizes; a run's output is the CLI's."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LiteRT's warning about the calibration's kept tensors
        yield


def _quantizer(f32: bytes):
    """ai-edge-quantizer on the float32 network, its recipe: int8 everywhere but the first ``FLOAT_FIRST`` and
    last ``FLOAT_LAST`` operators and the graph's own input and outputs (the quantizer's virtual operators
    for them: a crop's and the landmarks' values as they are, no rounding to int8 steps), each named by its
    scope (the quantizer's name for an operator: its output tensors' names, else its inputs', each followed by ';')."""
    from ai_edge_quantizer import quantizer, recipe
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils

    graph = tfl_flatbuffer_utils.read_model(f32).subgraphs[0]
    ops = graph.operators
    steps = recipe.static_wi8_ai8()
    for op in [*ops[:FLOAT_FIRST], *ops[len(ops) - FLOAT_LAST:], *tfl_flatbuffer_utils.get_subgraph_input_output_operators(graph)]:
        keep = copy.deepcopy(steps[0])
        keep.update(regex="^" + re.escape(tfl_flatbuffer_utils.get_op_scope(op, graph.tensors)) + "$", algorithm_key="no_quantize")
        steps.append(keep)  # a later entry wins over the first one's ".*"
    q = quantizer.Quantizer(f32)
    q.load_quantization_recipe(steps)
    return q


def calibrated_ranges(model: bytes, crops: np.ndarray) -> dict:
    """The activations' ranges of the network (as a bundle holds it) on ``crops`` (N, 256, 256, 3) uint8 RGB,
    as :data:`RANGES` keeps them: {tensor scope: {"min": nested list, "max": nested list}}."""
    q = _quantizer(float32_network(model))
    with _quiet():
        found = q.calibrate({"serving_default": [{"input": c[None].astype(np.float32) / 255.0} for c in crops]})
    return {name: {k: np.asarray(v, np.float32).tolist() for k, v in qsv.items()} for name, qsv in sorted(found.items())}


def int8_network(model: bytes, ranges: dict | None = None) -> bytes:
    """The landmark network (as a bundle holds it; the blank-mask one is what runs) with its middle in int8,
    quantised with ``ranges`` (default: :data:`RANGES`). Same inputs and outputs, float32, as the network's."""
    if ranges is None:
        ranges = json.loads(RANGES.read_text())["ranges"]
    q = _quantizer(float32_network(model))
    with _quiet():
        done = q.quantize({name: {k: np.asarray(v, np.float32) for k, v in qsv.items()} for name, qsv in ranges.items()})
    return bytes(done.quantized_model)


def int8_network_for(task_path: str | Path, bundle: bytes) -> bytes:
    """The int8 network for the BlazePose bundle at ``task_path`` (``bundle``: its bytes without the mask, as
    :func:`nvwa.body.landmarks.bundle_without_mask` gives them): the copy ``nvwa models fetch`` wrote beside
    it where that is verified (:func:`nvwa.models.store.made_from_bundle`), else made now (~1.5 s)."""
    import zipfile

    from nvwa.body.landmarks import LANDMARK_NETWORK
    from nvwa.models.store import int8_network_name, made_from_bundle

    made = made_from_bundle(task_path, int8_network_name(Path(task_path)), INT8_REWRITE) if task_path else None
    if made is not None:
        return made
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        return int8_network(z.read(LANDMARK_NETWORK))
