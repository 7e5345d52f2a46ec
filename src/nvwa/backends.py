"""The models behind the pipeline's stages, chosen by name and loaded once: the embedded BlazePose (CPU) or
the GPU path's SAM 3D Body, SAM 3 and Diffusion-VAS. Upstream packages are imported only when chosen;
GPU checkpoints come verified from `nvwa models download` (nothing here downloads)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from nvwa.errors import InputError

BODY_MODELS = ("blazepose", "sam3d_body")
TRACKERS = ("blazepose", "sam3")


def load_body(models_dir: str | None = None, body_model: str = "blazepose", checkpoints_dir: str | None = None,
              device: str = "cuda", blazepose=None):
    """The body model, loaded once to be shared (pipelines and service jobs take it as ``body``):
    the embedded BlazePose from ``models_dir`` (None: $NVWA_MODELS_DIR or ./models), or SAM 3D Body
    from ``checkpoints_dir`` (None: $NVWA_CHECKPOINTS_DIR or ./checkpoints; `nvwa models download`)."""
    if body_model == "sam3d_body":
        from nvwa.body.sam3d_body import SAM3DBodyBackend
        from nvwa.models import checkpoint_path

        name = "sam-3d-body-dinov3"
        return SAM3DBodyBackend(str(checkpoint_path(name, "model.ckpt", checkpoints_dir)),
                                str(checkpoint_path(name, "assets/mhr_model.pt", checkpoints_dir)), device=device)
    if body_model != "blazepose":
        raise InputError(f"body_model={body_model!r}", f"unknown body model; choose one of {', '.join(BODY_MODELS)}")
    from nvwa.body.blazepose import BlazePoseBody, BlazePoseConfig
    from nvwa.models import blazepose_task_path

    return BlazePoseBody(replace(blazepose or BlazePoseConfig(), task_path=str(blazepose_task_path(models_dir))))


def load_tracker(tracker: str = "blazepose", checkpoints_dir: str | None = None, sam3=None):
    """The masklet tracker for ``tracker="sam3"`` (None for the embedded tracker, which is built per
    video around the body model)."""
    if tracker == "blazepose":
        return None
    if tracker != "sam3":
        raise InputError(f"tracker={tracker!r}", f"unknown tracker; choose one of {', '.join(TRACKERS)}")
    from nvwa.models import checkpoint_path
    from nvwa.tracking.sam3 import SAM3Config, SAM3Tracker, default_bpe_path

    return SAM3Tracker(str(checkpoint_path("sam3", "sam3.pt", checkpoints_dir)), default_bpe_path(), config=sam3 or SAM3Config())


def load_occlusion(checkpoints_dir: str | None = None, config=None):
    """The occlusion stage on Diffusion-VAS (GPU path, slow: off unless asked for); ``config``: an OcclusionConfig."""
    from nvwa.models import checkpoint_path
    from nvwa.models.gated import checkpoint_dir
    from nvwa.occlusion import DiffusionVASAmodal, OcclusionConfig, OcclusionHandler

    amodal = DiffusionVASAmodal(str(checkpoint_dir("diffusion-vas-amodal", checkpoints_dir)),
                                str(checkpoint_path("depth-anything-v2-large", "depth_anything_v2_vitl.pth", checkpoints_dir)))
    config = config or OcclusionConfig()
    if config.complete_content:
        raise InputError("amodal.complete_content", "content completion is not wired to a model yet; use amodal masks only")
    return OcclusionHandler(amodal, config)


@dataclass
class Models:
    """The models a pipeline runs, loaded once and shared by every video (a service job slot holds one)."""

    body: Any
    tracker: Any = None  # a masklet tracker (SAM 3); None: the embedded tracker around the body model
    occlusion: Any = None

    def close(self) -> None:
        getattr(self.body, "close", lambda: None)()


def load_models(config) -> Models:
    """Every model a PipelineConfig asks for: body, tracker and occlusion stage, each with its section."""
    m = config.models
    return Models(load_body(m.models_dir, m.body_model, m.checkpoints_dir, blazepose=config.blazepose),
                  load_tracker(m.tracker, m.checkpoints_dir, config.sam3),
                  load_occlusion(m.checkpoints_dir, config.amodal) if m.occlusion else None)
