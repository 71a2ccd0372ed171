"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) in two versions.

- `alexnet`: torchvision's version (from Krizhevsky's 2014 "One weird trick" paper: 64/192/384/256/256 filters, no
  LRN), state-dict compatible with ``torchvision.models.alexnet`` so ``weights=`` loads its ImageNet weights.
  61,100,840 parameters for 1000 classes.
- `alexnet_paper`: the 2012 paper's version: 96/256/384/384/256 filters and local response normalisation after
  the first two convolutions. As one tower (every convolution sees all channels of the previous layer, the layout
  of the seed material) it has 62,378,344 parameters; with ``two_towers=True`` the 2nd, 4th and 5th convolutions
  are split in two groups the way the paper split them over two GPUs, 60,965,224 parameters.

Both are ImageNet models: they need inputs of at least 63×63 pixels (224×224 is what they were trained on) and
raise a ``ValueError`` saying so for smaller ones. For 32×32 images use a small network (chapters 03, 06).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import WeightsEnum

from .common import check_input_size, min_input_size
from .registry import register_model
from .weights import check_num_classes, load_weights, resolve_weights


def paper_lrn() -> nn.LocalResponseNorm:
    """The paper's LRN (k=2, n=5, α=1e-4, β=0.75); PyTorch divides α by n, so it is given α = 5·1e-4."""
    return nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)


class AlexNet(nn.Module):
    """Convolutional ``features``, adaptive average pooling to 6×6, and a three-layer classifier with dropout.

    Module names and order follow torchvision (``features``, ``avgpool``, ``classifier``), which is what makes the
    state dicts interchangeable.
    """

    def __init__(
        self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5, name: str = "AlexNet"
    ) -> None:
        super().__init__()
        self.name = name
        self.features = features
        channels = [m for m in features if isinstance(m, nn.Conv2d)][-1].out_channels
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(channels * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        self.min_input_size = min_input_size(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_input_size, self.name)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def _features(widths: tuple[int, ...], lrn: bool, groups: tuple[int, ...] = (1, 1, 1, 1, 1)) -> nn.Sequential:
    """conv11/4 → pool → conv5 → pool → conv3 → conv3 → conv3 → pool, ReLU after every conv, LRN optional."""
    c1, c2, c3, c4, c5 = widths
    g = groups
    layers: list[nn.Module] = [nn.Conv2d(3, c1, 11, stride=4, padding=2, groups=g[0]), nn.ReLU(inplace=True)]
    layers += [paper_lrn()] if lrn else []
    layers += [nn.MaxPool2d(3, stride=2), nn.Conv2d(c1, c2, 5, padding=2, groups=g[1]), nn.ReLU(inplace=True)]
    layers += [paper_lrn()] if lrn else []
    layers += [
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(c2, c3, 3, padding=1, groups=g[2]),
        nn.ReLU(inplace=True),
        nn.Conv2d(c3, c4, 3, padding=1, groups=g[3]),
        nn.ReLU(inplace=True),
        nn.Conv2d(c4, c5, 3, padding=1, groups=g[4]),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
    ]
    return nn.Sequential(*layers)


@register_model(chapter=4, twin="torchvision")
def alexnet(
    weights: WeightsEnum | str | None = None,
    progress: bool = True,
    *,
    num_classes: int = 1000,
    dropout: float = 0.5,
) -> AlexNet:
    """torchvision's AlexNet (64/192/384/256/256 filters); ``weights="DEFAULT"`` loads its ImageNet weights."""
    w = resolve_weights("alexnet", weights)
    check_num_classes("alexnet", w, num_classes)
    model = AlexNet(_features((64, 192, 384, 256, 256), lrn=False), num_classes, dropout, name="alexnet")
    return load_weights(model, w, progress)  # type: ignore[return-value]


@register_model(chapter=4)
def alexnet_paper(*, num_classes: int = 1000, dropout: float = 0.5, two_towers: bool = False) -> AlexNet:
    """The 2012 paper's AlexNet: 96/256/384/384/256 filters, LRN after conv1 and conv2 (62,378,344 parameters).

    ``two_towers=True`` splits conv2, conv4 and conv5 into two groups, as the paper's two GPUs did (60,965,224).
    """
    groups = (1, 2, 1, 2, 2) if two_towers else (1, 1, 1, 1, 1)
    name = "alexnet_paper(two_towers)" if two_towers else "alexnet_paper"
    return AlexNet(_features((96, 256, 384, 384, 256), lrn=True, groups=groups), num_classes, dropout, name=name)
