"""One config tree: the CLI's flags, the service's job options and settings all come from PipelineConfig's
fields, with the same names, defaults, bounds and choices."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from nvwa.backends import BODY_MODELS, TRACKERS
from nvwa.cli import _parser
from nvwa.config import PipelineConfig
from nvwa.options import build, flatten, from_arguments, leaves
from nvwa.service.jobs import JobOptions, ReconstructRequest
from nvwa.service.settings import Settings
from nvwa.smoothing import SMOOTHING_PRESETS


def _process_args(*argv):
    return _parser().parse_args(["process", "clip.mp4", *argv])


def test_every_option_of_the_tree_is_a_flag_of_process_and_flags_are_unique():
    flags = [f for leaf in leaves(PipelineConfig) for f in leaf.flags]
    assert len(flags) == len(set(flags)), "two options share a flag"
    text = _parser()._subparsers._group_actions[0].choices["process"].format_help()
    missing = [f for f in flags if f not in text]
    assert not missing
    # every advanced option has words, not just a name: its field's comment in the dataclass
    assert all(leaf.describe() for leaf in leaves(PipelineConfig))


def test_flags_set_the_tree_and_unset_ones_keep_its_defaults():
    config = from_arguments(PipelineConfig, _process_args("--max-side", "640", "--focal", "812.5", "--smoothing", "fast",
                                                          "--tracking.detect-every", "3", "--blazepose.crop-margin", "1.8",
                                                          "--hog.min-score", "0.5", "--sam3.prompt", "dancer",
                                                          "--body-model", "sam3d_body", "--occlusion"))
    assert config.video.max_side == 640 and config.video.stride == 1
    assert config.reconstruct.focal_px == 812.5 and config.reconstruct.smoothing == "fast"
    assert config.tracking.detect_every == 3 and config.tracking.gate_iou == PipelineConfig().tracking.gate_iou
    assert config.blazepose.crop_margin == 1.8 and config.hog.min_score == 0.5 and config.sam3.prompt == "dancer"
    assert config.models.body_model == "sam3d_body" and config.models.occlusion is True
    assert from_arguments(PipelineConfig, _process_args()) == PipelineConfig()


@pytest.mark.parametrize("argv, words", [
    (["--max-side", "10"], "must be >= 64"),
    (["--focal", "nan"], "finite"),
    (["--focal", "-3"], "must be > 0"),
    (["--stride", "two"], "not an int"),
    (["--smoothing", "silky"], "invalid choice"),
    (["--tracker", "yolo"], "invalid choice"),
    (["--tracking.detect-every", "1.5"], "not an int"),
    (["--capture-fps", "-240"], "must be >= 0"),
    (["--capture-fps", "nan"], "finite"),
])
def test_a_bad_flag_is_one_line_naming_it(argv, words):
    r = subprocess.run([sys.executable, "-m", "nvwa", "process", "clip.mp4", *argv], capture_output=True, text=True)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert argv[0] in last and words in last


def test_job_options_have_the_cli_bounds_and_choices(monkeypatch):
    for name in ("NVWA_MODELS_DIR", "NVWA_CHECKPOINTS_DIR"):  # a developer's own (the Makefile honours it) is a setting
        monkeypatch.delenv(name, raising=False)
    assert JobOptions().pipeline_config(Settings()) == PipelineConfig()
    for bad in ({"max_side": 10}, {"stride": 0}, {"focal_px": 0}, {"max_frames": 0}, {"smoothing": "silky"},
                {"tracking": {"detect_every": 3}}, {"focal_px": float("inf")}, {"camera": "tripod"},
                {"film_cadence": "24"}):
        with pytest.raises(ValidationError):
            JobOptions(**bad)
    schema = JobOptions.model_json_schema()["properties"]
    assert set(schema["smoothing"]["enum"]) == set(SMOOTHING_PRESETS)
    assert schema["max_side"]["minimum"] == 64 and schema["max_side"]["maximum"] == 4096
    config = JobOptions(max_side=640, focal_px=900, smoothing="quality").pipeline_config(Settings())
    assert (config.video.max_side, config.reconstruct.focal_px, config.reconstruct.smoothing) == (640, 900, "quality")
    # a reconstruct request only carries the options that act after the models
    assert set(ReconstructRequest.model_fields) == {"exports", "smoothing", "focal_px", "camera", "film_cadence"}
    assert ReconstructRequest(smoothing="fast").focal_px is None


def test_settings_choose_the_models_with_the_registries_choices(monkeypatch):
    monkeypatch.setenv("NVWA_BODY_MODEL", "sam3d_body")
    monkeypatch.setenv("NVWA_TRACKER", "sam3")
    monkeypatch.setenv("NVWA_CHECKPOINTS_DIR", "/ckpt")
    config = JobOptions(stride=2).pipeline_config(Settings())
    assert config.models.body_model == "sam3d_body" and config.models.tracker == "sam3"
    assert config.models.checkpoints_dir == "/ckpt" and config.video.stride == 2
    monkeypatch.setenv("NVWA_BODY_MODEL", "smpl")
    with pytest.raises(ValidationError, match="body_model"):
        Settings()
    props = Settings.model_json_schema()["properties"]
    assert set(props["body_model"]["enum"]) == set(BODY_MODELS) and set(props["tracker"]["enum"]) == set(TRACKERS)


def test_build_refuses_an_unknown_option_and_flatten_round_trips():
    with pytest.raises(KeyError, match="tracking.detect_evry"):
        build(PipelineConfig, {"tracking.detect_evry": 3})
    config = build(PipelineConfig, {"tracking.detect_every": 3, "reconstruct.K": "1,1,0,0"})
    assert build(PipelineConfig, flatten(config)) == config


def test_the_body_model_runs_with_the_options_given(models_dir):
    """An advanced flag reaches the model: the landmark threads and the crop margin the run uses."""
    from nvwa.pipeline import Pipeline

    args = _process_args("--models-dir", str(models_dir), "--blazepose.threads", "1",
                         "--blazepose.crop-margin", "1.7")
    pipe = Pipeline(from_arguments(PipelineConfig, args))
    try:
        assert pipe.body.config.threads == 1 and pipe.body.config.crop_margin == 1.7
        assert pipe.body.config.task_path.endswith(".task")
    finally:
        pipe.close()
