"""The one config tree of a run: every option a user can set, nested by stage, with units.

``PipelineConfig`` holds the sections below; the CLI's flags (``nvwa process --help``), the service's
job options (``JobOptions``) and settings (``NVWA_BODY_MODEL``...) are derived from its fields (see
:mod:`nvwa.options`). Options with a short flag are the everyday ones; every other field is an
advanced flag named by its place in the tree (``--tracking.detect-every 3``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nvwa.backends import BODY_MODELS, TRACKERS
from nvwa.body.blazepose import BlazePoseConfig
from nvwa.export import ExportConfig
from nvwa.occlusion import OcclusionConfig
from nvwa.options import option
from nvwa.reconstruct import ReconstructConfig
from nvwa.tracking.detector import DetectorConfig
from nvwa.tracking.proposals import HogConfig
from nvwa.tracking.sam3 import SAM3Config
from nvwa.tracking.tracker_config import TrackerConfig


@dataclass(frozen=True)
class VideoConfig:
    """Which frames the models see, and at what size."""

    max_side: int = option(1280, "downscale frames to this longer side before any model sees them", unit="px",
                           ge=64, le=4096, flag="", job=True)
    stride: int = option(1, "keep every n-th frame", ge=1, le=100, flag="", job=True)
    max_fps: float = option(30.0, "analyse at most this many frames a second: a faster video keeps every n-th frame, "
                            "the smallest whole n, a variable-rate one each stretch's own n (0: every frame)",
                            unit="frames/s", ge=0, le=1000, flag="", job=True)
    max_frames: int | None = option(None, "stop after this many kept frames (after --stride and --max-fps)", ge=1,
                                    le=10_000_000, flag="", job=True)
    start_s: float = option(0.0, "analyse from this time of the video on (one shot of an edited video, a moment of a "
                             "long one)", unit="s", ge=0, le=1e7, flag="--start", job=True)
    end_s: float | None = option(None, "analyse up to (not including) this time of the video", unit="s", gt=0, le=1e7,
                                 flag="--end", job=True)
    capture_fps: float = option(0.0, "the rate the camera filmed at, for a slow motion or a time-lapse that plays at "
                                "another (a phone's 240-fps slow motion saved to play at 30, as an iPhone shares it): the "
                                "scene then runs in real time. 0: as the file says (an Android phone's slow motion and "
                                "time-lapse say), else as it plays",
                                unit="frames/s", ge=0, le=100_000, flag="", job=True)
    rotate: str = option("auto", "turn the stored frames clockwise by 90, 180 or 270 degrees (0: as stored) before "
                         "anything looks at them; auto: as the file's display rotation asks, as players do (a phone's "
                         "upright video). For a video stored turned without saying so",
                         choices=("auto", "0", "90", "180", "270"), flag="", job=True)
    borders: str = option("auto", "black or blurred borders round the picture (a letterboxed film; a phone's portrait "
                          "video in a landscape frame, its sides black or its own picture blurred): auto cuts them off "
                          "before anything looks at the frames; keep analyses the whole frame",
                          choices=("auto", "keep"), flag="", job=True)
    repeated_frames: str = option("skip", "frames that show the picture before them again (a 24- or 25-fps film stored at "
                                  "30, a screen recording): skip analyses each picture once, at its first showing; keep "
                                  "analyses every frame", choices=("skip", "keep"), flag="", job=True)

    def stride_for(self, fps: float) -> int:
        """The frames kept at a steady ``fps``: every ``stride``-th, or fewer where ``max_fps`` asks (the smallest
        whole step that brings ``fps`` to at most ``max_fps``; 59.94 fps at 30 is every 2nd frame)."""
        from nvwa.video.thinning import frame_step

        return frame_step(fps, self.stride, self.max_fps)


@dataclass(frozen=True)
class ModelsConfig:
    """Which models run, and where their files are (a server sets these for every job)."""

    body_model: str = option("blazepose", "body model: blazepose (CPU) or sam3d_body (GPU, `nvwa models download`)",
                             choices=BODY_MODELS, flag="", setting="body_model")
    tracker: str = option("blazepose", "who finds and follows people: blazepose (CPU) or sam3 masklets (GPU; "
                          "needs --body-model sam3d_body)", choices=TRACKERS, flag="", setting="tracker")
    detector: str = option("yolox", "who proposes new people on the CPU path: yolox (YOLOX-Nano, `nvwa models fetch`) or "
                           "hog (OpenCV's HOG, nothing to fetch; finds fewer small and still people)",
                           choices=("yolox", "hog"), flag="", setting="detector")
    occlusion: bool = option(False, "amodal masks for hidden people (Diffusion-VAS; GPU, slow; needs --tracker sam3)",
                             flag="", setting="occlusion")
    models_dir: str | None = option(None, "where `nvwa models fetch` put the models (default $NVWA_MODELS_DIR or "
                                    "~/.local/share/nvwa/models)", flag="", setting="models_dir")
    checkpoints_dir: str | None = option(None, "the GPU checkpoints (default $NVWA_CHECKPOINTS_DIR or "
                                         "~/.local/share/nvwa/checkpoints)", flag="", setting="checkpoints_dir")


@dataclass(frozen=True)
class PipelineConfig:
    """Everything ``nvwa process`` does, by stage: the models' half (video, models, tracking, the body
    model, SAM 3, occlusion) and the reconstruction's (``reconstruct``: re-runnable from observations)."""

    video: VideoConfig = field(default_factory=VideoConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    tracking: TrackerConfig = field(default_factory=TrackerConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    hog: HogConfig = field(default_factory=HogConfig)
    blazepose: BlazePoseConfig = field(default_factory=BlazePoseConfig)
    sam3: SAM3Config = field(default_factory=SAM3Config)
    amodal: OcclusionConfig = field(default_factory=OcclusionConfig)
    reconstruct: ReconstructConfig = field(default_factory=ReconstructConfig)
    export: ExportConfig = field(default_factory=ExportConfig)


__all__ = ["PipelineConfig", "VideoConfig", "ModelsConfig"]
