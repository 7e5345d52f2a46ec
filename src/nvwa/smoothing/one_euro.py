"""The One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) over real timestamps.

alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi cutoff), cutoff = min_cutoff + beta * |filtered speed|.
Each step uses its own dt from the timestamps, so variable frame rate and gaps are handled as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroConfig:
    min_cutoff: float = 1.0  # Hz: cutoff at rest; lower = smoother, more lag
    beta: float = 0.0  # s/unit: how fast the cutoff rises with speed; higher = less lag on fast moves
    d_cutoff: float = 1.0  # Hz: cutoff of the speed estimate


def _alpha(cutoff: np.ndarray, dt: float) -> np.ndarray:
    tau = 1.0 / (2 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(x: np.ndarray, t: np.ndarray, config: OneEuroConfig, confidence: np.ndarray | None = None) -> np.ndarray:
    """Filter x (T, D) sampled at t (T,) seconds (strictly increasing) -> (T, D).

    ``confidence`` (T,) or (T, D) in [0, 1] lowers a frame's cutoff (it moves the estimate less): a
    frame of confidence c gets cutoff * max(c, 0.5).
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if x.ndim == 1:
        return one_euro(x[:, None], t, config, confidence)[:, 0]
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    out[0] = x[0]
    dx = np.zeros(x.shape[1])
    for i in range(1, len(x)):
        dt = t[i] - t[i - 1]
        if dt <= 0:
            raise ValueError(f"timestamps must increase: t[{i}]={t[i]} after t[{i - 1}]={t[i - 1]}")
        raw_dx = (x[i] - out[i - 1]) / dt
        a_d = _alpha(np.asarray(config.d_cutoff), dt)
        dx = dx + a_d * (raw_dx - dx)
        cutoff = config.min_cutoff + config.beta * np.abs(dx)
        if confidence is not None:
            cutoff = cutoff * np.maximum(confidence[i], 0.5)
        a = _alpha(cutoff, dt)
        out[i] = out[i - 1] + a * (x[i] - out[i - 1])
    return out


def one_euro_zero_lag(x: np.ndarray, t: np.ndarray, config: OneEuroConfig, confidence: np.ndarray | None = None) -> np.ndarray:
    """Offline One-Euro: a forward pass, then a backward pass over the forward result.

    The backward pass undoes the forward pass's lag (as a zero-phase filtfilt does) and filters a
    second time, so high-frequency jitter falls as the square of one pass; whole videos are
    processed, so the future is there to use.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    conf_rev = None if confidence is None else np.asarray(confidence)[::-1]
    forward = one_euro(x, t, config, confidence)
    return one_euro(forward[::-1], -t[::-1], config, conf_rev)[::-1]


def sign_continuous(q: np.ndarray) -> np.ndarray:
    """(T, ..., 4) quaternions -> the same rotations with q[t] . q[t-1] >= 0 (q and -q are one rotation)."""
    q = np.array(q, dtype=np.float64, copy=True)
    for i in range(1, len(q)):
        flip = np.sum(q[i] * q[i - 1], axis=-1) < 0
        q[i][flip] *= -1
    return q


def one_euro_quaternions(q: np.ndarray, t: np.ndarray, config: OneEuroConfig, confidence: np.ndarray | None = None,
                         *, zero_lag: bool = False) -> np.ndarray:
    """Filter rotations q (T, N, 4) on the manifold: sign-continuous quaternions, filtered, renormalised.

    Near-neighbour unit quaternions on one hemisphere are a chart of the rotation group in which a
    small filter step stays a small rotation, unlike per-Euler-angle filtering.
    """
    q = sign_continuous(q)
    shape = q.shape
    if confidence is not None and np.ndim(confidence) == 2:  # (T, N): one weight per rotation, for its 4 numbers
        confidence = np.repeat(confidence, 4, axis=1)
    run = one_euro_zero_lag if zero_lag else one_euro
    f = run(q.reshape(len(q), -1), t, config, confidence).reshape(shape)
    return f / np.linalg.norm(f, axis=-1, keepdims=True)
