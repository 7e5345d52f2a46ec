"""Synthetic scenes with exact kinematics (joints_world = forward kinematics of the rotations): for
tests, benchmarks and trying the exporters and the viewer without a video."""

from __future__ import annotations

import numpy as np


def synthetic_person(pid: int, T: int, *, fps: float = 30.0, t0: float = 0.0, seed: int = 0):
    """A PersonMotion walking a circle with every joint swinging (exact FK: joints_world = FK(rotations))."""
    from scipy.spatial.transform import Rotation

    from nvwa.rig.skeleton import REST_DIRECTIONS, forward_kinematics
    from nvwa.scene.schema import PersonMotion

    rng = np.random.default_rng(seed)
    t = t0 + np.arange(T) / fps
    lengths = np.array([0, .1, .1, .12, .42, .42, .14, .41, .41, .06, .14, .14, .22, .08, .08, .1, .13, .13,
                        .27, .27, .25, .25, .08, .08])
    rv = 0.4 * np.sin(2 * np.pi * (t[:, None, None] * 0.8 + rng.uniform(0, 1, (1, 24, 3))))
    rv[:, 0] = np.array([0.0, 1.0, 0.0]) * (0.3 * t[:, None])
    q = Rotation.from_rotvec(rv.reshape(-1, 3)).as_quat().reshape(T, 24, 4)
    root = np.stack([np.sin(t) * 2 + pid, 0.95 + 0.02 * np.sin(5 * t), np.cos(t)], 1)
    joints = forward_kinematics(q, root, lengths, REST_DIRECTIONS)
    contact = np.zeros((T, 2), bool)
    return PersonMotion(pid, "blazepose33", np.arange(T) + int(round(t0 * fps)), t, joints, joints, root, q, lengths,
                        REST_DIRECTIONS.copy(), np.ones((T, 24)), np.zeros((T, 33, 2)), np.zeros((T, 33)), contact)


def synthetic_scene(people, fps: float = 30.0):
    """A Scene around ``people`` with a 640x480 camera 2 m up, looking down 10 degrees."""
    from scipy.spatial.transform import Rotation

    from nvwa.scene.schema import Scene

    K = np.array([[800.0, 0, 320], [0, 800, 240], [0, 0, 1]])
    R = Rotation.from_euler("x", 170, degrees=True).as_matrix()  # camera y ~down, z forward and 10 deg down
    return Scene({"path": "/videos/clip.mp4", "width": 640, "height": 480, "fps": fps, "frame_count": 0,
                  "duration_s": 0.0, "codec": "h264"}, K, R, np.array([0.0, 2.0, 5.0]),
                 {"normal_cam": R.T @ np.array([0, 1.0, 0]), "offset": 2.0, "method": "ransac"}, tuple(people))
