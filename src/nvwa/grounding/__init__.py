"""Grounding stage: one floor for everyone, gravity along -Y, floor at Y=0, the camera's pose in the world."""

from nvwa.grounding.floor import Floor, contact_mask, fit_floor, world_from_camera

__all__ = ["Floor", "contact_mask", "fit_floor", "world_from_camera"]
