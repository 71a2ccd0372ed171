"""The check every chapter repeats: our model takes the reference's weights and computes the same function.

`check_twin` loads a reference model's state dict (torchvision's, or timm's through a key map) into ours, runs both
on the same input and reports what did not match: missing and unexpected keys, and the largest absolute difference
between their outputs. Models that return several outputs (GoogLeNet and Inception-v3 with their auxiliary heads in
training mode) are compared output by output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

KeyMap = Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class TwinReport:
    """What `check_twin` found. ``ok`` is True when no key is missing or unexpected and the outputs agree."""

    missing_keys: list[str]
    unexpected_keys: list[str]
    output_shapes: list[tuple[int, ...]]
    max_abs_diff: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return not self.missing_keys and not self.unexpected_keys and self.max_abs_diff < self.tolerance

    def __str__(self) -> str:
        shapes = ", ".join(str(s) for s in self.output_shapes) or "not compared"
        return (
            f"missing keys: {self.missing_keys}, unexpected keys: {self.unexpected_keys}\n"
            f"output shape {shapes}, max abs difference < {self.tolerance:g}: {self.max_abs_diff < self.tolerance}"
        )


def _outputs(out) -> list[torch.Tensor]:
    """A model's output as a flat list of tensors (a tensor, a tuple, or a namedtuple of main and aux logits)."""
    return [t for t in tree_flatten(tuple(out) if isinstance(out, tuple) else out)[0] if isinstance(t, torch.Tensor)]


def check_twin(
    ours: nn.Module,
    reference: nn.Module,
    x: torch.Tensor,
    *,
    key_map: KeyMap | None = None,
    tolerance: float = 1e-5,
    train: bool = False,
    assign: bool = False,
    seed: int = 0,
) -> TwinReport:
    """Load ``reference``'s state dict into ``ours`` and compare both models' outputs on ``x``.

    - ``key_map`` turns the reference's state dict into ours (timm names layers differently).
    - ``train=True`` compares training-mode outputs (auxiliary heads, batch statistics); the random-number generator
      is seeded with ``seed`` before each forward pass, so both models draw the same dropout masks.
    - ``assign=True`` lets ``ours`` take the reference's tensors instead of copying them, which is what a model built
      on the ``meta`` device needs (and saves initialising a large model twice).

    Both models end in eval mode (or train mode with ``train=True``). A shape mismatch raises PyTorch's own error,
    which names the parameter; missing or unexpected keys are reported and the outputs are then not compared.
    """
    state = reference.state_dict()
    if key_map is not None:
        state = key_map(state)
    result = ours.load_state_dict(state, strict=False, assign=assign)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing or unexpected:
        return TwinReport(missing, unexpected, [], float("inf"), tolerance)
    ours.train(train)
    reference.train(train)
    with torch.no_grad():
        torch.manual_seed(seed)
        got = _outputs(ours(x))
        torch.manual_seed(seed)
        expected = _outputs(reference(x))
    if len(got) != len(expected) or any(a.shape != b.shape for a, b in zip(got, expected)):
        raise ValueError(
            f"the models return different outputs: ours {[tuple(t.shape) for t in got]}, "
            f"the reference {[tuple(t.shape) for t in expected]}"
        )
    diff = max(float((a.float() - b.float()).abs().max()) for a, b in zip(got, expected))
    return TwinReport(missing, unexpected, [tuple(t.shape) for t in got], diff, tolerance)
