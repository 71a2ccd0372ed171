"""Convolution from scratch (chapter 01): the output-size formula, img2col, and convolution as one matmul."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import IntPair, _check_4d, _pair


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling along one axis: ``(size + 2*padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def _geometry(
    shape: tuple[int, ...], kernel: tuple[int, int], stride: IntPair, padding: IntPair
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validate stride/padding against the input and return (stride, padding, output size) as pairs."""
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be >= 1 in both dimensions, got (height {sh}, width {sw})")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0 in both dimensions, got (height {ph}, width {pw})")
    (kh, kw), (h, w) = kernel, shape[2:]
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel size must be >= 1 in both dimensions, got (height {kh}, width {kw})")
    for dim, k, n, p in (("height", kh, h, ph), ("width", kw, w, pw)):
        if k > n + 2 * p:
            raise ValueError(
                f"kernel {dim} {k} is larger than the padded input {dim} {n + 2 * p} "
                f"(input {dim} {n} + 2 x padding {p})"
            )
    return (sh, sw), (ph, pw), (conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw))


# --- convolution -----------------------------------------------------------------------------------------------


def img2col(
    x: np.ndarray, kh: int, kw: int, stride: IntPair = 1, padding: IntPair = 0, pad_value: float = 0.0
) -> np.ndarray:
    """Unroll every kh×kw window of ``x`` (N×C×H×W) into one row: shape ``(N·OH·OW, C·kh·kw)``.

    Rows are ordered (image, output row, output column); columns (channel, kernel row, kernel column), the order
    of ``weight.reshape(out_channels, -1)``, so a convolution becomes one matrix product.
    """
    _check_4d(x)
    (sh, sw), (ph, pw), (oh, ow) = _geometry(x.shape, (kh, kw), stride, padding)
    n, c = x.shape[:2]
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))  # N, C, H', W', kh, kw (a view, no copy)
    windows = windows[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]  # N, C, OH, OW, kh, kw
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)


def conv2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: IntPair = 1, padding: IntPair = 0
) -> np.ndarray:
    """2-D convolution (cross-correlation, as in every deep-learning library) via img2col and one matmul.

    ``x`` is N×C×H×W, ``weight`` is F×C×kh×kw, ``bias`` has F entries; the result is N×F×OH×OW.
    """
    _check_4d(x)
    _check_4d(weight, "weight")
    f, c, kh, kw = weight.shape
    if c != x.shape[1]:
        raise ValueError(f"channel mismatch: weight expects {c} input channels (dim 1), x has {x.shape[1]} (dim 1)")
    if bias is not None and np.shape(bias) != (f,):
        raise ValueError(f"bias must have shape ({f},), one value per output channel, got {np.shape(bias)}")
    _, _, (oh, ow) = _geometry(x.shape, (kh, kw), stride, padding)
    cols = img2col(x, kh, kw, stride, padding)  # (N·OH·OW, C·kh·kw)
    out = cols @ weight.reshape(f, -1).T  # (N·OH·OW, F)
    if bias is not None:
        out = out + bias
    return out.reshape(x.shape[0], oh, ow, f).transpose(0, 3, 1, 2)
