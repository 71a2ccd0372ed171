"""Group normalisation and weight standardisation from scratch (chapter 13) against PyTorch's and timm's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from timm.layers import StdConv2d as TimmStdConv2d
from torch import nn

from cnncourse import scratch

TOL = dict(rtol=1e-4, atol=1e-5)


# --- group_norm ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("shape", "groups"),
    [((2, 6, 5, 5), 1), ((2, 6, 5, 5), 2), ((3, 6, 4, 7), 3), ((2, 6, 3, 3), 6), ((4, 64, 3, 3), 32), ((5, 8), 4),
     ((2, 12, 9), 4)],
    ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else f"G{v}",
)
def test_group_norm_equals_pytorch_with_gradients(shape, groups):
    gen = torch.Generator().manual_seed(groups)
    theirs = nn.GroupNorm(groups, shape[1])
    with torch.no_grad():
        theirs.weight.copy_(torch.randn(shape[1], generator=gen))
        theirs.bias.copy_(torch.randn(shape[1], generator=gen))
    weight, bias = (p.detach().clone().requires_grad_() for p in (theirs.weight, theirs.bias))
    x = (3 * torch.randn(shape, generator=gen) + 2).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    upstream = torch.randn(shape, generator=gen)
    ours = scratch.group_norm(x, groups, weight, bias)
    torch.testing.assert_close(ours, theirs(x2), **TOL)
    (ours * upstream).sum().backward()
    (theirs(x2) * upstream).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad, **TOL)
    torch.testing.assert_close(weight.grad, theirs.weight.grad, **TOL)
    torch.testing.assert_close(bias.grad, theirs.bias.grad, **TOL)


def test_group_norm_normalises_each_example_alone():
    """Groups of one example: the output of an example does not change with the rest of the batch (BN's would)."""
    x = torch.randn(4, 8, 5, 5, generator=torch.Generator().manual_seed(0))
    alone = scratch.group_norm(x[:1], 2)
    torch.testing.assert_close(scratch.group_norm(x, 2)[:1], alone)
    groups = alone.reshape(1, 2, -1)
    torch.testing.assert_close(groups.mean(-1), torch.zeros(1, 2), atol=1e-6, rtol=0)
    torch.testing.assert_close(groups.var(-1, correction=0), torch.ones(1, 2), atol=1e-3, rtol=0)
    # the group structure matters: 2 groups of 4 channels is not 8 groups of 1
    assert not torch.allclose(scratch.group_norm(x, 2), scratch.group_norm(x, 8), atol=1e-3)


def test_group_norm_rejects_bad_input():
    with pytest.raises(ValueError, match="6 channels cannot be split into 4 groups"):
        scratch.group_norm(torch.randn(2, 6, 3, 3), 4)
    with pytest.raises(ValueError, match="N×C"):
        scratch.group_norm(torch.randn(6), 2)
    with pytest.raises(TypeError, match="torch.from_numpy"):
        scratch.group_norm(np.zeros((2, 4, 3, 3), dtype=np.float32), 2)


# --- weight_standardize and StdConv2d ------------------------------------------------------------------------------

def test_weight_standardize_gives_every_filter_mean_0_and_variance_1():
    w = 5 * torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(0)) + 3
    ws = scratch.weight_standardize(w)
    assert ws.shape == w.shape
    flat = ws.reshape(16, -1)
    torch.testing.assert_close(flat.mean(1), torch.zeros(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.var(1, correction=0), torch.ones(16), atol=1e-5, rtol=0)
    # per output filter, not over the whole tensor: filters of different scale come out alike
    scaled = w * torch.arange(1, 17).view(-1, 1, 1, 1)
    torch.testing.assert_close(scratch.weight_standardize(scaled), ws, atol=1e-5, rtol=0)


def _pair(eps: float, stride: int = 1, groups: int = 1, bias: bool = False, seed: int = 0):
    """timm's StdConv2d and ours with the same random weights (ours padded like timm's default)."""
    torch.manual_seed(seed)
    theirs = TimmStdConv2d(8, 12, 3, stride=stride, groups=groups, bias=bias, eps=eps)
    ours = scratch.StdConv2d(8, 12, 3, stride=stride, padding=1, groups=groups, bias=bias, eps=eps)
    ours.load_state_dict(theirs.state_dict(), strict=True)  # nn.Conv2d's keys
    return ours, theirs


@pytest.mark.parametrize("eps", [1e-6, 1e-8, 1e-10], ids=["timm-default", "timm-BiT", "BiT-original"])
@pytest.mark.parametrize(("stride", "groups", "bias"), [(1, 1, False), (2, 1, True), (1, 4, False)])
def test_std_conv2d_equals_timms_with_gradients(eps, stride, groups, bias):
    ours, theirs = _pair(eps, stride, groups, bias)
    x = torch.randn(2, 8, 9, 9, generator=torch.Generator().manual_seed(1))
    upstream = torch.randn_like(theirs(x))
    torch.testing.assert_close(ours(x), theirs(x), **TOL)
    (ours(x) * upstream).sum().backward()
    (theirs(x) * upstream).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, **TOL)


def test_std_conv2d_is_a_convolution_with_the_standardised_weight():
    conv = scratch.StdConv2d(3, 4, 3, padding=1, bias=False)
    x = torch.randn(2, 3, 6, 6)
    expected = F.conv2d(x, scratch.weight_standardize(conv.weight), padding=1)
    torch.testing.assert_close(conv(x), expected)
    assert isinstance(conv, nn.Conv2d) and conv.eps == 1e-10 and conv.bias is None
    assert nn.Conv2d(3, 4, 3).bias is not None and scratch.StdConv2d(3, 4, 3).bias is not None  # nn.Conv2d's defaults
    assert "eps=1e-10" in repr(conv)


def test_eps_is_used_and_differs_between_implementations():
    """With filters of tiny variance (1e-10 here) the epsilon decides the scale: 1e-10 and timm's 1e-6 disagree."""
    ours, theirs = _pair(1e-10)
    with torch.no_grad():
        theirs.weight.mul_(1e-5 / theirs.weight.std())
        ours.weight.copy_(theirs.weight)
    x = torch.randn(1, 8, 5, 5)
    torch.testing.assert_close(ours(x), theirs(x), **TOL)  # same eps: same output
    timm_default = TimmStdConv2d(8, 12, 3)
    timm_default.load_state_dict(theirs.state_dict())
    assert not torch.allclose(ours(x), timm_default(x), rtol=1e-2)  # eps 1e-10 vs 1e-6: about 70x apart


def test_weight_standardize_rejects_bad_input():
    with pytest.raises(ValueError, match="output dimension"):
        scratch.weight_standardize(torch.randn(5))
    with pytest.raises(TypeError, match="weight is a numpy.ndarray"):
        scratch.weight_standardize(np.zeros((4, 3, 3, 3)))
