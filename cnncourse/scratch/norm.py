"""Normalisation layers from scratch: local response normalisation (chapter 02, NumPy), batch normalisation
(chapter 08, torch and trainable: `batch_norm`, `BatchNorm`), and BiT's pair (chapter 13, torch): group
normalisation of activations (`group_norm`) and weight standardisation of convolution filters
(`weight_standardize`, `StdConv2d`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import require_numpy, require_tensor


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


# --- batch normalisation (chapter 08): torch, trainable --------------------------------------------------------

def batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Batch normalisation of an N×C×… tensor over every axis but the channels (``F.batch_norm``'s arguments).

    - ``training=True``: normalise with this batch's mean and (biased) variance per channel, and update the running
      statistics **in place** with PyTorch's convention ``running = (1 - momentum) · running + momentum · batch``,
      where the variance that goes into the running estimate is the *unbiased* one (divided by n - 1, n = values per
      channel).
    - ``training=False``: normalise with ``running_mean`` and ``running_var`` (nothing is updated).

    Then scale by ``weight`` (γ) and shift by ``bias`` (β), both of shape (C,). Gradients flow to ``x``, ``weight``
    and ``bias`` by autograd. The running statistics may be None in training mode (nothing to update).
    """
    require_tensor(x)
    if x.dim() < 2:
        raise ValueError(f"x must be N×C or N×C×…, got shape {tuple(x.shape)}")
    axes = [0, *range(2, x.dim())]  # every axis but the channels
    shape = (1, -1) + (1,) * (x.dim() - 2)  # (C,) -> broadcastable against x
    if training:
        n = x.numel() // x.shape[1]
        if n < 2:
            raise ValueError(
                f"batch normalisation in training mode needs more than 1 value per channel, got {tuple(x.shape)}"
            )
        mean = x.mean(dim=axes)
        var = x.var(dim=axes, correction=0)  # the batch is normalised with the biased variance
        if running_mean is not None and running_var is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * mean)
                running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))  # unbiased in the estimate
    else:
        if running_mean is None or running_var is None:
            raise ValueError("eval mode normalises with the running statistics, so they cannot be None")
        mean, var = running_mean, running_var
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
    if weight is not None:
        y = y * weight.view(shape)
    if bias is not None:
        y = y + bias.view(shape)
    return y


class BatchNorm(nn.Module):
    """Batch normalisation over the channels of N×C (after a linear layer) or N×C×H×W input (after a convolution).

    Same parameters, buffers and state-dict keys as ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` (``weight``, ``bias``,
    ``running_mean``, ``running_var``, ``num_batches_tracked``), so their state dicts load into it. ``momentum=None``
    averages all batches seen so far equally, like PyTorch's.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_tensor(x)
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected N×{self.num_features} or N×{self.num_features}×…, got shape {tuple(x.shape)}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average: the k-th batch gets weight 1/k
                momentum = 1.0 / float(self.num_batches_tracked)
        batch_stats = self.training or not self.track_running_stats
        return batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, batch_stats, momentum, self.eps
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


# --- group normalisation and weight standardisation (chapter 13): torch, trainable ----------------------------

def group_norm(
    x: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Group normalisation of an N×C×… tensor (``F.group_norm``'s arguments).

    The C channels are split into ``num_groups`` groups of C / ``num_groups`` neighbouring channels; every example
    is normalised with the mean and (biased) variance of each of its groups, taken over the group's channels and all
    positions. Nothing is averaged over the batch, so an example's output does not depend on the other examples, and
    training and evaluation compute the same thing. Then scale by ``weight`` (γ) and shift by ``bias`` (β), both (C,).
    """
    require_tensor(x)
    if x.dim() < 2:
        raise ValueError(f"x must be N×C or N×C×…, got shape {tuple(x.shape)}")
    n, c = x.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"{c} channels cannot be split into {num_groups} groups of equal size")
    groups = x.reshape(n, num_groups, -1)  # each row: one group of one example, every channel and position
    var, mean = torch.var_mean(groups, dim=-1, keepdim=True, correction=0)
    y = ((groups - mean) / torch.sqrt(var + eps)).reshape(x.shape)
    shape = (1, -1) + (1,) * (x.dim() - 2)  # (C,) -> broadcastable against x
    if weight is not None:
        y = y * weight.view(shape)
    if bias is not None:
        y = y + bias.view(shape)
    return y


BIT_EPS = 1e-10  # the original BiT code's epsilon; timm's StdConv2d defaults to 1e-6, its BiT models use 1e-8


def _standardize(weight: torch.Tensor, eps: float, dims: tuple[int, ...] = (1, 2, 3)) -> torch.Tensor:
    """`weight_standardize` over ``dims`` without argument checks, which torch.fx could not trace (a 4-D kernel)."""
    var, mean = torch.var_mean(weight, dim=dims, keepdim=True, correction=0)
    return (weight - mean) / torch.sqrt(var + eps)


def weight_standardize(weight: torch.Tensor, eps: float = BIT_EPS) -> torch.Tensor:
    """Every output filter ``weight[o]`` minus its mean, divided by its standard deviation (over in-channels × kernel).

    ``(w - mean) / sqrt(var + eps)`` with the biased variance, for an O×I×kH×kW (or O×…) weight; the result has its
    shape. ``eps`` is where implementations differ: 1e-10 in the original BiT code (the default), 1e-6 in timm's
    ``StdConv2d``, 1e-8 in timm's BiT models.
    """
    require_tensor(weight, "weight")
    if weight.dim() < 2:
        raise ValueError(f"weight must have an output dimension and at least one more, got shape {tuple(weight.shape)}")
    return _standardize(weight, eps, tuple(range(1, weight.dim())))


class StdConv2d(nn.Conv2d):
    """``nn.Conv2d`` that convolves with its weight standardised (`weight_standardize`) instead of the weight itself.

    A drop-in replacement: the same arguments, defaults, parameters and state-dict keys as ``nn.Conv2d``, plus
    ``eps``. The stored weight stays as trained; only the convolution sees it standardised, so the gradient flows
    through the standardisation to the stored weight.
    """

    def __init__(self, *args, eps: float = BIT_EPS, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, _standardize(self.weight, self.eps), self.bias)  # nn.Conv2d's, padding_mode too

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps:g}"
