"""Phase 3a, foot contacts: which foot is on the ground when, in the world frame (floor at Y=0).

A foot enters contact when it is low and slow, and leaves it only when clearly high or fast: two
thresholds per quantity (hysteresis), so a contact does not flicker on and off with noise. A jump's
flight has both feet high, hence no contact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvwa.runs import true_runs

@dataclass(frozen=True)
class ContactConfig:
    # tuned on bench/motion_quality.py: feet left after smoothing still carry a few cm of noise
    enter_height: float = 0.05  # m above the floor: low enough to start a contact
    leave_height: float = 0.08  # m: a contact ends above this
    enter_speed: float = 1.0  # m/s: slow enough to start a contact
    leave_speed: float = 1.3  # m/s: a contact ends faster than this
    lower_foot_margin: float = 0.1  # m: a foot higher than the other by more than this does not start a contact
    min_duration_s: float = 0.06  # shorter contacts are noise
    speed_window_s: float = 0.08  # s each side: the baseline the speed is measured over


def _foot_speed(p: np.ndarray, t: np.ndarray, half_window_s: float) -> np.ndarray:
    """p (T, 3), t (T,) -> (T,) speed (m/s, vertical included: a foot lifting off is not planted),
    measured across +-half_window_s: over a wider baseline than one frame, frame-to-frame noise left
    in the feet weighs much less."""
    T = len(p)
    if T < 2:
        return np.zeros(T)
    a = np.clip(np.searchsorted(t, t - half_window_s, side="left"), 0, T - 1)
    b = np.clip(np.searchsorted(t, t + half_window_s, side="right") - 1, 0, T - 1)
    a = np.where(a == b, np.maximum(a - 1, 0), a)
    b = np.where(a == b, np.minimum(b + 1, T - 1), b)
    return np.linalg.norm(p[b] - p[a], axis=1) / np.maximum(t[b] - t[a], 1e-6)


def detect_contacts(foot_points: np.ndarray, t: np.ndarray, config: ContactConfig = ContactConfig()) -> np.ndarray:
    """foot_points (T, F, 3) world metres (the lowest point of each foot), t (T,) s -> (T, F) bool."""
    T, F, _ = foot_points.shape
    contact = np.zeros((T, F), dtype=bool)
    lowest = foot_points[:, :, 1].min(axis=1)
    for f in range(F):
        p = foot_points[:, f]
        h = p[:, 1]
        v = _foot_speed(p, t, config.speed_window_s)
        # the supporting foot is the lower one: a swing foot skimming the floor is above the stance foot
        lower = h <= lowest + config.lower_foot_margin
        stay = (h <= config.leave_height) & (v <= config.leave_speed)
        enter = (h <= config.enter_height) & (v <= config.enter_speed) & lower
        contact[:, f] = _hysteresis(enter, stay)
        _drop_short(contact[:, f], t, config.min_duration_s)
    return contact


def _hysteresis(enter: np.ndarray, stay: np.ndarray) -> np.ndarray:
    """(T,) on/off where a frame turns on when ``enter`` and, once on, stays on while ``stay``. Where
    every enter frame can also stay (the thresholds nest, as they should), a frame is on exactly when
    an enter frame came after the last frame that could not stay: no loop over frames."""
    if (enter & ~stay).any():  # thresholds that do not nest: the state machine itself
        out, on = np.zeros(len(enter), dtype=bool), False
        for i in range(len(enter)):
            on = bool(stay[i]) if on else bool(enter[i])
            out[i] = on
        return out
    idx = np.arange(len(enter))
    last_enter = np.maximum.accumulate(np.where(enter, idx, -1)) if len(idx) else idx
    last_break = np.maximum.accumulate(np.where(~stay, idx, -1)) if len(idx) else idx
    return stay & (last_enter > last_break)


def _drop_short(c: np.ndarray, t: np.ndarray, min_s: float) -> None:
    for a, b in contact_segments(c):
        span = (t[b - 1] - t[a]) if b - 1 > a else 0.0
        if span < min_s and b - a < 2:
            c[a:b] = False


contact_segments = true_runs  # (T,) bool -> [(start, stop)) of consecutive contact frames
