"""LeNet-5 (LeCun et al., 1998) as it is commonly taught: average pooling, a fully connected C3, a linear output.

The original differs in three details the course's chapter 03 counts: trainable sub-sampling (a coefficient and
a bias per map), a sparse C3 connection table, and an RBF output layer — 60,000 trainable parameters instead of
this version's 61,706.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .common import check_input_size
from .registry import register_model

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class LeNet5(nn.Sequential):
    """C1 conv 6@5×5 → S2 avg-pool → C3 conv 16@5×5 → S4 avg-pool → C5 conv 120@5×5 → F6 84 → output."""

    min_input_size = 32  # and the only size: C5 must see exactly a 5×5 map

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "tanh") -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        act = ACTIVATIONS[activation]
        super().__init__(
            OrderedDict(
                c1=nn.Conv2d(in_channels, 6, kernel_size=5),  # 32×32 -> 28×28
                act1=act(),
                s2=nn.AvgPool2d(2),  # -> 14×14
                c3=nn.Conv2d(6, 16, kernel_size=5),  # -> 10×10
                act3=act(),
                s4=nn.AvgPool2d(2),  # -> 5×5
                c5=nn.Conv2d(16, 120, kernel_size=5),  # -> 1×1: a "convolution" that sees the whole 5×5 map
                act5=act(),
                flatten=nn.Flatten(),
                f6=nn.Linear(120, 84),
                act6=act(),
                output=nn.Linear(84, num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(
            x, self.min_input_size, "LeNet-5", exact=True,
            why="C5's 5×5 kernel must cover exactly the 5×5 map left after S4",
            fix="pad 28×28 MNIST digits by 2 pixels on each side",
        )
        return super().forward(x)


@register_model(chapter=3, input_size=(1, 32, 32))
def lenet5(num_classes: int = 10, in_channels: int = 1, activation: str = "tanh") -> LeNet5:
    """LeNet-5 for 32×32 inputs (61,706 parameters with 1 input channel and 10 classes)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels, activation=activation)
