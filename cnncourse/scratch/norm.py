"""Normalisation layers from scratch: local response normalisation (chapter 02, NumPy) and batch normalisation
(chapter 08, torch and trainable: `batch_norm`, `BatchNorm`).

Chapter 13 adds group normalisation and weight standardisation here.
"""

from __future__ import annotations

import numpy as np
import torch
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
