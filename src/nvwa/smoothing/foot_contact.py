"""Phase 3a, foot contacts: which foot is on the ground when, in the world frame (floor at Y=0).

A foot enters contact when it is low and slow, and leaves it only when clearly high or fast: two
thresholds per quantity (hysteresis), so a contact does not flicker on and off with noise. A jump's
flight has both feet high, hence no contact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ContactConfig:
    enter_height: float = 0.08  # m above the floor: low enough to start a contact
    leave_height: float = 0.12  # m: a contact ends above this
    enter_speed: float = 1.5  # m/s horizontal: slow enough to start a contact (smoothed feet lag, so generous)
    leave_speed: float = 2.2  # m/s: a contact ends faster than this
    lower_foot_margin: float = 0.03  # m: a foot higher than the other by more than this does not start a contact
    min_duration_s: float = 0.06  # shorter contacts are noise


def _horizontal_speed(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """p (T, 3), t (T,) -> (T,) central-difference speed in the XZ plane (m/s)."""
    T = len(p)
    if T < 2:
        return np.zeros(T)
    v = np.zeros(T)
    d = np.linalg.norm(np.diff(p[:, [0, 2]], axis=0), axis=1) / np.maximum(np.diff(t), 1e-6)
    v[0], v[-1] = d[0], d[-1]
    v[1:-1] = (d[:-1] + d[1:]) / 2
    return v


def detect_contacts(foot_points: np.ndarray, t: np.ndarray, config: ContactConfig = ContactConfig()) -> np.ndarray:
    """foot_points (T, F, 3) world metres (the lowest point of each foot), t (T,) s -> (T, F) bool."""
    T, F, _ = foot_points.shape
    contact = np.zeros((T, F), dtype=bool)
    lowest = foot_points[:, :, 1].min(axis=1)
    for f in range(F):
        p = foot_points[:, f]
        h = p[:, 1]
        v = _horizontal_speed(p, t)
        # the supporting foot is the lower one: a swing foot skimming the floor is above the stance foot
        lower = h <= lowest + config.lower_foot_margin
        on = False
        for i in range(T):
            if on:
                on = h[i] <= config.leave_height and v[i] <= config.leave_speed
            else:
                on = h[i] <= config.enter_height and v[i] <= config.enter_speed and lower[i]
            contact[i, f] = on
        _drop_short(contact[:, f], t, config.min_duration_s)
    return contact


def _drop_short(c: np.ndarray, t: np.ndarray, min_s: float) -> None:
    for a, b in contact_segments(c):
        span = (t[b - 1] - t[a]) if b - 1 > a else 0.0
        if span < min_s and b - a < 2:
            c[a:b] = False


def contact_segments(c: np.ndarray) -> list[tuple[int, int]]:
    """(T,) bool -> [(start, stop)) index ranges of consecutive True."""
    edges = np.diff(np.concatenate([[0], c.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))
