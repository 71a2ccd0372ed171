"""Helpers the model families share: the smallest input a network accepts, and a clear error below it.

A stack of convolutions and poolings shrinks the image; below some side length one of them has nothing left to
slide over and PyTorch fails deep inside with a shape error. `min_input_size` works that length out from the
layers themselves (walking backwards from a 1×1 output) and `check_input_size` turns a too-small input into a
``ValueError`` that names it.

The check is plain Python that branches on the input's shape. PyTorch's tracers (``torch.fx`` and with it
torchvision's feature extraction, ``torch.jit.trace``, ``torch.compile``) replace the input by a symbol, and a branch
on a symbol either fails or bakes one shape in, so `check_input_size` steps aside while one of them runs
(`is_tracing`): a traced model is checked by PyTorch's own shape errors, an eager one by ours.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

try:  # torch >= 2.9 names the check for symbolic tracing alone (is_fx_tracing also answers for torch.export)
    from torch.fx._symbolic_trace import is_fx_symbolic_tracing as _fx_tracing
except ImportError:
    from torch.fx._symbolic_trace import is_fx_tracing as _fx_tracing


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


def is_tracing() -> bool:
    """True while torch.fx, torch.jit or torch.compile traces a model (then shape checks must not branch)."""
    return _fx_tracing() or torch.jit.is_tracing() or torch.compiler.is_compiling()


def check_input_size(
    x: torch.Tensor, minimum: int, model: str, *, exact: bool = False, why: str = "", fix: str = ""
) -> None:
    """Raise a ``ValueError`` naming ``model``'s input size when ``x`` is not N×C×H×W or smaller than ``minimum``.

    ``exact=True`` demands exactly ``minimum``×``minimum`` (LeNet-5); its message adds ``why`` and ``fix``. An unbatched
    C×H×W image gets a message of its own, because PyTorch's convolutions would accept it and a model's head would
    then fail (or, worse, return a wrongly shaped result) far from the cause. Skipped while tracing (`is_tracing`).
    """
    if is_tracing():
        return
    if x.dim() == 3:
        raise ValueError(
            f"{model} expects a batch of images N×C×H×W, got one unbatched image of shape {tuple(x.shape)}; "
            f"add the batch dimension with x.unsqueeze(0) (and take [0] of the result)"
        )
    h, w = x.shape[-2:] if x.dim() >= 2 else (0, 0)
    if exact and (x.dim() != 4 or (h, w) != (minimum, minimum)):
        raise ValueError(f"{model} needs N×C×{minimum}×{minimum} input ({why}), got shape {tuple(x.shape)}; {fix}")
    if x.dim() != 4:
        raise ValueError(f"{model} expects a batch of images N×C×H×W, got a tensor of shape {tuple(x.shape)}")
    if h < minimum or w < minimum:
        raise ValueError(
            f"{model} needs inputs of at least {minimum}×{minimum} pixels, got {h}×{w}; "
            f"resize the images (e.g. torch.nn.functional.interpolate) or use a model meant for small images"
        )
