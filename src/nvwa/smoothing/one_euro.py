"""The One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) over real timestamps.

alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi cutoff), cutoff = min_cutoff + beta * |filtered speed|.
Each step uses its own dt from the timestamps, so variable frame rate and gaps are handled as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvwa.rig.segments import Segments, dot_last, norm_last


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
    _check_increasing(t)
    dts = np.diff(t)
    if confidence is None and not beta.any() and len(dts) and _even(dts):
        return _fixed_low_pass(x, 2 * np.pi * dts[0] * min_cutoff)
    return one_euro_many([x], [t], config, [confidence], zero_lag=False)[0]  # the many-series recursion with one of them


def _check_increasing(t: np.ndarray) -> None:
    bad = np.nonzero(np.diff(t) <= 0)[0]
    if len(bad):
        i = int(bad[0]) + 1
        raise ValueError(f"timestamps must increase: t[{i}]={t[i]} after t[{i - 1}]={t[i - 1]}")


def _fixed_low_pass(x: np.ndarray, wc: np.ndarray) -> np.ndarray:
    """The filter with beta = 0 on evenly spaced frames: a fixed first-order low-pass per channel
    (y_i = y_i-1 + a (x_i - y_i-1), a = wc / (1 + wc), started at y_0 = x_0), without a loop over frames.

    y_i is the sum over k of r^k z_(i-k) (r = 1 - a; z_0 = x_0, z_i = a x_i), summed by doubling: after the
    step with distance d, each y_i holds the terms up to 2d - 1 back (ceil(log2 T) elementwise steps). Each
    number is made by the same operations whatever else is filtered beside it (other channels, or series
    padded to a longer one: frames only ever take from earlier ones), so a person smoothed with others
    gets exactly what they get alone. The same numbers as scipy's lfilter to ~1e-14, without importing
    scipy.signal (it pulls in scipy.stats: ~0.5 s of every run's start)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    for w in np.unique(wc):
        cols = np.flatnonzero(wc == w)
        alpha = w / (1.0 + w)
        r = 1.0 - alpha
        y = alpha * x[:, cols]
        y[0] = x[0, cols]
        d = 1
        while d < len(y):
            y[d:] = y[d:] + r ** d * y[:-d]  # the right side is read whole before it is written
            d *= 2
        out[:, cols] = y
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


class _FrameMajor:
    """P series of different lengths laid out frame after frame, the longest series first within each
    frame: frame f's rows are ``start[f] : start[f] + running[f]``, one per series still running at f,
    N rows in all (no padding: memory and work in proportion to the frames there are)."""

    def __init__(self, lengths: np.ndarray) -> None:
        self.lengths = lengths
        self.order = np.argsort(-lengths, kind="stable")  # rank j -> series
        ranked = lengths[self.order]
        self.running = np.searchsorted(-ranked, -np.arange(ranked[0]), side="left")  # (T_max,) series reaching frame f
        self.start = np.concatenate([[0], np.cumsum(self.running)[:-1]])
        self.rows = [self.start[:n] + j for j, n in enumerate(ranked)]  # rank j's rows, frame by frame
        self.total = int(ranked.sum())
        # as permutations of all rows at once (one gather each, not one a series): the series end to end
        # (in their own order) -> these rows, and each series reversed in time
        self.first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.gather, self.reverse = np.empty(self.total, np.intp), np.empty(self.total, np.intp)
        for rows, k in zip(self.rows, self.order):
            self.gather[rows] = self.first[k] + np.arange(len(rows))
            self.reverse[rows] = rows[::-1]

    def packed(self, xs: list[np.ndarray]) -> np.ndarray:
        """The series (T_k, D), in their own order -> (N, D) frame after frame."""
        return np.take(np.concatenate(xs), self.gather, axis=0)

    def unpacked(self, X: np.ndarray) -> list[np.ndarray]:
        """:meth:`packed` undone: (N, D) -> the series (T_k, D) in their own order."""
        ends = np.empty_like(X)
        ends[self.gather] = X
        return np.split(ends, self.first[1:])

    def flipped(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Each series reversed in time, into ``out``: the next pass runs the other way."""
        return np.take(X, self.reverse, axis=0, out=out, mode="clip")  # clip: the indices are valid; unbuffered


def _confidence_scales(layout: _FrameMajor, confs: list, D: int) -> np.ndarray:
    """Each row's cutoff factor max(c, 0.5) (N, D), laid out as ``layout`` packs the series (1 where a
    series has no confidence; a first frame's row is never read going forward, and is the last step's
    going backward), made once for all series instead of once a series and direction."""
    scale = layout.packed([np.broadcast_to(1.0 if c is None else (c[:, None] if c.ndim == 1 else c), (n, D))
                           for c, n in zip(confs, layout.lengths)])
    return np.maximum(scale, 0.5, out=scale)


def _step_terms(layout: _FrameMajor, ts: list[np.ndarray], scale: np.ndarray, reverse: bool, params) -> tuple:
    """Everything a step of the recursion needs that does not depend on the signal, on the rows of the
    frame each step arrives at (each series running backward when ``reverse``, ``scale`` then flipped the
    same way), as :func:`_recursion` uses it: the speed filter's 1 - alpha and alpha / dt (N, 1 or D); the
    value filter's 2 pi dt beta and 1 + 2 pi dt min_cutoff (N, D), each with the frame's confidence scale.
    ``scale`` (:func:`_confidence_scales`) is used up: it becomes the last of them."""
    min_cutoff, beta, d_cutoff = params
    dt = np.ones((layout.total, 1))
    for rows, k in zip(layout.rows, layout.order):
        t = ts[k]
        dt[rows[1:], 0] = np.diff(-t[::-1] if reverse else t)
    a_d = _alpha(d_cutoff[:1] if (d_cutoff == d_cutoff[0]).all() else d_cutoff, dt)
    scale *= 2 * np.pi * dt
    slope = scale * beta
    scale *= min_cutoff
    scale += 1.0
    return 1.0 - a_d, a_d / dt, slope, scale


def one_euro_many(xs: list[np.ndarray], ts: list[np.ndarray], config: OneEuroConfig | list[tuple[OneEuroConfig, int]],
                  confidences: list | None = None, *, zero_lag: bool = True, passes: int = 1) -> list[np.ndarray]:
    """Many series at once (people, each with their own timestamps and length): xs [(T_k, D)], ts
    [(T_k,)], confidences [(T_k,) or (T_k, D) or None] -> [(T_k, D)], each exactly what
    :func:`one_euro_zero_lag` (or :func:`one_euro` when not ``zero_lag``) gives it alone. The recursion
    runs once over the longest series' steps with every series still running side by side, so its
    per-step cost is paid once for all of them; what does not depend on the signal is computed once
    per direction, and the passes share two buffers. Series one_euro would run as a fixed low-pass
    (beta 0, no confidence, even frames) run as one fixed low-pass, side by side with those of the same step."""
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    xs = [x[:, None] if x.ndim == 1 else x for x in xs]
    ts = [np.asarray(t, dtype=np.float64) for t in ts]
    confs = [None if c is None else np.asarray(c, dtype=np.float64) for c in (confidences or [None] * len(xs))]
    for t in ts:
        _check_increasing(t)
    results = [x.copy() for x in xs]
    todo = [k for k, x in enumerate(xs) if len(x)]  # an empty series has nothing to filter
    if not todo:
        return results
    params = _channel_params(config, xs[todo[0]].shape[1])
    directions = (False, True) if zero_lag else (False,)
    # beta = 0, no confidence, even frames: a fixed low-pass (as one_euro runs it)
    steps = {k: [_even_step(ts[k], reverse) for reverse in directions] for k in todo} if not params[1].any() else {}
    even = [k for k in todo if confs[k] is None and None not in steps.get(k, [None])]
    for k, o in zip(even, _even_low_passes([xs[k] for k in even], [steps[k] for k in even], params[0], directions, passes if zero_lag else 1)):
        results[k] = o
    todo = [k for k in todo if k not in set(even)]
    if not todo:
        return results
    layout = _FrameMajor(np.array([len(xs[k]) for k in todo]))
    scale = _confidence_scales(layout, [confs[k] for k in todo], len(params[0]))
    scales = {False: scale, True: layout.flipped(scale, np.empty_like(scale)) if zero_lag else None}
    terms = {reverse: _step_terms(layout, [ts[k] for k in todo], scales[reverse], reverse, params) for reverse in directions}
    X = layout.packed([xs[k] for k in todo])
    buffer = np.empty_like(X)
    for _ in range(passes if zero_lag else 1):
        for reverse in directions:
            if reverse:
                X, buffer = layout.flipped(X, buffer), X
            _recursion(X, *terms[reverse], layout, out=buffer)
            X, buffer = buffer, X
            if reverse:
                X, buffer = layout.flipped(X, buffer), X
    for k, x in zip(todo, layout.unpacked(X)):
        results[k] = x
    return results


def _even_step(t: np.ndarray, reverse: bool) -> float | None:
    """The series' one frame step (running backward when ``reverse``), or None if it is not evenly
    sampled (the test :func:`one_euro` makes)."""
    d = np.diff(-t[::-1] if reverse else t)
    return d[0] if len(d) and _even(d) else None


def _even(dts: np.ndarray) -> bool:
    """Every step within 1e-9 (relative) of the first: np.allclose(dts, dts[0], rtol=1e-9, atol=0), written out (cheaper)."""
    return bool(np.all(np.abs(dts - dts[0]) <= 1e-9 * np.abs(dts[0])))


def _even_low_passes(xs: list[np.ndarray], steps: list[list[float]], min_cutoff: np.ndarray, directions, passes: int) -> list[np.ndarray]:
    """The series' passes (``directions`` each time; ``steps`` each series' frame step per direction) of
    the fixed low-pass -> each series filtered."""
    for _ in range(passes if xs else 0):
        for d, reverse in enumerate(directions):
            xs = _even_low_pass(xs, [s[d] for s in steps], min_cutoff, reverse)
    return [np.ascontiguousarray(x) for x in xs]


def _even_low_pass(xs: list[np.ndarray], steps: list[float], min_cutoff: np.ndarray, reverse: bool) -> list[np.ndarray]:
    """One pass (backward when ``reverse``) of :func:`_fixed_low_pass` over each series, the series that
    share a step side by side in one fixed low-pass (each column filtered on its own, as alone)."""
    out = [None] * len(xs)
    for step in dict.fromkeys(steps):
        group = [k for k, s in enumerate(steps) if s == step]
        T, D = max(len(xs[k]) for k in group), xs[group[0]].shape[1]
        X = np.empty((T, len(group), D))
        for j, k in enumerate(group):
            x = xs[k][::-1] if reverse else xs[k]
            X[:len(x), j], X[len(x):, j] = x, x[-1]  # past its end: never read back (the filter is causal)
        F = _fixed_low_pass(X.reshape(T, -1), np.tile(2 * np.pi * step * min_cutoff, len(group))).reshape(T, len(group), D)
        for j, k in enumerate(group):
            out[k] = F[:len(xs[k]), j][::-1] if reverse else F[:len(xs[k]), j]
    return out


def _recursion(X: np.ndarray, keep_d: np.ndarray, gain_d: np.ndarray, slope: np.ndarray, base: np.ndarray,
               layout: _FrameMajor, out: np.ndarray) -> np.ndarray:
    """The filter's recursion over the frames of X (N, D) laid out by ``layout`` (the terms are
    :func:`_step_terms`'): each step updates the series still running, in place (no allocation per step).
    With step = x - y_prev, the speed dx = (1 - a_d) dx + (a_d / dt) step, and wc = 2 pi dt (min_cutoff +
    beta |dx|): y = y_prev + step wc / (1 + wc) = x - step / (1 + wc), 1 + wc = base + slope |dx|."""
    running, start = layout.running.tolist(), layout.start.tolist()
    P = running[0]
    out[:P] = X[:P]
    dx = np.zeros((P, X.shape[1]))
    step, tmp, wc = (np.empty_like(dx) for _ in range(3))
    width = None
    for f in range(1, len(running)):
        n, a, prev = running[f], start[f], start[f - 1]
        if n != width:  # the series still running: fewer only where one ends
            s, w, d, q, width = step[:n], wc[:n], dx[:n], tmp[:n], n
        b, x = a + n, X[a:a + n]
        np.subtract(x, out[prev:prev + n], out=s)
        d *= keep_d[a:b]
        np.multiply(s, gain_d[a:b], out=q)
        d += q
        np.abs(d, out=w)  # faster moves, higher cutoff
        w *= slope[a:b]
        w += base[a:b]
        s /= w
        np.subtract(x, s, out=out[a:b])
    return out


def sign_continuous(q: np.ndarray, people: Segments | None = None) -> np.ndarray:
    """(T, ..., 4) quaternions -> the same rotations with q[t] . q[t-1] >= 0 (q and -q are one rotation).
    Each frame's sign is the product of the sign changes up to it, so no loop over frames is needed.
    ``people``: q holds several people's frames end to end; each one's first frame stays as it is."""
    q = np.asarray(q, dtype=np.float64)
    if len(q) < 2:
        return q.copy()
    change = np.where(dot_last(q[1:], q[:-1]) < 0, -1.0, 1.0)
    if people is not None:
        change[people.starts[(people.lengths > 0) & (people.starts > 0)] - 1] = 1.0  # no step into a person from the one before
    sign = np.concatenate([np.ones((1,) + change.shape[1:]), np.cumprod(change, axis=0)])
    if people is not None:
        sign *= sign[people.starts[people.owner]]  # each person's first frame back to +1
    return q * sign[..., None]


def quaternion_channels(q: np.ndarray) -> np.ndarray:
    """(T, N, 4) rotations -> (T, 4N) sign-continuous quaternion components, the chart the filter runs
    in: near-neighbour unit quaternions on one hemisphere, where a small filter step stays a small
    rotation (unlike per-Euler-angle filtering)."""
    return sign_continuous(q).reshape(len(q), -1)


def rotations_from_channels(f: np.ndarray, n: int) -> np.ndarray:
    """(T, 4N) filtered components -> (T, N, 4) unit quaternions."""
    f = f.reshape(len(f), n, 4)
    return f / norm_last(f)[..., None]


def one_euro_quaternions(q: np.ndarray, t: np.ndarray, config: OneEuroConfig, confidence: np.ndarray | None = None,
                         *, zero_lag: bool = False, passes: int = 1) -> np.ndarray:
    """Filter rotations q (T, N, 4) on the manifold: sign-continuous quaternions, filtered, renormalised."""
    if confidence is not None and np.ndim(confidence) == 2:  # (T, N): one weight per rotation, for its 4 numbers
        confidence = np.repeat(confidence, 4, axis=1)
    x = quaternion_channels(q)
    f = one_euro_zero_lag(x, t, config, confidence, passes=passes) if zero_lag else one_euro(x, t, config, confidence)
    return rotations_from_channels(f, q.shape[1])
