"""Normalisation layers from scratch: local response normalisation (chapter 02).

Later chapters add batch normalisation (08), group normalisation and weight standardisation (13) here.
"""

from __future__ import annotations

import numpy as np

from ._checks import require_numpy


def local_response_norm(
    x: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> np.ndarray:
    """Local response normalisation across channels, PyTorch's definition (``nn.LocalResponseNorm``).

    ``b_c = a_c / (k + alpha / size * sum(a_j ** 2 for j in c - size//2 … c + (size-1)//2)) ** beta``; channels
    outside ``0 … C-1`` count as zeros, and alpha is divided by ``size`` (AlexNet's paper writes plain alpha).
    ``x`` is N×C×… (at least 3-D); the result has its shape and dtype.
    """
    require_numpy(x)
    if np.ndim(x) < 3:
        raise ValueError(f"x must be at least 3-D (N, C, ...), got {np.ndim(x)}-D with shape {np.shape(x)}")
    if int(size) != size or size < 1:
        raise ValueError(f"size (the number of neighbouring channels) must be a positive int, got {size!r}")
    c = x.shape[1]
    squares = np.pad(x * x, [(0, 0), (size // 2, (size - 1) // 2)] + [(0, 0)] * (x.ndim - 2))
    # channel j's window is padded channels j … j + size - 1: add up `size` shifted slices of the padded squares
    window_sum = sum(squares[:, i : i + c] for i in range(size))
    scale = (k + alpha / size * window_sum) ** beta
    return (x / scale).astype(x.dtype, copy=False)
