"""Model store: a missing or tampered model is one clear message naming the fetch command."""

import shutil
import zipfile

import pytest

from nvwa.errors import ModelMissingError, NvwaError
from nvwa.models import blazepose_task_path
from nvwa.models.fetch import check_task_bundle, fetch_blazepose
from nvwa.models.store import BLAZEPOSE_TASK


def test_missing_model_names_the_fetch_command(tmp_path):
    with pytest.raises(ModelMissingError, match="nvwa models fetch"):
        blazepose_task_path(tmp_path)


def test_tampered_model_fails_its_checksum(tmp_path, models_dir):
    shutil.copy(models_dir / BLAZEPOSE_TASK, tmp_path / BLAZEPOSE_TASK)
    shutil.copy(models_dir / "manifest.json", tmp_path / "manifest.json")
    assert blazepose_task_path(tmp_path) == tmp_path / BLAZEPOSE_TASK
    with open(tmp_path / BLAZEPOSE_TASK, "r+b") as f:
        f.seek(1000)
        f.write(b"\xff\xfe")
    with pytest.raises(ModelMissingError, match="checksum .* `nvwa models fetch`"):
        blazepose_task_path(tmp_path)


def test_user_supplied_bundle_is_checked_and_recorded(tmp_path, models_dir):
    out = fetch_blazepose(tmp_path / "m", task=models_dir / BLAZEPOSE_TASK)
    assert blazepose_task_path(tmp_path / "m") == out


def test_a_zip_without_the_pose_models_is_refused(tmp_path):
    bad = tmp_path / "bad.task"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(NvwaError, match="lacks"):
        check_task_bundle(bad)
    text = tmp_path / "text.task"
    text.write_text("not a zip")
    with pytest.raises(NvwaError, match="not a MediaPipe .task bundle"):
        check_task_bundle(text)


def test_import_nvwa_stays_light():
    import subprocess
    import sys

    code = "import sys, nvwa, nvwa.pipeline, nvwa.cli; print(sorted(m for m in ('mediapipe','torch','boto3','sam3') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
