"""The operations the chapters build from scratch, each tested against PyTorch's own.

- Chapters 01–02, NumPy in and NumPy out (N×C×H×W arrays, the dtype is kept): `img2col`, `conv2d`,
  `max_pool2d`, `avg_pool2d`, `local_response_norm`, and `conv_output_size` for the size formula.
- Later chapters add torch versions that can be trained (batch norm, group norm, weight standardisation, …).

Shapes that cannot work raise `ValueError` naming the dimension that is wrong.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

IntPair = int | tuple[int, int]

# --- helpers shared by the NumPy operations --------------------------------------------------------------------


def _pair(value: IntPair, name: str) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays; anything else is a ValueError."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name} must be an int or a (height, width) pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_4d(x: np.ndarray, name: str = "x") -> None:
    if np.ndim(x) != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got {np.ndim(x)}-D with shape {np.shape(x)}")


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


# --- pooling ---------------------------------------------------------------------------------------------------


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


# --- normalisation ---------------------------------------------------------------------------------------------


def local_response_norm(
    x: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> np.ndarray:
    """Local response normalisation across channels, PyTorch's definition (``nn.LocalResponseNorm``).

    ``b_c = a_c / (k + alpha / size * sum(a_j ** 2 for j in c - size//2 … c + (size-1)//2)) ** beta``; channels
    outside ``0 … C-1`` count as zeros, and alpha is divided by ``size`` (AlexNet's paper writes plain alpha).
    ``x`` is N×C×… (at least 3-D); the result has its shape and dtype.
    """
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
