"""DenseNet (Huang, Liu, van der Maaten & Weinberger, 2017): every layer reads the concatenation of all before it.

Inside a dense block, layer ℓ computes ``x_ℓ = H_ℓ([x_0, x_1, …, x_{ℓ-1}])`` and adds ``k`` (the growth rate) new
channels, so it reads ``k0 + k·(ℓ-1)`` channels. ``H_ℓ`` is BN → ReLU → 3×3 conv, or with the **bottleneck** (the
"B" in DenseNet-BC) BN → ReLU → 1×1 conv to ``bn_size·k`` (4k) channels → BN → ReLU → 3×3 conv to k. Between blocks
a **transition** (BN → ReLU → 1×1 conv → 2×2 average pooling) halves the grid and, with **compression** θ (the "C"),
keeps ⌊θ·m⌋ of the block's m output channels.

- `densenet121` / `161` / `169` / `201`: torchvision's ImageNet networks (bottleneck and θ = 0.5), state-dict
  compatible with ``torchvision.models.densenet*`` so ``weights=`` loads its ImageNet weights; those files still use
  the old key names ``norm.1``, ``conv.2``…, which `rename_legacy_keys` turns into today's ``norm1``, ``conv2``.
  They accept inputs from 29×29 pixels.
- `densenet_cifar`: the paper's three-block networks for 32×32 images (table 2), and `densenet_bc_100_12`
  (DenseNet-BC with 100 layers and k = 12, 769,162 parameters for CIFAR-10).

``memory_efficient=True`` (as in torchvision, after Pleiss et al. 2017, "Memory-efficient implementation of
DenseNets") does not keep the concatenation, its BatchNorm and its ReLU for the backward pass: they are recomputed
from the layer's inputs (``torch.utils.checkpoint``). Without it their memory grows with the square of the number of
layers in a block. The recomputation runs the first BatchNorm a second time; torchvision then counts the batch
twice in that BatchNorm's running statistics (gpleiss/efficient_densenet_pytorch#73). `DenseLayer` recomputes it
without touching the statistics, so a memory-efficient step changes the model exactly as a normal one does.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from torchvision.models import WeightsEnum

from .common import check_input_size, min_input_size
from .registry import register_model
from .weights import check_num_classes, load_weights, resolve_weights


class DenseLayer(nn.Module):
    """``H_ℓ``: concat → BN → ReLU → 1×1 conv (``bn_size·k``) → BN → ReLU → 3×3 conv (k new channels).

    With ``bn_size=None`` (no bottleneck) it is concat → BN → ReLU → 3×3 conv, named ``norm1``/``relu1``/``conv1``.
    Takes the list of all earlier feature maps, returns the k new channels. With ``memory_efficient`` the part up to
    ``conv1`` is checkpointed whenever gradients are being recorded (torchvision asks whether an input requires
    gradients; the two differ only behind frozen layers, where this recomputes needlessly but computes the same).
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int | None = 4, drop_rate: float = 0.0,
                 memory_efficient: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        if bn_size is None:
            self.conv1 = nn.Conv2d(in_channels, growth_rate, kernel_size=3, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.bottleneck = bn_size is not None
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def concat_and_conv1(self, *features: torch.Tensor, update_stats: bool = True) -> torch.Tensor:
        """conv1(relu1(norm1(concat(features)))): the part whose memory grows with the layer's depth."""
        x = torch.cat(features, 1)
        if update_stats or not self.norm1.training:
            x = self.norm1(x)
        else:  # the same output (batch statistics), updating throw-away copies of the running statistics
            bn = self.norm1
            x = F.batch_norm(x, bn.running_mean.clone(), bn.running_var.clone(), bn.weight, bn.bias, True, 0.0, bn.eps)
        return self.conv1(self.relu1(x))

    def _checkpointed(self, features: list[torch.Tensor]) -> torch.Tensor:
        calls = []

        def run(*inputs: torch.Tensor) -> torch.Tensor:
            calls.append(None)  # the first call is the forward pass, a second one the recomputation in backward
            return self.concat_and_conv1(*inputs, update_stats=len(calls) == 1)

        return checkpoint(run, *features, use_reentrant=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        if self.memory_efficient and torch.is_grad_enabled():
            out = self._checkpointed(features)
        else:
            out = self.concat_and_conv1(*features)
        if self.bottleneck:
            out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class DenseBlock(nn.ModuleDict):
    """``num_layers`` `DenseLayer` s (``denselayer1`` …); returns the input and every new map, concatenated."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int | None = 4,
                 drop_rate: float = 0.0, memory_efficient: bool = False) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate, memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN → ReLU → 1×1 conv (``out_channels``) → 2×2/2 average pooling: halves the grid between dense blocks."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(OrderedDict(
            norm=nn.BatchNorm2d(in_channels),
            relu=nn.ReLU(inplace=True),
            conv=nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
            pool=nn.AvgPool2d(kernel_size=2, stride=2),
        ))


class DenseNet(nn.Module):
    """Stem → dense blocks with transitions between them → BN → ReLU → global average pooling → ``classifier``.

    Names follow torchvision (``features.conv0`` … ``denseblock1.denselayer1.norm1`` … ``transition1`` …
    ``norm5``, ``classifier``). The ImageNet stem is a 7×7/2 conv, BN, ReLU and a 3×3/2 max pooling;
    ``small_input=True`` uses a single 3×3 conv instead (the paper's CIFAR networks). Transitions keep
    ⌊``compression``·m⌋ channels; ``bn_size=None`` leaves the bottleneck out.
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int | None = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        memory_efficient: bool = False,
        *,
        compression: float = 0.5,
        small_input: bool = False,
        in_channels: int = 3,
        name: str = "densenet",
    ) -> None:
        super().__init__()
        if not 0 < compression <= 1:
            raise ValueError(f"compression θ must lie in (0, 1], got {compression}")
        self.name = name
        if small_input:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=3, padding=1, bias=False))]
        else:
            stem = [
                ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(num_init_features)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ]
        self.features = nn.Sequential(OrderedDict(stem))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate, memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels = block.out_channels
            if i != len(block_config) - 1:
                out = math.floor(compression * channels)
                self.features.add_module(f"transition{i + 1}", Transition(channels, out))
                channels = out
        self.features.add_module(f"norm{len(block_config) + 1}", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)
        self.num_features = channels
        self.min_input_size = min_input_size(self.features.modules())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation: He normal for convolutions, BN γ = 1 and β = 0, linear biases 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_input_size, self.name)
        x = F.adaptive_avg_pool2d(F.relu(self.features(x)), 1)
        return self.classifier(torch.flatten(x, 1))


# --- torchvision's ImageNet networks ------------------------------------------------------------------------------

_LEGACY_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var))$")


def rename_legacy_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old DenseNet key names (``…denselayer1.norm.1.weight``, from before PyTorch forbade dots in module names) →
    today's (``…denselayer1.norm1.weight``); other keys pass unchanged."""
    return {_LEGACY_KEY.sub(r"\1\2", key): value for key, value in state.items()}


def _densenet(name: str, growth_rate: int, block_config: tuple[int, int, int, int], num_init_features: int,
              weights, progress: bool, num_classes: int, memory_efficient: bool, drop_rate: float) -> DenseNet:
    w = resolve_weights(name, weights)
    check_num_classes(name, w, num_classes)
    model = DenseNet(growth_rate, block_config, num_init_features, 4, drop_rate, num_classes, memory_efficient,
                     name=name)
    return load_weights(model, w, progress, remap=rename_legacy_keys)  # type: ignore[return-value]


@register_model(chapter=12, twin="torchvision")
def densenet121(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                memory_efficient: bool = False, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-121 (k = 32, blocks 6-12-24-16), 7,978,856 parameters; ``weights=`` loads torchvision's."""
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, weights, progress, num_classes, memory_efficient,
                     drop_rate)


@register_model(chapter=12, twin="torchvision")
def densenet161(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                memory_efficient: bool = False, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-161 (k = 48, blocks 6-12-36-24, 96 initial channels), 28,681,000 parameters."""
    return _densenet("densenet161", 48, (6, 12, 36, 24), 96, weights, progress, num_classes, memory_efficient,
                     drop_rate)


@register_model(chapter=12, twin="torchvision")
def densenet169(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                memory_efficient: bool = False, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-169 (k = 32, blocks 6-12-32-32), 14,149,480 parameters."""
    return _densenet("densenet169", 32, (6, 12, 32, 32), 64, weights, progress, num_classes, memory_efficient,
                     drop_rate)


@register_model(chapter=12, twin="torchvision")
def densenet201(weights: WeightsEnum | str | None = None, progress: bool = True, *, num_classes: int = 1000,
                memory_efficient: bool = False, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-201 (k = 32, blocks 6-12-48-32), 20,013,928 parameters."""
    return _densenet("densenet201", 32, (6, 12, 48, 32), 64, weights, progress, num_classes, memory_efficient,
                     drop_rate)


# --- the paper's CIFAR networks -------------------------------------------------------------------------------------

def densenet_cifar(
    depth: int = 100, growth_rate: int = 12, *, bottleneck: bool = True, compression: float = 0.5,
    num_classes: int = 10, in_channels: int = 3, num_init_features: int | None = None, drop_rate: float = 0.0,
    memory_efficient: bool = False,
) -> DenseNet:
    """The paper's CIFAR DenseNet of ``depth`` layers: a 3×3 conv, three equal dense blocks, two transitions, FC.

    ``depth`` counts the convolutions and the classifier: ``depth - 4`` is split over three blocks of layers with
    one conv each, or two with the bottleneck (DenseNet-BC-100: 3 × 16 layers). The first conv has 2k channels for
    DenseNet-BC and 16 otherwise, as in the paper (``num_init_features`` overrides it).
    """
    per_block, remainder = divmod(depth - 4, 6 if bottleneck else 3)
    if per_block < 1 or remainder:
        step = 6 if bottleneck else 3
        raise ValueError(f"a CIFAR DenseNet{'-B' if bottleneck else ''} has {step}n+4 layers, not {depth}")
    if num_init_features is None:
        num_init_features = 2 * growth_rate if bottleneck and compression < 1 else 16
    kind = ("B" if bottleneck else "") + ("C" if compression < 1 else "")
    return DenseNet(
        growth_rate, (per_block,) * 3, num_init_features, 4 if bottleneck else None, drop_rate, num_classes,
        memory_efficient, compression=compression, small_input=True, in_channels=in_channels,
        name=f"densenet{'-' + kind if kind else ''}-{depth}-{growth_rate}",
    )


@register_model(chapter=12, input_size=(3, 32, 32))
def densenet_bc_100_12(num_classes: int = 10, in_channels: int = 3, *, memory_efficient: bool = False,
                       drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-BC (L = 100, k = 12) for CIFAR: 769,162 parameters; the paper's error on C10+ is 4.51%."""
    return densenet_cifar(100, 12, num_classes=num_classes, in_channels=in_channels, drop_rate=drop_rate,
                          memory_efficient=memory_efficient)
