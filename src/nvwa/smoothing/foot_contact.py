"""Phase 3a, foot contacts: which foot is on the ground when, in the world frame (floor at Y=0).

A foot enters contact when it is low and slow, and leaves it only when clearly high or fast: two
thresholds per quantity (hysteresis), so a contact does not flicker on and off with noise. A jump's
flight has both feet high, hence no contact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvwa.rig.segments import Segments
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


def _foot_speed(p: np.ndarray, t: np.ndarray, half_window_s: float, people: Segments) -> np.ndarray:
    """p (N, 3), t (N,) of everyone's frames end to end -> (N,) speed (m/s, vertical included: a foot
    lifting off is not planted), measured across +-half_window_s within each person: over a wider
    baseline than one frame, frame-to-frame noise left in the feet weighs much less."""
    # the window's ends searched for in everyone's frames at once: keys (person, time), which numpy
    # orders as complex numbers do (real part first), so no search crosses into another person
    keys = people.owner + 1j * t
    first, last = people.starts[people.owner], people.stops[people.owner] - 1
    a = np.clip(np.searchsorted(keys, people.owner + 1j * (t - half_window_s), side="left"), first, last)
    b = np.clip(np.searchsorted(keys, people.owner + 1j * (t + half_window_s), side="right") - 1, first, last)
    a = np.where(a == b, np.maximum(a - 1, first), a)
    b = np.where(a == b, np.minimum(b + 1, last), b)
    v = np.linalg.norm(p[b] - p[a], axis=1) / np.maximum(t[b] - t[a], 1e-6)
    return np.where(people.per_row(people.lengths) < 2, 0.0, v)


def detect_contacts(foot_points: np.ndarray, t: np.ndarray, config: ContactConfig = ContactConfig()) -> np.ndarray:
    """foot_points (T, F, 3) world metres (the lowest point of each foot), t (T,) s -> (T, F) bool."""
    return detect_contacts_many(np.asarray(foot_points, dtype=np.float64), np.asarray(t, dtype=np.float64),
                                Segments([len(foot_points)]), config)


def detect_contacts_many(foot_points: np.ndarray, t: np.ndarray, people: Segments, config: ContactConfig = ContactConfig()) -> np.ndarray:
    """:func:`detect_contacts` of many people at once: foot_points (N, F, 3) and t (N,) of everyone's
    frames end to end (``people`` says whose) -> (N, F) bool, each person's exactly as alone."""
    N, F, _ = foot_points.shape
    contact = np.zeros((N, F), dtype=bool)
    lowest = foot_points[:, :, 1].min(axis=1)
    for f in range(F):
        p = foot_points[:, f]
        h = p[:, 1]
        v = _foot_speed(p, t, config.speed_window_s, people)
        # the supporting foot is the lower one: a swing foot skimming the floor is above the stance foot
        lower = h <= lowest + config.lower_foot_margin
        stay = (h <= config.leave_height) & (v <= config.leave_speed)
        enter = (h <= config.enter_height) & (v <= config.enter_speed) & lower
        contact[:, f] = _hysteresis(enter, stay, people)
        if config.min_duration_s > 0:  # a contact of a single frame spans no time: noise
            contact[:, f] &= ~_single_frames(contact[:, f], people)
    return contact


def _hysteresis(enter: np.ndarray, stay: np.ndarray, people: Segments | None = None) -> np.ndarray:
    """(N,) on/off where a frame turns on when ``enter`` and, once on, stays on while ``stay``; each
    person starts off. Where every enter frame can also stay (the thresholds nest, as they should), a
    frame is on exactly when an enter frame of its person came after the last frame that could not
    stay: no loop over frames."""
    people = people or Segments([len(enter)])
    if (enter & ~stay).any():  # thresholds that do not nest: the state machine itself
        out, on, first = np.zeros(len(enter), dtype=bool), False, people.first()
        for i in range(len(enter)):
            on = bool(stay[i]) if on and not first[i] else bool(enter[i])
            out[i] = on
        return out
    idx = np.arange(len(enter))
    last_enter = np.maximum.accumulate(np.where(enter, idx, -1)) if len(idx) else idx
    last_break = np.maximum.accumulate(np.where(~stay, idx, -1)) if len(idx) else idx
    return stay & (last_enter > last_break) & (last_enter >= people.starts[people.owner])


def _single_frames(c: np.ndarray, people: Segments) -> np.ndarray:
    """(N,) bool: the True frames with no True neighbour of the same person."""
    before = np.concatenate([[False], c[:-1]]) & ~people.first() if len(c) else c
    after = np.concatenate([c[1:], [False]]) & ~people.last() if len(c) else c
    return c & ~before & ~after


contact_segments = true_runs  # (T,) bool -> [(start, stop)) of consecutive contact frames
