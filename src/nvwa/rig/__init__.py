"""Rig stage: any keypoint set -> one canonical humanoid skeleton (SMPL-24 joints, names and order)."""

from nvwa.rig.skeleton import SMPL24_NAMES, SMPL24_PARENTS, forward_kinematics, rest_offsets
from nvwa.rig.fit import RigTargets, fit_rig, fit_rigs, lock_bone_lengths
from nvwa.rig.motion import RigMotion

__all__ = ["SMPL24_NAMES", "SMPL24_PARENTS", "forward_kinematics", "rest_offsets", "RigMotion", "RigTargets", "fit_rig", "fit_rigs", "lock_bone_lengths"]
