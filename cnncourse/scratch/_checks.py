"""Argument checks the from-scratch operations share: the right array type, 4-D arrays, (height, width) pairs."""

from __future__ import annotations

from typing import Any

import numpy as np

IntPair = int | tuple[int, int]


def _type_name(x: Any) -> str:
    return f"{type(x).__module__}.{type(x).__qualname__}"


def require_numpy(x: Any, name: str = "x") -> None:
    """A clear ``TypeError`` when a NumPy operation (chapters 01–02) is handed a torch tensor or anything else."""
    if isinstance(x, np.ndarray):
        return
    hint = ""
    if type(x).__module__.startswith("torch"):
        hint = "; convert it with .numpy(), or use torch.nn.functional's version for tensors"
    raise TypeError(f"this cnncourse.scratch operation takes NumPy arrays, but {name} is a {_type_name(x)}{hint}")


def require_tensor(x: Any, name: str = "x") -> None:
    """A clear ``TypeError`` when a torch operation (chapters 08 on, trainable) is handed a NumPy array or else."""
    import torch

    if isinstance(x, torch.Tensor):
        return
    hint = "; convert it with torch.from_numpy" if isinstance(x, np.ndarray) else ""
    raise TypeError(f"this cnncourse.scratch operation takes torch tensors, but {name} is a {_type_name(x)}{hint}")


def _pair(value: IntPair, name: str) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays; anything else is a ValueError."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name} must be an int or a (height, width) pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_4d(x: np.ndarray, name: str = "x") -> None:
    require_numpy(x, name)
    if np.ndim(x) != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got {np.ndim(x)}-D with shape {np.shape(x)}")
