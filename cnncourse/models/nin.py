"""Network in Network (Lin, Chen & Yan, 2013): mlpconv blocks and global average pooling.

An *mlpconv* block replaces a convolution's linear filter by a small multilayer perceptron that slides over the
image: a k×k convolution followed by 1×1 convolutions, each with a ReLU. The last block outputs one map per class
and global average pooling turns every map into that class's score, so there is no fully-connected layer at all.

`nin` follows the paper's CIFAR-10 network (192-160-96 / 192-192-192 / 192-192-classes, 966,986 parameters for 10
classes and 3 input channels). It is meant for small images: 32×32 is its native size, and because its poolings
are padded it accepts any size (there is no minimum).
"""

from __future__ import annotations

import torch
from torch import nn

from .common import check_input_size
from .registry import register_model


def mlpconv(in_channels: int, widths: tuple[int, int, int], kernel_size: int, padding: int) -> nn.Sequential:
    """One mlpconv block: a ``kernel_size`` convolution, then two 1×1 convolutions, each followed by a ReLU."""
    a, b, c = widths
    return nn.Sequential(
        nn.Conv2d(in_channels, a, kernel_size, padding=padding),
        nn.ReLU(inplace=True),
        nn.Conv2d(a, b, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(b, c, 1),
        nn.ReLU(inplace=True),
    )


class NiN(nn.Module):
    """Three mlpconv blocks (the last one ends in one map per class) and global average pooling."""

    min_input_size = 1  # its poolings are padded, so any size works

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0, dropout: float = 0.5):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        w = lambda c: max(1, round(c * width))  # noqa: E731
        self.features = nn.Sequential(
            mlpconv(in_channels, (w(192), w(160), w(96)), kernel_size=5, padding=2),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Dropout(dropout),
            mlpconv(w(96), (w(192), w(192), w(192)), kernel_size=5, padding=2),
            nn.AvgPool2d(3, stride=2, padding=1),
            nn.Dropout(dropout),
            mlpconv(w(192), (w(192), w(192), num_classes), kernel_size=3, padding=1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation: with PyTorch's default the signal fades over nine ReLU layers and nothing learns."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def score_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The per-class maps (N × classes × H/4 × W/4) that global average pooling turns into scores."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_input_size, "nin")
        return torch.flatten(self.pool(self.features(x)), 1)


@register_model(chapter=6, input_size=(3, 32, 32))
def nin(num_classes: int = 10, in_channels: int = 3, *, width: float = 1.0, dropout: float = 0.5) -> NiN:
    """The paper's CIFAR-10 Network in Network; ``width`` scales the hidden channels (the class maps stay)."""
    return NiN(num_classes=num_classes, in_channels=in_channels, width=width, dropout=dropout)
