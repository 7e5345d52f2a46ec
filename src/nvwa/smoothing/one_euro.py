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
    return 1.0 / (1.0 + 1.0 / (2 * np.pi * cutoff * dt))


def _channel_params(config: OneEuroConfig | list[tuple[OneEuroConfig, int]], D: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One config for all D channels, or [(config, n_channels), ...] -> (min_cutoff, beta, d_cutoff) (D,)."""
    parts = [(config, D)] if isinstance(config, OneEuroConfig) else config
    if sum(n for _, n in parts) != D:
        raise ValueError(f"configs cover {sum(n for _, n in parts)} channels, the signal has {D}")
    pick = lambda attr: np.concatenate([np.full(n, getattr(c, attr), dtype=np.float64) for c, n in parts])  # noqa: E731
    return pick("min_cutoff"), pick("beta"), pick("d_cutoff")


def one_euro(x: np.ndarray, t: np.ndarray, config: OneEuroConfig | list[tuple[OneEuroConfig, int]],
             confidence: np.ndarray | None = None) -> np.ndarray:
    """Filter x (T, D) sampled at t (T,) seconds (strictly increasing) -> (T, D).

    ``config``: one for every channel, or a list of (config, number of channels) covering D in order,
    so signals with different units are filtered in one pass over the frames. ``confidence`` (T,) or
    (T, D) in [0, 1] lowers a frame's cutoff (it moves the estimate less): a frame of confidence c
    gets cutoff * max(c, 0.5).
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if x.ndim == 1:
        return one_euro(x[:, None], t, config, confidence)[:, 0]
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    min_cutoff, beta, d_cutoff = _channel_params(config, x.shape[1])
    dts = np.diff(t)
    bad = np.nonzero(dts <= 0)[0]
    if len(bad):
        i = int(bad[0]) + 1
        raise ValueError(f"timestamps must increase: t[{i}]={t[i]} after t[{i - 1}]={t[i - 1]}")
    # everything that does not depend on the recursion is computed for all frames at once
    a_d = _alpha(d_cutoff[None, :], dts[:, None])  # (T-1, D)
    two_pi_dt = 2 * np.pi * dts[:, None]
    scale = np.ones((len(dts), 1)) if confidence is None else np.maximum(np.asarray(confidence, dtype=np.float64)[1:], 0.5)
    if scale.ndim == 1:
        scale = scale[:, None]
    inv_dt = 1.0 / dts
    prev = x[0].copy()
    out[0] = prev
    dx = np.zeros(x.shape[1])
    for i in range(1, len(x)):
        step = x[i] - prev
        dx += a_d[i - 1] * (step * inv_dt[i - 1] - dx)
        wc = two_pi_dt[i - 1] * (min_cutoff + beta * np.abs(dx)) * scale[i - 1]
        prev = prev + step * (wc / (1.0 + wc))
        out[i] = prev
    return out


def one_euro_zero_lag(x: np.ndarray, t: np.ndarray, config: OneEuroConfig | list[tuple[OneEuroConfig, int]],
                      confidence: np.ndarray | None = None, *, passes: int = 1) -> np.ndarray:
    """Offline One-Euro: a forward pass, then a backward pass over the forward result; ``passes`` times.

    The backward pass undoes the forward pass's lag (as a zero-phase filtfilt does) and filters a
    second time, so high-frequency jitter falls as the square of one pass; repeating the pair
    steepens the roll-off further (jitter falls faster than the motion's own frequencies), which is
    what lets the cutoffs stay high enough not to flatten fast moves. Whole videos are processed, so
    the future is there to use.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    conf_rev = None if confidence is None else np.asarray(confidence)[::-1]
    for _ in range(passes):
        forward = one_euro(x, t, config, confidence)
        x = one_euro(forward[::-1], -t[::-1], config, conf_rev)[::-1]
    return x


def sign_continuous(q: np.ndarray) -> np.ndarray:
    """(T, ..., 4) quaternions -> the same rotations with q[t] . q[t-1] >= 0 (q and -q are one rotation)."""
    q = np.array(q, dtype=np.float64, copy=True)
    for i in range(1, len(q)):
        flip = np.sum(q[i] * q[i - 1], axis=-1) < 0
        q[i][flip] *= -1
    return q


def quaternion_channels(q: np.ndarray) -> np.ndarray:
    """(T, N, 4) rotations -> (T, 4N) sign-continuous quaternion components, the chart the filter runs
    in: near-neighbour unit quaternions on one hemisphere, where a small filter step stays a small
    rotation (unlike per-Euler-angle filtering)."""
    return sign_continuous(q).reshape(len(q), -1)


def rotations_from_channels(f: np.ndarray, n: int) -> np.ndarray:
    """(T, 4N) filtered components -> (T, N, 4) unit quaternions."""
    f = f.reshape(len(f), n, 4)
    return f / np.linalg.norm(f, axis=-1, keepdims=True)


def one_euro_quaternions(q: np.ndarray, t: np.ndarray, config: OneEuroConfig, confidence: np.ndarray | None = None,
                         *, zero_lag: bool = False, passes: int = 1) -> np.ndarray:
    """Filter rotations q (T, N, 4) on the manifold: sign-continuous quaternions, filtered, renormalised."""
    if confidence is not None and np.ndim(confidence) == 2:  # (T, N): one weight per rotation, for its 4 numbers
        confidence = np.repeat(confidence, 4, axis=1)
    x = quaternion_channels(q)
    f = one_euro_zero_lag(x, t, config, confidence, passes=passes) if zero_lag else one_euro(x, t, config, confidence)
    return rotations_from_channels(f, q.shape[1])
