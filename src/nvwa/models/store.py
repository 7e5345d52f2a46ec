"""Where model files are cached and how they are verified.

Nothing here touches the network. The models live in ``$NVWA_MODELS_DIR`` or, by default, in the
user's data directory (``$XDG_DATA_HOME/nvwa/models``, i.e. ``~/.local/share/nvwa/models``), so every
command finds them from any working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from nvwa.errors import ModelMissingError

BLAZEPOSE_TASK = "pose_landmarker_full.task"
FETCH_COMMAND = "nvwa models fetch"


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/nvwa`` (default ``~/.local/share/nvwa``): Nvwa's files for this user."""
    base = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(base).expanduser() / "nvwa"


def default_models_dir() -> Path:
    """``$NVWA_MODELS_DIR``, else ``<user data dir>/models``."""
    env = os.environ.get("NVWA_MODELS_DIR")
    return Path(env).expanduser() if env else user_data_dir() / "models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_path(models_dir: Path) -> Path:
    return models_dir / "manifest.json"


def read_manifest(models_dir: Path) -> dict:
    p = manifest_path(models_dir)
    if not p.exists():
        return {}
    return json.loads(p.read_text())


def record_in_manifest(models_dir: Path, name: str, entry: dict) -> None:
    manifest = read_manifest(models_dir)
    manifest[name] = entry
    tmp = manifest_path(models_dir).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, manifest_path(models_dir))


def blazepose_task_path(models_dir: str | os.PathLike | None = None, *, verify: bool = True) -> Path:
    """The verified BlazePose Tasks bundle, or :class:`ModelMissingError` naming the fetch command."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    path = models_dir / BLAZEPOSE_TASK
    if not path.exists():
        raise ModelMissingError(
            f"{path}: BlazePose model not found; run `{FETCH_COMMAND}` (or `{FETCH_COMMAND} --task FILE`) first"
        )
    if verify:
        expected = read_manifest(models_dir).get(BLAZEPOSE_TASK, {}).get("sha256")
        if expected is None:
            raise ModelMissingError(f"{path}: not recorded in {manifest_path(models_dir)}; run `{FETCH_COMMAND}` again")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelMissingError(
                f"{path}: checksum {actual[:12]}... does not match the recorded {expected[:12]}...; run `{FETCH_COMMAND}` again"
            )
    return path


BLANK_MASK_REWRITE = 1  # the version of the rewrite a maskless copy was made by (raise it when the rewrite changes)


def blank_mask_name(task_path: Path) -> str:
    """The name of a BlazePose bundle's copy without its segmentation mask, beside it."""
    return Path(task_path).stem + ".blank_mask.task"


def blank_mask_task_bytes(task_path: str | os.PathLike) -> bytes | None:
    """The copy of the bundle at ``task_path`` whose network draws no mask, as ``nvwa models fetch`` wrote
    it beside that bundle (:func:`made_from_bundle`), or None (then it is made in memory)."""
    return made_from_bundle(task_path, blank_mask_name(task_path), BLANK_MASK_REWRITE)


def int8_network_name(task_path: Path) -> str:
    """The name of the landmark network with its middle in int8 (:mod:`nvwa.body.landmarks_int8`), made
    from a BlazePose bundle, beside it."""
    return Path(task_path).stem + ".landmarks_int8.tflite"


def made_from_bundle(task_path: str | os.PathLike, name: str, rewrite: int) -> bytes | None:
    """A file ``nvwa models fetch`` made from the bundle at ``task_path`` and wrote beside it as ``name``:
    its bytes where its folder's manifest records it as made from this very bundle (checksum) by this
    version (``rewrite``) of what made it and the file still matches its own recorded checksum; else None."""
    task_path = Path(task_path)
    copy = task_path.parent / name
    if not copy.exists():
        return None
    try:
        entry = read_manifest(task_path.parent).get(copy.name, {})
    except (ValueError, AttributeError, OSError):  # a manifest that is not ours to read: no copy
        return None
    if not isinstance(entry, dict) or entry.get("rewrite") != rewrite or not entry.get("sha256") \
            or entry.get("source_sha256") != sha256_file(task_path):
        return None
    data = copy.read_bytes()
    return data if hashlib.sha256(data).hexdigest() == entry["sha256"] else None


HUMAN_BODY = "human_body.npz"


def human_body_path(models_dir: str | os.PathLike | None = None) -> Path:
    """The verified human body asset (``nvwa models fetch`` builds it), or :class:`ModelMissingError`
    naming the command."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    path = models_dir / HUMAN_BODY
    if not path.exists():
        raise ModelMissingError(f"{path}: human body asset not found; run `{FETCH_COMMAND}` (or use --body capsule)")
    expected = read_manifest(models_dir).get(HUMAN_BODY, {}).get("sha256")
    if expected is None or sha256_file(path) != expected:
        raise ModelMissingError(f"{path}: not the asset `{FETCH_COMMAND}` recorded (checksum); run `{FETCH_COMMAND} --force`")
    return path


PERSON_DETECTOR = "person_detector.onnx"
PERSON_DETECTOR_ANY_CANVAS = "person_detector.any_canvas.onnx"  # the same network, its declared canvas size freed
PERSON_DETECTOR_NOTICE = "person_detector.NOTICE.txt"


def person_detector_path(models_dir: str | os.PathLike | None = None) -> Path:
    """The verified YOLOX-Nano person detector (``nvwa models fetch`` takes it), or
    :class:`ModelMissingError` naming the command."""
    from nvwa.models.fetch import DETECTOR_SHA256

    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    path = models_dir / PERSON_DETECTOR
    if not path.exists():
        raise ModelMissingError(f"{path}: person detector not found; run `{FETCH_COMMAND}` (or use --detector hog)")
    if read_manifest(models_dir).get(PERSON_DETECTOR, {}).get("sha256") != DETECTOR_SHA256 or sha256_file(path) != DETECTOR_SHA256:
        raise ModelMissingError(f"{path}: not the pinned YOLOX-Nano (checksum); run `{FETCH_COMMAND} --force`")
    return path


def any_canvas_detector_path(models_dir: str | os.PathLike | None = None) -> Path | None:
    """The person detector with its declared canvas size freed, as ``nvwa models fetch`` wrote it beside
    the pinned file (checked against the checksum it recorded, and recorded as made from the pinned
    file), or None (then it is made in memory)."""
    from nvwa.models.fetch import DETECTOR_SHA256

    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    path = models_dir / PERSON_DETECTOR_ANY_CANVAS
    entry = read_manifest(models_dir).get(PERSON_DETECTOR_ANY_CANVAS, {})
    made_from_pinned = entry.get("source_sha256") == DETECTOR_SHA256  # not a copy of some other network
    return path if path.exists() and made_from_pinned and entry.get("sha256") and sha256_file(path) == entry["sha256"] else None

