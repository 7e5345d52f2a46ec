"""Model files: where they live, how they are fetched (by an explicit command only), and their checksums."""

from nvwa.models.gated import GATED_MODELS, checkpoint_dir, checkpoint_path, default_checkpoints_dir
from nvwa.models.store import blazepose_task_path, default_models_dir

__all__ = ["GATED_MODELS", "blazepose_task_path", "checkpoint_dir", "checkpoint_path", "default_checkpoints_dir",
           "default_models_dir"]
