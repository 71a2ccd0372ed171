"""The from-scratch NumPy operations of chapters 01–02 against PyTorch's, on many seeded random shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse import scratch

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _combos(n: int, seed: int, pool: bool = False) -> list[tuple]:
    """Seeded random (N, C, H, W, kernel, stride, padding) combinations, kernels square and not."""
    rng = np.random.default_rng(seed)
    combos = []
    while len(combos) < n:
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        if len(combos) % 3 == 0:
            kw = kh  # a third square, given as a plain int
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        ph = int(rng.integers(0, kh // 2 + 1 if pool else 3))
        pw = int(rng.integers(0, kw // 2 + 1 if pool else 3))
        h, w = int(rng.integers(max(1, kh - 2 * ph), 12)), int(rng.integers(max(1, kw - 2 * pw), 12))
        n_img, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        kernel = kh if kh == kw else (kh, kw)
        stride = sh if sh == sw else (sh, sw)
        padding = ph if ph == pw else (ph, pw)
        combos.append((n_img, c, h, w, kernel, stride, padding))
    return combos


def _pair(v):
    return (v, v) if isinstance(v, int) else v


def _ids(combos):
    return [f"N{n}C{c}H{h}W{w}-k{k}-s{s}-p{p}".replace(" ", "") for n, c, h, w, k, s, p in combos]


CONV = _combos(36, seed=1)
POOL = _combos(36, seed=2, pool=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n, c, h, w, kernel, stride, padding", CONV, ids=_ids(CONV))
def test_conv2d_matches_torch(n, c, h, w, kernel, stride, padding, dtype):
    rng = np.random.default_rng(hash((n, c, h, w)) % 2**32)
    kh, kw = _pair(kernel)
    f = int(rng.integers(1, 5))
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((f, c, kh, kw)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    ours = scratch.conv2d(x, weight, bias, stride=stride, padding=padding)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias), stride=stride, padding=padding)
    assert ours.dtype == dtype
    assert ours.shape == tuple(ref.shape)
    np.testing.assert_allclose(ours, ref.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n, c, h, w, kernel, stride, padding", POOL, ids=_ids(POOL))
def test_pooling_matches_torch(n, c, h, w, kernel, stride, padding, dtype):
    rng = np.random.default_rng(hash((n, c, h, w, 7)) % 2**32)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    t = torch.from_numpy(x)
    ours = scratch.max_pool2d(x, kernel, stride, padding)
    ref = F.max_pool2d(t, kernel, stride, padding)
    assert ours.dtype == dtype and ours.shape == tuple(ref.shape)
    np.testing.assert_array_equal(ours, ref.numpy())  # a max picks one of the inputs: exact
    for include in (True, False):
        ours = scratch.avg_pool2d(x, kernel, stride, padding, count_include_pad=include)
        ref = F.avg_pool2d(t, kernel, stride, padding, count_include_pad=include)
        assert ours.dtype == dtype and ours.shape == tuple(ref.shape)
        np.testing.assert_allclose(ours, ref.numpy(), **TOL[dtype])


def test_pool_stride_defaults_to_kernel():
    x = np.arange(2 * 3 * 8 * 6, dtype=np.float32).reshape(2, 3, 8, 6)
    assert scratch.max_pool2d(x, 2).shape == (2, 3, 4, 3)
    np.testing.assert_array_equal(scratch.avg_pool2d(x, (2, 3)), F.avg_pool2d(torch.from_numpy(x), (2, 3)).numpy())


LRN = [  # (shape, size, alpha, beta, k), sizes odd and even, larger than C, 3-D to 5-D inputs
    ((2, 8, 5, 5), 5, 1e-4, 0.75, 2.0),  # AlexNet's setting
    ((1, 3, 4, 4), 2, 1e-3, 0.5, 1.0),
    ((3, 7, 3, 6), 4, 0.5, 0.75, 1.0),
    ((2, 5, 6), 3, 1.0, 1.0, 0.5),
    ((1, 4, 2, 3, 2), 3, 0.1, 0.6, 1.5),
    ((2, 6, 3, 3), 1, 0.2, 0.75, 1.0),
    ((2, 3, 4, 4), 9, 2.0, 0.9, 1.0),
    ((4, 16, 2, 2), 7, 0.01, 0.75, 2.0),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape, size, alpha, beta, k", LRN)
def test_local_response_norm_matches_torch(shape, size, alpha, beta, k, dtype):
    x = (3 * np.random.default_rng(len(shape) * 100 + size).standard_normal(shape)).astype(dtype)
    ours = scratch.local_response_norm(x, size, alpha, beta, k)
    ref = nn.LocalResponseNorm(size, alpha, beta, k)(torch.from_numpy(x))
    assert ours.dtype == dtype and ours.shape == shape
    np.testing.assert_allclose(ours, ref.numpy(), **TOL[dtype])


def test_img2col_layout():
    """Rows are output positions, columns (channel, kernel row, kernel column): a 1×1 kernel just transposes."""
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    cols = scratch.img2col(x, 1, 1)
    np.testing.assert_array_equal(cols, x.transpose(0, 2, 3, 1).reshape(-1, 3))
    cols = scratch.img2col(x, 2, 3, stride=(2, 1), padding=(1, 0))
    assert cols.shape == (2 * 3 * 3, 3 * 2 * 3)
    np.testing.assert_array_equal(cols[0, :6], [0, 0, 0, 0, 1, 2])  # first window: a padded row, then row 0


def test_conv_output_size_formula():
    for h, k, s, p in [(32, 5, 1, 0), (227, 11, 4, 0), (224, 7, 2, 3), (7, 3, 2, 1)]:
        expected = F.conv2d(torch.zeros(1, 1, h, h), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]
        assert scratch.conv_output_size(h, k, s, p) == expected


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: scratch.conv2d(np.zeros((3, 8, 8)), np.zeros((2, 3, 3, 3))), "x must be 4-D"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((3, 3, 3))), "weight must be 4-D"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((2, 4, 3, 3))), "channel mismatch"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 4, 8)), np.zeros((2, 3, 5, 3))), "kernel height 5"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 8, 2)), np.zeros((2, 3, 3, 5)), padding=1), "kernel width 5"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((2, 3, 3, 3)), stride=0), "stride must be >= 1"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((2, 3, 3, 3)), stride=(1, -1)), "width -1"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((2, 3, 3, 3)), padding=-1), "padding must be >= 0"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((2, 3, 3, 3)), np.zeros(3)), "bias must have"),
        (lambda: scratch.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((2, 3, 3, 3)), stride=(1, 2, 3)), "stride must be"),
        (lambda: scratch.img2col(np.zeros((1, 1, 3, 3)), 4, 1), "kernel height 4"),
        (lambda: scratch.max_pool2d(np.zeros((1, 1, 3, 3)), 4), "kernel height 4"),
        (lambda: scratch.max_pool2d(np.zeros((1, 1, 8, 8)), 2, padding=2), "at most half"),
        (lambda: scratch.avg_pool2d(np.zeros((8, 8)), 2), "x must be 4-D"),
        (lambda: scratch.avg_pool2d(np.zeros((1, 1, 8, 8)), 2, stride=0), "stride must be >= 1"),
        (lambda: scratch.local_response_norm(np.zeros((4, 4)), 3), "at least 3-D"),
        (lambda: scratch.local_response_norm(np.zeros((1, 4, 4, 4)), 0), "positive int"),
    ],
)
def test_bad_shapes_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("op, args", [
    (scratch.img2col, (3, 3)),
    (scratch.conv2d, (np.ones((1, 1, 3, 3), np.float32),)),
    (scratch.max_pool2d, (2,)),
    (scratch.avg_pool2d, (2,)),
    (scratch.local_response_norm, (3,)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_numpy_ops_refuse_torch_tensors_with_a_clear_type_error(op, args):
    x = torch.ones(1, 1, 4, 4)
    with pytest.raises(TypeError, match=r"takes NumPy arrays, but x is a torch\.Tensor; convert it with \.numpy\(\)"):
        op(x, *args)
    assert op(x.numpy(), *args) is not None  # the same call with an array works


def test_conv2d_names_a_weight_of_the_wrong_type():
    with pytest.raises(TypeError, match="weight is a torch.Tensor"):
        scratch.conv2d(np.ones((1, 1, 4, 4)), torch.ones(1, 1, 3, 3))
