"""Model files: where they live, how they are fetched (by an explicit command only), and their checksums."""

from nvwa.models.store import default_models_dir, blazepose_task_path

__all__ = ["default_models_dir", "blazepose_task_path"]
