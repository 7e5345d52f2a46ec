"""The canonical rig in motion: bones, rest pose, a rotation per joint per frame, the root's path."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial.transform import Rotation

from nvwa.rig.segments import Segments, in_chunks
from nvwa.rig.skeleton import REST_DIRECTIONS, forward_kinematics, global_quaternions, global_rotations, joints_from_global, rest_offsets


@dataclass(frozen=True)
class RigMotion:
    """The canonical rig over T frames. Its joints (forward kinematics) are computed once, on first
    use, and carried with it (read-only): every stage that needs them asks ``joints()``."""

    bone_lengths: np.ndarray = field(repr=False)  # (24,) m, parent -> joint; 0 for the pelvis
    local_rotations: np.ndarray = field(repr=False)  # (T, 24, 4) quaternions xyzw, relative to the parent
    root_position: np.ndarray = field(repr=False)  # (T, 3) m, pelvis position
    # (24, 3) unit rest direction of each bone: the canonical T-pose's, except where a joint carries
    # several bones (pelvis, spine3), whose spread is measured per person (the identity lock of shape)
    rest_directions: np.ndarray = field(default_factory=lambda: REST_DIRECTIONS.copy(), repr=False)
    _joints: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _global: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def joints(self) -> np.ndarray:
        """(T, 24, 3) m, by forward kinematics (once per motion; a new motion from ``moved`` starts afresh)."""
        if self._joints is None:
            j = forward_kinematics(self.local_rotations, self.root_position, self.bone_lengths, self.rest_directions)
            j.setflags(write=False)
            object.__setattr__(self, "_joints", j)
        return self._joints

    def global_quaternions(self) -> np.ndarray:
        """(T, 24, 4) each joint's global rotation (in the root's frame of reference) as a unit quaternion,
        its sign whatever the products give; once per motion, or as the rig fit that made it found them."""
        if self._global is None:
            g = in_chunks(global_quaternions, self.local_rotations, size=1024)
            g.setflags(write=False)
            object.__setattr__(self, "_global", g)
        return self._global

    def resized(self, factor: float) -> "RigMotion":
        """The same motion by a person ``factor`` times as large (bones and root path)."""
        return replace(self, bone_lengths=self.bone_lengths * factor, root_position=self.root_position * factor)

    def moved(self, local_rotations: np.ndarray | None = None, root_position: np.ndarray | None = None) -> "RigMotion":
        """The same person (bones, rest pose) with new rotations and/or root trajectory. Moving only the
        root carries already computed joints along (forward kinematics is linear in the root), and the
        global rotations."""
        out = replace(self, local_rotations=self.local_rotations if local_rotations is None else local_rotations,
                      root_position=self.root_position if root_position is None else root_position)
        if local_rotations is None and root_position is not None and self._joints is not None:
            out._carry(self._joints + (np.asarray(root_position) - self.root_position)[:, None])
        if local_rotations is None and self._global is not None:
            out._carry_global(self._global)  # the same rotations
        return out

    def in_frame(self, R: np.ndarray, t: np.ndarray) -> "RigMotion":
        """The motion seen in another frame x' = R x + t (R a rotation): the root moves and the root's
        rotation turns; every other rotation is relative to its parent and stays."""
        return in_frames([self], [R], [t])[0]

    def _carry(self, joints: np.ndarray) -> None:
        """Give this motion joints its caller computed exactly (what forward kinematics would give)."""
        joints.setflags(write=False)
        object.__setattr__(self, "_joints", joints)

    def _carry_global(self, quats: np.ndarray) -> None:
        """Give this motion the global rotations its local ones were made from (what
        :meth:`global_quaternions` would give, to rounding and sign)."""
        quats.setflags(write=False)
        object.__setattr__(self, "_global", quats)


def in_frames(motions: list[RigMotion], Rs: list[np.ndarray], ts: list[np.ndarray]) -> list[RigMotion]:
    """Each motion k seen in its frame x' = R_k x + t_k (:meth:`RigMotion.in_frame`), the root rotations of
    all of them turned in one call."""
    if not motions:
        return []
    people = Segments.of([m.root_position for m in motions])
    turned = Rotation.from_matrix(np.stack(Rs))[people.owner] * Rotation.from_quat(people.join([m.local_rotations[:, 0] for m in motions], (4,)))
    out = []
    for m, R, t, q in zip(motions, Rs, ts, people.split(turned.as_quat())):
        local = m.local_rotations.copy()
        local[:, 0] = q
        moved = replace(m, local_rotations=local, root_position=m.root_position @ R.T + t)
        if m._joints is not None:
            moved._carry(m._joints @ R.T + t)
        out.append(moved)
    return out


def carry_joints(motions: list[RigMotion], global_quats: list[np.ndarray | None] | None = None) -> None:
    """Forward kinematics of every motion that has not had it yet, in one pass over all their frames
    (its cost is per call more than per frame; pieces keep its temporaries small), each motion then
    carrying its own joints. ``global_quats``: per motion, its global rotations (T, 24, 4) where the
    caller has them (smoothing filters those): the tree's products are then not redone."""
    given = global_quats or [None] * len(motions)
    todo = [k for k, m in enumerate(motions) if m._joints is None and len(m.root_position)]
    for part in ([k for k in todo if given[k] is None], [k for k in todo if given[k] is not None]):
        if not part:
            continue
        pick = [motions[k] for k in part]
        people = Segments.of([m.root_position for m in pick])
        offsets = people.per_row(np.stack([rest_offsets(m.bone_lengths, m.rest_directions) for m in pick]))
        root = people.join([m.root_position for m in pick], (3,))
        if given[part[0]] is None:
            rotations, to_matrices = people.join([m.local_rotations for m in pick], (24, 4)), global_rotations
        else:
            rotations, to_matrices = people.join([given[k] for k in part], (24, 4)), _matrices
        joints = in_chunks(lambda q, r, o: joints_from_global(to_matrices(q), r, offsets=o), rotations, root, offsets)
        for m, j in zip(pick, people.split(joints)):
            m._carry(j)


def _matrices(quats: np.ndarray) -> np.ndarray:
    """(T, 24, 4) quaternions -> (T, 24, 3, 3) rotation matrices."""
    return Rotation.from_quat(quats.reshape(-1, 4)).as_matrix().reshape(quats.shape[:-1] + (3, 3))


__all__ = ["RigMotion", "carry_joints", "in_frames"]
