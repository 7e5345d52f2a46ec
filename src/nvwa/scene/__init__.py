"""The scene: every person in one world frame, the camera, timestamps; saved as NPZ + a JSON summary."""

from nvwa.scene.schema import SCENE_VERSION, PersonMotion, Scene, atomic_write, load_scene, read_scene, save_scene

__all__ = ["SCENE_VERSION", "PersonMotion", "Scene", "atomic_write", "load_scene", "read_scene", "save_scene"]
