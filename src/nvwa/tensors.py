"""Arrays from upstream models: torch tensors (maybe on a GPU) or arrays, as numpy (no torch import here)."""

from __future__ import annotations

import numpy as np


def to_numpy(x) -> np.ndarray:
    """Upstream outputs may be torch tensors (on the GPU) or arrays."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)


__all__ = ["to_numpy"]
