"""VGG (Simonyan & Zisserman, 2014): every network of the family from one list per configuration.

A configuration lists the convolutions' output channels in order, with ``"M"`` for a 2×2 max pooling. Every
convolution is 3×3 with padding 1 (it keeps the size), so only the poolings shrink the image: five of them take
224 to 7. `make_layers` turns a list into the convolutional part; `VGG` adds the classifier.

The eight ImageNet builders (`vgg11` … `vgg19_bn`) are state-dict compatible with torchvision's and take
``weights=``. They accept any input of at least 32×32 pixels (the five poolings need 32 to leave one pixel);
at 32×32 the adaptive pooling repeats that pixel 7×7 times, which works but wastes the 102.8 M-parameter first
fully-connected layer. For small images build ``vgg(config, small_input=True, ...)``: it pools to 1×1 and uses a
narrow classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models import WeightsEnum

from .common import check_input_size, min_input_size
from .registry import register_model
from .weights import check_num_classes, load_weights, resolve_weights

# The paper's table 1: A = 11 weight layers, B = 13, D = 16, E = 19 (8/10/13/16 convolutions + 3 FC layers).
CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
DEPTH_TO_CONFIG = {11: "A", 13: "B", 16: "D", 19: "E"}


def make_layers(config: Sequence[int | str], batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """3×3 conv (+ BatchNorm) + ReLU for every number in ``config``, a 2×2 max pooling for every ``"M"``."""
    layers: list[nn.Module] = []
    channels = in_channels
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        if not isinstance(item, int) or item < 1:
            raise ValueError(f"a VGG config holds positive channel counts and 'M', got {item!r}")
        layers.append(nn.Conv2d(channels, item, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features`` (from `make_layers`), adaptive average pooling to ``pool``×``pool``, and three FC layers.

    Names and order follow torchvision (``features``, ``avgpool``, ``classifier``), so state dicts interchange.
    """

    def __init__(
        self,
        features: nn.Sequential,
        num_classes: int = 1000,
        dropout: float = 0.5,
        pool: int = 7,
        hidden: int = 4096,
        init_weights: bool = True,
        name: str = "VGG",
        linear_std: float | None = 0.01,
    ) -> None:
        super().__init__()
        self.name = name
        self.features = features
        channels = [m for m in features if isinstance(m, nn.Conv2d)][-1].out_channels
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool * pool, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        self.min_input_size = min_input_size(features)
        self.linear_std = linear_std
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """He init for convolutions (fan-out); linear layers N(0, ``linear_std``²), or He init if it is None.

        torchvision's 0.01 suits 4096-wide layers; a narrow classifier needs He init or its signal vanishes.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                if self.linear_std is None:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                else:
                    nn.init.normal_(m.weight, 0.0, self.linear_std)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_input_size, self.name)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg(
    config: str | int | Sequence[int | str] = "D",
    *,
    batch_norm: bool = False,
    num_classes: int = 1000,
    in_channels: int = 3,
    width: float = 1.0,
    small_input: bool = False,
    hidden: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """Any VGG: ``config`` is ``"A"``/``"B"``/``"D"``/``"E"``, a depth (11/13/16/19) or a list of its own.

    ``width`` scales every channel count (e.g. 0.25 for a quick experiment). ``small_input=True`` is the variant
    for 32×32 images: adaptive pooling to 1×1 and ``hidden`` (default 512·width) units in the classifier instead
    of 7×7 and 4096, initialised with He's rule instead of N(0, 0.01²).
    """
    if isinstance(config, int):
        if config not in DEPTH_TO_CONFIG:
            raise ValueError(f"VGG comes in depths {sorted(DEPTH_TO_CONFIG)}, not {config}")
        config = DEPTH_TO_CONFIG[config]
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"unknown VGG configuration {config!r}; use one of {', '.join(CONFIGS)} or a list")
        config = CONFIGS[config]
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    scaled = [max(1, round(c * width)) if isinstance(c, int) else c for c in config]
    if hidden is None:
        hidden = max(1, round(512 * width)) if small_input else 4096
    features = make_layers(scaled, batch_norm=batch_norm, in_channels=in_channels)
    return VGG(
        features, num_classes, dropout, pool=1 if small_input else 7, hidden=hidden,
        linear_std=None if small_input else 0.01,
    )


def _vgg(name: str, config: str, batch_norm: bool, weights, progress: bool, num_classes: int, dropout: float) -> VGG:
    w = resolve_weights(name, weights)
    check_num_classes(name, w, num_classes)
    model = VGG(
        make_layers(CONFIGS[config], batch_norm), num_classes, dropout, init_weights=w is None, name=name
    )
    return load_weights(model, w, progress)  # type: ignore[return-value]


@register_model(chapter=5, twin="torchvision")
def vgg11(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
          dropout: float = 0.5) -> VGG:
    """VGG-11 (configuration A), 132,863,336 parameters; ``weights=`` loads torchvision's ImageNet weights."""
    return _vgg("vgg11", "A", False, weights, progress, num_classes, dropout)


@register_model(chapter=5, twin="torchvision")
def vgg11_bn(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
             dropout: float = 0.5) -> VGG:
    """VGG-11 with batch normalisation after every convolution."""
    return _vgg("vgg11_bn", "A", True, weights, progress, num_classes, dropout)


@register_model(chapter=5, twin="torchvision")
def vgg13(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
          dropout: float = 0.5) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg("vgg13", "B", False, weights, progress, num_classes, dropout)


@register_model(chapter=5, twin="torchvision")
def vgg13_bn(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
             dropout: float = 0.5) -> VGG:
    """VGG-13 with batch normalisation after every convolution."""
    return _vgg("vgg13_bn", "B", True, weights, progress, num_classes, dropout)


@register_model(chapter=5, twin="torchvision")
def vgg16(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
          dropout: float = 0.5) -> VGG:
    """VGG-16 (configuration D), 138,357,544 parameters."""
    return _vgg("vgg16", "D", False, weights, progress, num_classes, dropout)


@register_model(chapter=5, twin="torchvision")
def vgg16_bn(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
             dropout: float = 0.5) -> VGG:
    """VGG-16 with batch normalisation after every convolution."""
    return _vgg("vgg16_bn", "D", True, weights, progress, num_classes, dropout)


@register_model(chapter=5, twin="torchvision")
def vgg19(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
          dropout: float = 0.5) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg("vgg19", "E", False, weights, progress, num_classes, dropout)


@register_model(chapter=5, twin="torchvision")
def vgg19_bn(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
             dropout: float = 0.5) -> VGG:
    """VGG-19 with batch normalisation after every convolution, 143,678,248 parameters."""
    return _vgg("vgg19_bn", "E", True, weights, progress, num_classes, dropout)
