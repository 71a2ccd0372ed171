"""EfficientNet (Tan & Le, 2019): one small network, B0, and a rule that scales it up into B1 … B7.

- `SqueezeExcitation`: global average pooling → 1×1 conv down → SiLU → 1×1 conv up → sigmoid, and the input's
  channels multiplied by the result (Hu et al., 2017): a per-channel gate computed from the whole image.
- `MBConv`, the mobile inverted bottleneck (MobileNetV2 + SE): expand with a 1×1 convolution, filter with a k×k
  *depthwise* convolution, gate with squeeze-excitation, project back with a 1×1 convolution (no activation).
  The residual connection exists only where input and output have the same shape; stochastic depth drops that
  residual branch for whole images while training.
- `B0_STAGES`: B0's table of seven stages (the paper's table 1). `scale_stages` turns it into any family member:
  channels × width multiplier rounded to a multiple of 8 (`make_divisible`), repeats × depth multiplier rounded up.
- `VARIANTS`: for B0 … B7 the width and depth multipliers, the paper's resolution and the dropout rate of the
  released models (`compound_scaling` gives the idealised rule they come from).

The eight builders are state-dict compatible with torchvision's (module names ``features``, ``avgpool``,
``classifier`` and torchvision's ``block.N`` numbering inside every MBConv) and take ``weights=`` through
torchvision's enums. Each is registered at the input size of torchvision's weights (B0 224 … B7 600), which is
where their published accuracy was measured. EfficientNet-B0 has 5,288,548 parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch
import torchvision.models as tvm
from torch import nn
from torchvision.models import WeightsEnum

from .common import check_input_size, min_input_size
from .registry import register_model
from .weights import check_num_classes, load_weights, resolve_weights

NormLayer = Callable[[int], nn.Module]


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), never more than 10% below it.

    Hardware runs channel counts that are multiples of 8 faster; the 10% guard keeps small layers from shrinking.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# --- blocks ----------------------------------------------------------------------------------------------------

class ConvBNAct(nn.Sequential):
    """Convolution (no bias, "same" padding) → BatchNorm → SiLU (unless ``activation=False``); keys ``0``, ``1``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
        norm_layer: NormLayer = nn.BatchNorm2d, activation: bool = True,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=(kernel_size - 1) // 2, groups=groups,
                      bias=False),
            norm_layer(out_channels),
        ]
        if activation:
            layers.append(nn.SiLU(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Rescales each channel by a gate in (0, 1) computed from the channel means of the whole image.

    N×C×H×W → N×C×H×W. ``fc1``/``fc2`` are 1×1 convolutions C → ``squeeze_channels`` → C (torchvision's names).
    """

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.activation = nn.SiLU(inplace=True)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.scale_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))  # N×C×1×1
        return x * gate


class StochasticDepth(nn.Module):
    """While training, zero the input for each image with probability ``p`` and scale survivors by 1 / (1 − p).

    Applied to a residual branch it skips the whole block for that image (Huang et al., 2016); identity in eval.
    Draws its random numbers exactly as ``torchvision.ops.StochasticDepth(p, "row")`` does.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"the drop probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        keep = torch.empty([x.shape[0]] + [1] * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            keep.div_(survival)
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1×1 expand → k×k depthwise → squeeze-excitation → 1×1 project (+ residual).

    The expansion is skipped when ``expand_ratio`` is 1 (then ``block`` starts with the depthwise convolution, as
    in torchvision). The SE bottleneck has a quarter of the block's *input* channels. The residual (with
    stochastic depth ``stochastic_depth_prob``) is used only when ``stride == 1`` and the channels stay the same.
    """

    def __init__(
        self, in_channels: int, out_channels: int, expand_ratio: float, kernel_size: int, stride: int,
        stochastic_depth_prob: float = 0.0, norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"MBConv's stride is 1 or 2, got {stride}")
        expanded = make_divisible(in_channels * expand_ratio)
        layers: list[nn.Module] = []
        if expanded != in_channels:
            layers.append(ConvBNAct(in_channels, expanded, 1, norm_layer=norm_layer))
        layers += [
            ConvBNAct(expanded, expanded, kernel_size, stride, groups=expanded, norm_layer=norm_layer),
            SqueezeExcitation(expanded, max(1, in_channels // 4)),
            ConvBNAct(expanded, out_channels, 1, norm_layer=norm_layer, activation=False),
        ]
        self.block = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_res_connect:  # a constructor flag, not a check of the tensor
            out = self.stochastic_depth(out) + x
        return out


# --- the family ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """One row of the stage table: ``repeats`` MBConv blocks; only the first has ``stride`` and ``in_channels``."""

    expand_ratio: int
    kernel_size: int
    stride: int
    in_channels: int
    out_channels: int
    repeats: int


# EfficientNet-B0 (the paper's table 1, without the stem and head): input 224×224, stem 3×3/2 conv to 32 channels,
# then these stages (resolutions 112, 112, 56, 28, 14, 14, 7), then a 1×1 conv to 4 × 320 = 1280 channels.
B0_STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 32, 16, 1),
    Stage(6, 3, 2, 16, 24, 2),
    Stage(6, 5, 2, 24, 40, 2),
    Stage(6, 3, 2, 40, 80, 3),
    Stage(6, 5, 1, 80, 112, 3),
    Stage(6, 5, 2, 112, 192, 4),
    Stage(6, 3, 1, 192, 320, 1),
)


def scale_stages(width_mult: float, depth_mult: float, stages: Sequence[Stage] = B0_STAGES) -> list[Stage]:
    """``stages`` with channels × ``width_mult`` (to multiples of 8) and repeats × ``depth_mult`` (rounded up)."""
    return [
        replace(s, in_channels=make_divisible(s.in_channels * width_mult),
                out_channels=make_divisible(s.out_channels * width_mult),
                repeats=math.ceil(s.repeats * depth_mult))
        for s in stages
    ]


@dataclass(frozen=True)
class Variant:
    """How one family member is scaled from B0, and the dropout rate before its classifier."""

    width: float
    depth: float
    resolution: int  # the paper's input side length in pixels
    dropout: float
    # B5–B7's weights were trained in TensorFlow, whose BatchNorm uses eps 1e-3 (momentum 0.99 there = 0.01 here)
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1


# The released coefficients (the paper's official code, which torchvision copies). They follow the compound
# rule only roughly: see `compound_scaling` and chapter 14.
VARIANTS: dict[str, Variant] = {
    "b0": Variant(1.0, 1.0, 224, 0.2),
    "b1": Variant(1.0, 1.1, 240, 0.2),
    "b2": Variant(1.1, 1.2, 260, 0.3),
    "b3": Variant(1.2, 1.4, 300, 0.3),
    "b4": Variant(1.4, 1.8, 380, 0.4),
    "b5": Variant(1.6, 2.2, 456, 0.4, bn_eps=1e-3, bn_momentum=0.01),
    "b6": Variant(1.8, 2.6, 528, 0.5, bn_eps=1e-3, bn_momentum=0.01),
    "b7": Variant(2.0, 3.1, 600, 0.5, bn_eps=1e-3, bn_momentum=0.01),
}


def compound_scaling(
    phi: float, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15, resolution: int = 224
) -> tuple[float, float, int]:
    """The paper's rule: depth × α^φ, width × β^φ, resolution × γ^φ (rounded to pixels); α·β²·γ² ≈ 2 per step of φ.

    Returns ``(depth_mult, width_mult, resolution)``.
    """
    return alpha**phi, beta**phi, round(resolution * gamma**phi)


class EfficientNet(nn.Module):
    """Stem (3×3 conv, stride ``stem_stride``) → MBConv stages → 1×1 conv to 4× the channels → pooling → dropout + FC.

    ``stages`` is a stage table (`B0_STAGES` or `scale_stages`' result). Stochastic depth grows linearly from 0 at
    the first block to ``stochastic_depth_prob`` (excluded) at the last. ``features`` holds the stem, one
    ``nn.Sequential`` per stage and the head conv, as in torchvision.
    """

    def __init__(
        self,
        stages: Sequence[Stage],
        dropout: float = 0.2,
        num_classes: int = 1000,
        stochastic_depth_prob: float = 0.2,
        norm_layer: NormLayer = nn.BatchNorm2d,
        in_channels: int = 3,
        stem_stride: int = 2,
        name: str = "EfficientNet",
    ) -> None:
        super().__init__()
        if not stages:
            raise ValueError("EfficientNet needs at least one stage")
        self.name = name
        layers: list[nn.Module] = [ConvBNAct(in_channels, stages[0].in_channels, 3, stem_stride, norm_layer=norm_layer)]
        total, index = sum(s.repeats for s in stages), 0
        for s in stages:
            blocks = []
            for i in range(s.repeats):
                blocks.append(MBConv(
                    s.in_channels if i == 0 else s.out_channels, s.out_channels, s.expand_ratio, s.kernel_size,
                    s.stride if i == 0 else 1, stochastic_depth_prob * index / total, norm_layer,
                ))
                index += 1
            layers.append(nn.Sequential(*blocks))
        head_channels = 4 * stages[-1].out_channels
        layers.append(ConvBNAct(stages[-1].out_channels, head_channels, 1, norm_layer=norm_layer))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(head_channels, num_classes))
        self.min_input_size = min_input_size(self.features.modules())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation: He (fan-out) for convolutions, U(±1/√out) for the classifier."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_input_size, self.name)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def crop_size(variant: str) -> int:
    """Side length torchvision's default weights for ``efficientnet_<variant>`` were evaluated at (B2: 288, not 260)."""
    return tvm.get_model_weights(f"efficientnet_{variant}").DEFAULT.transforms.keywords["crop_size"]


def _efficientnet(
    variant: str, weights: WeightsEnum | str | None, progress: bool, num_classes: int, dropout: float | None,
    stochastic_depth_prob: float,
) -> EfficientNet:
    name = f"efficientnet_{variant}"
    v = VARIANTS[variant]
    w = resolve_weights(name, weights)
    check_num_classes(name, w, num_classes)
    norm_layer = partial(nn.BatchNorm2d, eps=v.bn_eps, momentum=v.bn_momentum)
    model = EfficientNet(
        scale_stages(v.width, v.depth), v.dropout if dropout is None else dropout, num_classes,
        stochastic_depth_prob, norm_layer, name=name,
    )
    return load_weights(model, w, progress)  # type: ignore[return-value]


def _register(variant: str):
    return register_model(chapter=14, input_size=(3, crop_size(variant), crop_size(variant)), twin="torchvision")


@_register("b0")
def efficientnet_b0(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    dropout: float | None = None, stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B0 (5,288,548 parameters, 224×224); ``weights=`` loads torchvision's ImageNet weights.

    ``dropout=None`` takes the variant's own rate (`VARIANTS`).
    """
    return _efficientnet("b0", weights, progress, num_classes, dropout, stochastic_depth_prob)


@_register("b1")
def efficientnet_b1(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    dropout: float | None = None, stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B1: B0 with 1.1× the depth (240×240)."""
    return _efficientnet("b1", weights, progress, num_classes, dropout, stochastic_depth_prob)


@_register("b2")
def efficientnet_b2(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    dropout: float | None = None, stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B2: 1.1× width, 1.2× depth (the paper's 260×260; torchvision's weights use 288×288)."""
    return _efficientnet("b2", weights, progress, num_classes, dropout, stochastic_depth_prob)


@_register("b3")
def efficientnet_b3(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    dropout: float | None = None, stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B3: 1.2× width, 1.4× depth (300×300)."""
    return _efficientnet("b3", weights, progress, num_classes, dropout, stochastic_depth_prob)


@_register("b4")
def efficientnet_b4(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    dropout: float | None = None, stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B4: 1.4× width, 1.8× depth (380×380)."""
    return _efficientnet("b4", weights, progress, num_classes, dropout, stochastic_depth_prob)


@_register("b5")
def efficientnet_b5(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    dropout: float | None = None, stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B5: 1.6× width, 2.2× depth (456×456); BatchNorm eps 1e-3 like its TensorFlow-trained weights."""
    return _efficientnet("b5", weights, progress, num_classes, dropout, stochastic_depth_prob)


@_register("b6")
def efficientnet_b6(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    dropout: float | None = None, stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B6: 1.8× width, 2.6× depth (528×528); BatchNorm eps 1e-3."""
    return _efficientnet("b6", weights, progress, num_classes, dropout, stochastic_depth_prob)


@_register("b7")
def efficientnet_b7(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    dropout: float | None = None, stochastic_depth_prob: float = 0.2) -> EfficientNet:
    """EfficientNet-B7: 2.0× width, 3.1× depth (600×600); BatchNorm eps 1e-3."""
    return _efficientnet("b7", weights, progress, num_classes, dropout, stochastic_depth_prob)
