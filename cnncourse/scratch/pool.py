"""Pooling from scratch (chapter 02): every channel's windows unrolled by img2col, then a max or a mean."""

from __future__ import annotations

import numpy as np

from ._checks import IntPair, _check_4d, _pair
from .conv import _geometry, img2col


def _pool_windows(
    x: np.ndarray, kernel_size: IntPair, stride: IntPair | None, padding: IntPair, pad_value: float
) -> tuple[np.ndarray, tuple[int, int]]:
    """img2col applied to every channel on its own: ``(N·C·OH·OW, kh·kw)`` plus the output size."""
    _check_4d(x)
    kh, kw = _pair(kernel_size, "kernel_size")
    stride = (kh, kw) if stride is None else stride
    ph, pw = _pair(padding, "padding")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"padding {(ph, pw)} must be at most half the kernel size {(kh, kw)} in each dimension")
    _, _, (oh, ow) = _geometry(x.shape, (kh, kw), stride, padding)
    n, c, h, w = x.shape
    cols = img2col(x.reshape(n * c, 1, h, w), kh, kw, stride, padding, pad_value=pad_value)
    return cols, (oh, ow)


def max_pool2d(
    x: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> np.ndarray:
    """Max pooling (like ``F.max_pool2d``): padding is -inf, so padded cells never win; stride defaults to the kernel."""
    cols, (oh, ow) = _pool_windows(x, kernel_size, stride, padding, pad_value=-np.inf)
    return cols.max(axis=1).reshape(*x.shape[:2], oh, ow)


def avg_pool2d(
    x: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Average pooling (like ``F.avg_pool2d``, whose default ``count_include_pad=True`` counts padded zeros).

    With ``count_include_pad=False`` each window is divided by the number of real input pixels it covers.
    """
    cols, (oh, ow) = _pool_windows(x, kernel_size, stride, padding, pad_value=0.0)
    if count_include_pad:
        out = cols.mean(axis=1)
    else:
        ones = np.ones((1, 1, *x.shape[2:]), dtype=x.dtype)
        counts, _ = _pool_windows(ones, kernel_size, stride, padding, pad_value=0.0)
        out = (cols.reshape(-1, oh * ow, cols.shape[1]).sum(axis=2) / counts.sum(axis=1)).reshape(-1)
    return out.astype(x.dtype, copy=False).reshape(*x.shape[:2], oh, ow)
