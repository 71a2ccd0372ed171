"""ResNet (He, Zhang, Ren & Sun, 2015): residual blocks, the ImageNet family and the paper's CIFAR-10 networks.

A residual block computes ``relu(F(x) + shortcut(x))``: its layers learn the *difference* ``F`` from the identity.
Two blocks do all the work:

- `BasicBlock`: two 3×3 convolutions (ResNet-18/34 and every CIFAR network);
- `Bottleneck`: a 1×1 convolution that narrows the channels by ``expansion`` = 4, a 3×3 convolution, and a 1×1
  convolution that widens them again (ResNet-50/101/152; with ``groups`` ResNeXt, with ``base_width`` Wide ResNet).

When a block changes the shape (stride 2, more channels) the shortcut must too. The paper's option **A** keeps it
free of parameters (`ZeroPadShortcut`: take every other pixel, append zero channels); option **B** uses a 1×1
convolution + norm (a *projection*), which is what torchvision's networks have. ``shortcut=None`` builds the same
network without any shortcut: the paper's *plain* baseline.

One class, `ResNet`, builds all of them: `resnet18` … `resnet152` are state-dict compatible with torchvision's
(same keys, shapes and eval-mode outputs; ``weights=`` loads its ImageNet weights), and `resnet_cifar` /
`plain_cifar` build the paper's section 4.2 networks (a 3×3 stem, three stages of 16/32/64 channels, 6n+2 layers).
Note that torchvision's (and so our) `Bottleneck` puts the stride on its 3×3 convolution, not on the first 1×1 as
the paper does ("ResNet v1.5"): same parameters, slightly more FLOPs, slightly better accuracy (NVIDIA's report).

The blocks take ``norm_layer`` and ``conv_layer`` so that other chapters can swap them (GroupNorm and
weight-standardised convolutions for BiT); `conv3x3` and `conv1x1` are the helpers every block uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import WeightsEnum

from .common import check_input_size, min_input_size
from .registry import register_model
from .weights import check_num_classes, load_weights, overwrite_named_param, resolve_weights

ConvLayer = Callable[..., nn.Module]
NormLayer = Callable[[int], nn.Module]


def conv3x3(
    in_planes: int,
    out_planes: int,
    stride: int = 1,
    groups: int = 1,
    dilation: int = 1,
    conv_layer: ConvLayer = nn.Conv2d,
) -> nn.Module:
    """3×3 convolution without bias (a norm follows), padded so that stride 1 keeps the size."""
    return conv_layer(
        in_planes, out_planes, 3, stride=stride, padding=dilation, groups=groups, bias=False, dilation=dilation
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1, conv_layer: ConvLayer = nn.Conv2d) -> nn.Module:
    """1×1 convolution without bias: mixes channels at every pixel (a projection shortcut with ``stride``)."""
    return conv_layer(in_planes, out_planes, 1, stride=stride, bias=False)


def he_init(model: nn.Module) -> None:
    """He initialisation (fan-out) for every convolution, BatchNorm and GroupNorm at scale 1 / shift 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: keep every ``stride``-th pixel and append ``extra`` all-zero channels; no parameters.

    N×C×H×W → N×(C+extra)×⌈H/stride⌉×⌈W/stride⌉, the shape the block's strided 3×3 convolution gives.
    """

    def __init__(self, stride: int, extra: int) -> None:
        super().__init__()
        if stride < 1 or extra < 0:
            raise ValueError(f"need stride >= 1 and extra >= 0, got {stride} and {extra}")
        self.stride, self.extra = stride, extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.extra))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra={self.extra}"


class BasicBlock(nn.Module):
    """Two 3×3 conv + norm layers; output ``relu(F(x) + shortcut(x))`` with ``planes`` channels.

    ``downsample`` is the shortcut when the shape changes (None: identity). ``residual=False`` drops the addition
    and gives the block of a plain network. Names follow torchvision (``conv1``, ``bn1``, ``conv2``, ``bn2``,
    ``downsample``), so its state dicts interchange with ours.
    """

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        *,
        conv_layer: ConvLayer = nn.Conv2d,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock has no groups or base width: use Bottleneck for ResNeXt and Wide ResNet")
        if dilation != 1:
            raise ValueError("BasicBlock does not support dilation")
        if downsample is not None and not residual:
            raise ValueError("a block without the residual addition has no shortcut (downsample must be None)")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride, conv_layer=conv_layer)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, conv_layer=conv_layer)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1×1 (narrow) → 3×3 (stride, groups) → 1×1 (widen to ``planes·expansion``), each with a norm, + shortcut.

    The middle width is ``planes · base_width / 64 · groups``: ``planes`` for ResNet, ``2·planes`` for Wide ResNet
    (``base_width=128``), ``groups · 4`` grouped channels per 64 for ResNeXt 32×4d.
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        *,
        conv_layer: ConvLayer = nn.Conv2d,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if downsample is not None and not residual:
            raise ValueError("a block without the residual addition has no shortcut (downsample must be None)")
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width, conv_layer=conv_layer)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation, conv_layer=conv_layer)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion, conv_layer=conv_layer)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


Block = type[BasicBlock] | type[Bottleneck]
SHORTCUTS = ("A", "B")


class ResNet(nn.Module):
    """A stem, one stage (``layer1``, ``layer2``, …) per entry of ``layers``, global average pooling, ``fc``.

    - ImageNet (default): 7×7/2 convolution with 64 channels + 3×3/2 max pooling, stages of 64/128/256/512
      ``planes``, projection shortcuts (option B) — torchvision's layout and key names.
    - ``small_input=True`` (CIFAR): one 3×3 convolution with ``widths[0]`` channels and no pooling.
    - ``shortcut``: ``"A"`` zero-padding, ``"B"`` projection where the shape changes (identity elsewhere), None for
      the plain network without shortcuts. Every stage after the first halves the size (stride 2).
    - ``zero_init_residual`` starts each block's last norm scale at 0, so every block starts as the identity.
    """

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        num_classes: int = 1000,
        *,
        widths: Sequence[int] = (64, 128, 256, 512),
        in_channels: int = 3,
        small_input: bool = False,
        shortcut: str | None = "B",
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        norm_layer: NormLayer | None = None,
        conv_layer: ConvLayer = nn.Conv2d,
        name: str = "ResNet",
    ) -> None:
        super().__init__()
        if len(layers) != len(widths) or not layers or min(layers) < 1:
            raise ValueError(f"need one positive block count per stage width, got layers={layers}, widths={widths}")
        if shortcut is not None and shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be 'A' (zero padding), 'B' (projection) or None (plain), got {shortcut!r}")
        self.name = name
        self.shortcut = shortcut
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self._conv_layer = conv_layer
        self.groups, self.base_width = groups, width_per_group
        self.inplanes = widths[0]
        if small_input:
            self.conv1 = conv3x3(in_channels, self.inplanes, conv_layer=conv_layer)
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.conv1 = conv_layer(in_channels, self.inplanes, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.num_stages = len(layers)
        for i, (planes, blocks) in enumerate(zip(widths, layers)):
            setattr(self, f"layer{i + 1}", self._make_layer(block, planes, blocks, stride=1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)
        # every convolution and pooling is padded so that a 1-pixel input still gives a 1-pixel output
        self.min_input_size = min_input_size(self.modules())
        self.reset_parameters(zero_init_residual)

    def _shortcut(self, planes: int, stride: int) -> nn.Module | None:
        """The first block's shortcut when the stage changes shape (None: identity, or no shortcut at all)."""
        if self.shortcut is None or (stride == 1 and self.inplanes == planes):
            return None
        if self.shortcut == "A":
            if planes < self.inplanes:
                raise ValueError("option A shortcuts can only add channels: use shortcut='B' for bottlenecks")
            return ZeroPadShortcut(stride, planes - self.inplanes)
        return nn.Sequential(conv1x1(self.inplanes, planes, stride, self._conv_layer), self._norm_layer(planes))

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        """One stage: ``blocks`` blocks of ``planes`` (× expansion) channels, the first with ``stride``."""
        options: dict[str, Any] = dict(
            groups=self.groups, base_width=self.base_width, norm_layer=self._norm_layer,
            conv_layer=self._conv_layer, residual=self.shortcut is not None,
        )
        downsample = self._shortcut(planes * block.expansion, stride)
        stage = [block(self.inplanes, planes, stride, downsample, **options)]
        self.inplanes = planes * block.expansion
        stage += [block(self.inplanes, planes, **options) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def reset_parameters(self, zero_init_residual: bool = False) -> None:
        """He initialisation (fan-out) for convolutions, norms at scale 1 / shift 0; PyTorch's default for ``fc``."""
        he_init(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    last = m.bn3 if isinstance(m, Bottleneck) else m.bn2
                    if getattr(last, "weight", None) is not None:
                        nn.init.zeros_(last.weight)

    def stages(self) -> list[nn.Sequential]:
        """``layer1``, ``layer2``, … in order."""
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_input_size, self.name)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages():
            x = stage(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --- the ImageNet family (torchvision's names, keys and weights) -------------------------------------------------

def _resnet(
    name: str, block: Block, layers: Sequence[int], weights: WeightsEnum | str | None, progress: bool,
    num_classes: int, **kwargs: Any,
) -> ResNet:
    w = resolve_weights(name, weights)
    check_num_classes(name, w, num_classes)
    model = ResNet(block, layers, num_classes, name=name, **kwargs)
    return load_weights(model, w, progress)  # type: ignore[return-value]


@register_model(chapter=10, twin="torchvision")
def resnet18(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
             **kwargs: Any) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2], 11,689,512 parameters; ``weights=`` loads torchvision's."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, progress, num_classes, **kwargs)


@register_model(chapter=10, twin="torchvision")
def resnet34(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
             **kwargs: Any) -> ResNet:
    """ResNet-34: basic blocks [3, 4, 6, 3], 21,797,672 parameters."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, progress, num_classes, **kwargs)


@register_model(chapter=10, twin="torchvision")
def resnet50(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
             **kwargs: Any) -> ResNet:
    """ResNet-50: bottlenecks [3, 4, 6, 3], 25,557,032 parameters."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, progress, num_classes, **kwargs)


@register_model(chapter=10, twin="torchvision")
def resnet101(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
              **kwargs: Any) -> ResNet:
    """ResNet-101: bottlenecks [3, 4, 23, 3], 44,549,160 parameters."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], weights, progress, num_classes, **kwargs)


@register_model(chapter=10, twin="torchvision")
def resnet152(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
              **kwargs: Any) -> ResNet:
    """ResNet-152: bottlenecks [3, 8, 36, 3], 60,192,808 parameters."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], weights, progress, num_classes, **kwargs)


@register_model(chapter=10, twin="torchvision")
def resnext50_32x4d(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    **kwargs: Any) -> ResNet:
    """ResNeXt-50 32×4d: ResNet-50 whose 3×3 convolutions have 32 groups of 4 channels per 64 (25,028,904)."""
    overwrite_named_param(kwargs, "groups", 32)
    overwrite_named_param(kwargs, "width_per_group", 4)
    return _resnet("resnext50_32x4d", Bottleneck, [3, 4, 6, 3], weights, progress, num_classes, **kwargs)


@register_model(chapter=10, twin="torchvision")
def wide_resnet50_2(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                    **kwargs: Any) -> ResNet:
    """Wide ResNet-50-2: ResNet-50 with bottlenecks twice as wide inside (68,883,240 parameters)."""
    overwrite_named_param(kwargs, "width_per_group", 128)
    return _resnet("wide_resnet50_2", Bottleneck, [3, 4, 6, 3], weights, progress, num_classes, **kwargs)


# --- the paper's CIFAR-10 networks (section 4.2) ----------------------------------------------------------------

def _blocks_per_stage(depth: int) -> int:
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNets have 6n+2 layers (20, 32, 44, 56, 110, ...), not {depth}")
    return (depth - 2) // 6


def resnet_cifar(
    depth: int = 20, shortcut: str | None = "A", num_classes: int = 10, in_channels: int = 3, width: int = 16,
    **kwargs: Any,
) -> ResNet:
    """The paper's CIFAR-10 ResNet with ``depth`` = 6n+2 weight layers: a 3×3 conv, 3 stages of n basic blocks.

    Stages have ``width``, 2·``width``, 4·``width`` channels (16/32/64 in the paper) on 32/16/8-pixel maps.
    ``shortcut="A"`` (the paper's choice for CIFAR) adds no parameters, ``"B"`` adds two projections, None gives
    the plain network. Extra keyword arguments go to `ResNet` (``norm_layer``, ``zero_init_residual``…).
    """
    n = _blocks_per_stage(depth)
    if width < 1:
        raise ValueError(f"width must be a positive number of channels, got {width}")
    kind = "plain" if shortcut is None else "resnet"
    return ResNet(
        BasicBlock, [n, n, n], num_classes, widths=(width, 2 * width, 4 * width), in_channels=in_channels,
        small_input=True, shortcut=shortcut, name=f"{kind}{depth}", **kwargs,
    )


def plain_cifar(depth: int = 20, num_classes: int = 10, in_channels: int = 3, width: int = 16, **kwargs: Any) -> ResNet:
    """`resnet_cifar` without any shortcut: the paper's plain baseline (same layers, same parameters as option A)."""
    return resnet_cifar(depth, None, num_classes, in_channels, width, **kwargs)


@register_model(chapter=10, input_size=(3, 32, 32))
def resnet20(num_classes: int = 10, in_channels: int = 3, *, shortcut: str | None = "A", **kwargs: Any) -> ResNet:
    """CIFAR ResNet-20 (n=3), 269,722 parameters with option A; the paper's test error 8.75%."""
    return resnet_cifar(20, shortcut, num_classes, in_channels, **kwargs)


@register_model(chapter=10, input_size=(3, 32, 32))
def resnet32(num_classes: int = 10, in_channels: int = 3, *, shortcut: str | None = "A", **kwargs: Any) -> ResNet:
    """CIFAR ResNet-32 (n=5), 464,154 parameters with option A; the paper's test error 7.51%."""
    return resnet_cifar(32, shortcut, num_classes, in_channels, **kwargs)


@register_model(chapter=10, input_size=(3, 32, 32))
def resnet44(num_classes: int = 10, in_channels: int = 3, *, shortcut: str | None = "A", **kwargs: Any) -> ResNet:
    """CIFAR ResNet-44 (n=7), 658,586 parameters with option A; the paper's test error 7.17%."""
    return resnet_cifar(44, shortcut, num_classes, in_channels, **kwargs)


@register_model(chapter=10, input_size=(3, 32, 32))
def resnet56(num_classes: int = 10, in_channels: int = 3, *, shortcut: str | None = "A", **kwargs: Any) -> ResNet:
    """CIFAR ResNet-56 (n=9), 853,018 parameters with option A; the paper's test error 6.97%."""
    return resnet_cifar(56, shortcut, num_classes, in_channels, **kwargs)


@register_model(chapter=10, input_size=(3, 32, 32))
def resnet110(num_classes: int = 10, in_channels: int = 3, *, shortcut: str | None = "A", **kwargs: Any) -> ResNet:
    """CIFAR ResNet-110 (n=18), 1,727,962 parameters with option A; the paper's test error 6.43% (best of 5 runs)."""
    return resnet_cifar(110, shortcut, num_classes, in_channels, **kwargs)
