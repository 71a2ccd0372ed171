"""Helpers the model families share: the smallest input a network accepts, and a clear error below it.

A stack of convolutions and poolings shrinks the image; below some side length one of them has nothing left to
slide over and PyTorch fails deep inside with a shape error. `min_input_size` works that length out from the
layers themselves (walking backwards from a 1×1 output) and `check_input_size` turns a too-small input into a
``ValueError`` that names it.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def min_input_size(layers: Iterable[nn.Module]) -> int:
    """Smallest square side length for which every conv / pooling in ``layers`` (in order) has an output ≥ 1.

    Uses ``out = floor((in + 2p - d(k-1) - 1) / s) + 1`` in reverse; layers without a spatial window are skipped,
    adaptive poolings accept any size. ``ceil_mode`` poolings are not supported.
    """
    windows = []
    for m in layers:
        if isinstance(m, nn.Conv2d):
            k, s, p, d = _pair(m.kernel_size)[0], _pair(m.stride)[0], _pair(m.padding)[0], _pair(m.dilation)[0]
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            if m.ceil_mode:
                raise ValueError("min_input_size does not handle ceil_mode poolings")
            k, s, p = _pair(m.kernel_size)[0], _pair(m.stride or m.kernel_size)[0], _pair(m.padding)[0]
            d = _pair(getattr(m, "dilation", 1))[0]
        else:
            continue
        windows.append((k, s, p, d))
    size = 1
    for k, s, p, d in reversed(windows):
        size = max(1, (size - 1) * s + d * (k - 1) + 1 - 2 * p)
    return size


def check_input_size(x: torch.Tensor, minimum: int, model: str) -> None:
    """Raise a ``ValueError`` naming ``model``'s minimum input size when ``x`` (N×C×H×W) is smaller."""
    if x.dim() != 4:
        raise ValueError(f"{model} expects a batch of images N×C×H×W, got a tensor of shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h < minimum or w < minimum:
        raise ValueError(
            f"{model} needs inputs of at least {minimum}×{minimum} pixels, got {h}×{w}; "
            f"resize the images (e.g. torch.nn.functional.interpolate) or use a model meant for small images"
        )
