"""Inception-v4 and Inception-ResNet-v1/-v2 (Szegedy, Ioffe, Vanhoucke & Alemi, 2016).

All three share one layout (the paper's figures 9 and 15): a stem takes a 299×299 image to a 35×35 grid, then
blocks A (35×35) → Reduction-A → blocks B (17×17) → Reduction-B → blocks C (8×8) → global average pooling → dropout
→ fully-connected. Every block is a `Mixed` module: parallel branches on the same input whose outputs are
concatenated along the channels. Convolutions keep the grid ("same" padding) unless the figure marks them "V"
(valid, no padding); every convolution is a batch-normalised `BasicConv2d`.

- `inception_v4`: the pure Inception network (figures 3–9): 4 × A, 7 × B, 3 × C, 42,679,816 parameters.
- `inception_resnet_v1`: the paper's smaller residual network (figures 10–15): its own stem, 5 × A, 10 × B, 5 × C
  (figure 15). It has no released weights and no twin.
- `inception_resnet_v2`: the larger residual network **as Google released it** (TF-slim's ``inception_resnet_v2``,
  whose weights timm ports): 55,843,464 parameters. The release differs from the paper in ways that matter for the
  weights: the stem is Inception-v3's stem plus one Inception-A-like block (``mixed5b``, 320 channels) instead of
  figure 3's stem (384 channels), there are 10 × A, 20 × B and 10 × C blocks instead of figure 15's 5/10/5, the last
  C block is unscaled and has no ReLU, and a 1×1 convolution to 1536 channels (``conv7b``) precedes the pooling.

In an Inception-ResNet block (`InceptionResNetBlock`) the concatenated branches go through a linear 1×1 convolution
(``project``, no BatchNorm, no ReLU) back to the block's input width, are multiplied by ``scale`` and added to the
input, then a ReLU follows. **Residual scaling**: the paper (section 3.3) reports that with more than about 1000
filters the residual networks "died" early in training unless the residuals were scaled down, and says only that it
picked factors "between 0.1 and 0.3". The values 0.17 (A), 0.10 (B) and 0.20 (C) are those of Google's released
Inception-ResNet-v2 (TF-slim), which timm's ``inception_resnet_v2`` uses too; the course uses the same three values
for v1, for which the paper gives none either.

`inception_v4` and `inception_resnet_v2` compute the same function as timm's models of the same name given the same
weights: `timm_to_inception_v4` and `timm_to_inception_resnet_v2` rename timm's state dict to ours, and
``weights="DEFAULT"`` loads timm's pretrained ImageNet weights through them. Those weights expect pixels scaled to
[-1, 1] (mean 0.5, std 0.5 per channel), not torchvision's ImageNet mean and std.

Every model accepts inputs from 75×75 pixels (like Inception-v3): `_spine` follows one branch through every block,
because all branches of a block shrink the grid alike (their outputs are concatenated).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from .common import check_input_size, min_input_size
from .googlenet import BasicConv2d
from .registry import register_model
from .weights import load_timm_weights, overwrite_named_param

SCALE_A, SCALE_B, SCALE_C = 0.17, 0.10, 0.20  # TF-slim's residual scales (the paper: "between 0.1 and 0.3")


def conv(in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], stride: int = 1,
         valid: bool = False) -> BasicConv2d:
    """Conv → BN → ReLU with "same" padding (the figures' default), or none with ``valid=True`` (their "V")."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    padding = (0, 0) if valid else (kh // 2, kw // 2)
    return BasicConv2d(in_channels, out_channels, kernel_size=(kh, kw), stride=stride, padding=padding)


def avg_pool() -> nn.AvgPool2d:
    """The pooling branch's 3×3/1 average pooling; border pixels are averaged over the pixels that exist."""
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


def max_pool() -> nn.MaxPool2d:
    """The reductions' 3×3/2 max pooling without padding ("V")."""
    return nn.MaxPool2d(3, stride=2)


class Mixed(nn.Module):
    """Branches ``branch0``, ``branch1``, … applied to the same input, outputs concatenated along the channels."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.num_branches = len(branches)
        for i, branch in enumerate(branches):
            self.add_module(f"branch{i}", branch)

    def branches(self) -> list[nn.Module]:
        return [getattr(self, f"branch{i}") for i in range(self.num_branches)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches()], 1)


def seq(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers)


# --- Inception-v4's blocks (figures 3-8) ------------------------------------------------------------------------

def stem_v4(in_channels: int = 3) -> nn.Sequential:
    """Figure 3, the stem of Inception-v4 (and, in the paper, of Inception-ResNet-v2): 299×299×3 → 35×35×384."""
    return nn.Sequential(OrderedDict(
        conv1a=conv(in_channels, 32, 3, stride=2, valid=True),  # 149×149×32
        conv2a=conv(32, 32, 3, valid=True),  # 147×147×32
        conv2b=conv(32, 64, 3),  # 147×147×64
        mixed3a=Mixed(max_pool(), conv(64, 96, 3, stride=2, valid=True)),  # 73×73×160
        mixed4a=Mixed(
            seq(conv(160, 64, 1), conv(64, 96, 3, valid=True)),
            seq(conv(160, 64, 1), conv(64, 64, (1, 7)), conv(64, 64, (7, 1)), conv(64, 96, 3, valid=True)),
        ),  # 71×71×192
        mixed5a=Mixed(conv(192, 192, 3, stride=2, valid=True), max_pool()),  # 35×35×384
    ))


class InceptionA(Mixed):
    """Figure 4 (35×35): 1×1 | 1×1 → 3×3 | 1×1 → 3×3 → 3×3 | avg pool → 1×1; 384 → 4·96 = 384 channels."""

    def __init__(self, in_channels: int = 384) -> None:
        super().__init__(
            conv(in_channels, 96, 1),
            seq(conv(in_channels, 64, 1), conv(64, 96, 3)),
            seq(conv(in_channels, 64, 1), conv(64, 96, 3), conv(96, 96, 3)),
            seq(avg_pool(), conv(in_channels, 96, 1)),
        )


class ReductionA(Mixed):
    """Figure 7 (35 → 17): 3×3/2 (n) | 1×1 (k) → 3×3 (l) → 3×3/2 (m) | 3×3/2 max pool; out n + m + in channels.

    The paper's table 1 gives (k, l, m, n): Inception-v4 (192, 224, 256, 384), Inception-ResNet-v1
    (192, 192, 256, 384), Inception-ResNet-v2 (256, 256, 384, 384).
    """

    def __init__(self, in_channels: int, k: int, l: int, m: int, n: int) -> None:  # noqa: E741 (the paper's names)
        super().__init__(
            conv(in_channels, n, 3, stride=2, valid=True),
            seq(conv(in_channels, k, 1), conv(k, l, 3), conv(l, m, 3, stride=2, valid=True)),
            max_pool(),
        )
        self.out_channels = n + m + in_channels


class InceptionB(Mixed):
    """Figure 5 (17×17): 1×1 | 1×1 → 1×7 → 7×1 | 1×1 → 7×1 → 1×7 → 7×1 → 1×7 | avg pool → 1×1; 1024 channels."""

    def __init__(self, in_channels: int = 1024) -> None:
        super().__init__(
            conv(in_channels, 384, 1),
            seq(conv(in_channels, 192, 1), conv(192, 224, (1, 7)), conv(224, 256, (7, 1))),
            seq(conv(in_channels, 192, 1), conv(192, 192, (7, 1)), conv(192, 224, (1, 7)), conv(224, 224, (7, 1)),
                conv(224, 256, (1, 7))),
            seq(avg_pool(), conv(in_channels, 128, 1)),
        )


class ReductionB(Mixed):
    """Figure 8 (17 → 8): 1×1 → 3×3/2 | 1×1 → 1×7 → 7×1 → 3×3/2 | 3×3/2 max pool; 1024 → 192 + 320 + 1024 = 1536."""

    def __init__(self, in_channels: int = 1024) -> None:
        super().__init__(
            seq(conv(in_channels, 192, 1), conv(192, 192, 3, stride=2, valid=True)),
            seq(conv(in_channels, 256, 1), conv(256, 256, (1, 7)), conv(256, 320, (7, 1)),
                conv(320, 320, 3, stride=2, valid=True)),
            max_pool(),
        )


class InceptionC(Mixed):
    """Figure 6 (8×8): 1×1 | 1×1 → (1×3 ‖ 3×1) | 1×1 → 3×1 → 1×3 → (1×3 ‖ 3×1) | avg pool → 1×1; 1536 channels.

    ``‖`` marks the two convolutions that read the same input side by side (a `Mixed` inside a branch).
    """

    def __init__(self, in_channels: int = 1536) -> None:
        super().__init__(
            conv(in_channels, 256, 1),
            seq(conv(in_channels, 384, 1), Mixed(conv(384, 256, (1, 3)), conv(384, 256, (3, 1)))),
            seq(conv(in_channels, 384, 1), conv(384, 448, (3, 1)), conv(448, 512, (1, 3)),
                Mixed(conv(512, 256, (1, 3)), conv(512, 256, (3, 1)))),
            seq(avg_pool(), conv(in_channels, 256, 1)),
        )


# --- Inception-ResNet blocks (figures 10-19) --------------------------------------------------------------------

class InceptionResNetBlock(Mixed):
    """``x → ReLU(x + scale · project(concat(branches(x))))``; ``project`` is a linear 1×1 conv (with bias, no BN).

    ``activation=False`` leaves the ReLU out (the last block of Google's Inception-ResNet-v2).
    """

    def __init__(self, branches: list[nn.Module], concat_channels: int, channels: int, scale: float,
                 activation: bool = True) -> None:
        super().__init__(*branches)
        self.project = nn.Conv2d(concat_channels, channels, kernel_size=1)
        self.scale = scale
        self.relu: nn.Module = nn.ReLU(inplace=True) if activation else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.scale * self.project(super().forward(x)))

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class InceptionResNetA(InceptionResNetBlock):
    """35×35: 1×1 | 1×1 → 3×3 | 1×1 → 3×3 → 3×3, all 32 wide (v1, figure 10) or the last two 48, 64 (v2, figure 16)."""

    def __init__(self, channels: int, scale: float = SCALE_A, version: int = 2) -> None:
        c1, c2 = (32, 32) if version == 1 else (48, 64)
        super().__init__(
            [conv(channels, 32, 1),
             seq(conv(channels, 32, 1), conv(32, 32, 3)),
             seq(conv(channels, 32, 1), conv(32, c1, 3), conv(c1, c2, 3))],
            32 + 32 + c2, channels, scale,
        )


class InceptionResNetB(InceptionResNetBlock):
    """17×17: 1×1 | 1×1 → 1×7 → 7×1; 128 | 128-128-128 (v1, figure 11) or 192 | 128-160-192 (v2, figure 17)."""

    def __init__(self, channels: int, scale: float = SCALE_B, version: int = 2) -> None:
        a, b, c, d = (128, 128, 128, 128) if version == 1 else (192, 128, 160, 192)
        super().__init__(
            [conv(channels, a, 1), seq(conv(channels, b, 1), conv(b, c, (1, 7)), conv(c, d, (7, 1)))],
            a + d, channels, scale,
        )


class InceptionResNetC(InceptionResNetBlock):
    """8×8: 1×1 | 1×1 → 1×3 → 3×1; 192 | 192-192-192 (v1, figure 13) or 192 | 192-224-256 (v2, figure 19)."""

    def __init__(self, channels: int, scale: float = SCALE_C, version: int = 2, activation: bool = True) -> None:
        c, d = (192, 192) if version == 1 else (224, 256)
        super().__init__(
            [conv(channels, 192, 1), seq(conv(channels, 192, 1), conv(192, c, (1, 3)), conv(c, d, (3, 1)))],
            192 + d, channels, scale, activation,
        )


class ReductionBResNet(Mixed):
    """Figures 12 / 18 (17 → 8): 1×1 → 3×3/2 | 1×1 → 3×3/2 | 1×1 → 3×3 → 3×3/2 | 3×3/2 max pool.

    Widths 256→384 | 256→``b`` | 256→``c``→``d``: v1 (256, 256, 256), v2 (288, 288, 320).
    """

    def __init__(self, in_channels: int, b: int, c: int, d: int) -> None:
        super().__init__(
            seq(conv(in_channels, 256, 1), conv(256, 384, 3, stride=2, valid=True)),
            seq(conv(in_channels, 256, 1), conv(256, b, 3, stride=2, valid=True)),
            seq(conv(in_channels, 256, 1), conv(256, c, 3), conv(c, d, 3, stride=2, valid=True)),
            max_pool(),
        )
        self.out_channels = 384 + b + d + in_channels


def stem_resnet_v1(in_channels: int = 3) -> nn.Sequential:
    """Figure 14, Inception-ResNet-v1's stem of plain convolutions: 299×299×3 → 35×35×256."""
    return nn.Sequential(OrderedDict(
        conv1a=conv(in_channels, 32, 3, stride=2, valid=True),  # 149×149×32
        conv2a=conv(32, 32, 3, valid=True),  # 147×147×32
        conv2b=conv(32, 64, 3),  # 147×147×64
        pool3a=max_pool(),  # 73×73×64
        conv3b=conv(64, 80, 1),  # 73×73×80
        conv4a=conv(80, 192, 3, valid=True),  # 71×71×192
        conv4b=conv(192, 256, 3, stride=2, valid=True),  # 35×35×256
    ))


def stem_resnet_v2(in_channels: int = 3) -> nn.Sequential:
    """Google's released Inception-ResNet-v2 stem: Inception-v3's stem, then one Inception-A-like block → 35×35×320."""
    return nn.Sequential(OrderedDict(
        conv1a=conv(in_channels, 32, 3, stride=2, valid=True),  # 149×149×32
        conv2a=conv(32, 32, 3, valid=True),  # 147×147×32
        conv2b=conv(32, 64, 3),  # 147×147×64
        pool3a=max_pool(),  # 73×73×64
        conv3b=conv(64, 80, 1),  # 73×73×80
        conv4a=conv(80, 192, 3, valid=True),  # 71×71×192
        pool5a=max_pool(),  # 35×35×192
        mixed5b=Mixed(
            conv(192, 96, 1),
            seq(conv(192, 48, 1), conv(48, 64, 5)),
            seq(conv(192, 64, 1), conv(64, 96, 3), conv(96, 96, 3)),
            seq(avg_pool(), conv(192, 64, 1)),
        ),  # 35×35×320
    ))


# --- the networks ------------------------------------------------------------------------------------------------

def _spine(module: nn.Module) -> list[nn.Module]:
    """The convolutions and poolings on one path through ``module``: the first branch of every `Mixed` block."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        return [module]
    if isinstance(module, Mixed):
        return _spine(module.branch0)
    return [layer for child in module.children() for layer in _spine(child)]


class InceptionNet(nn.Module):
    """stem → blocks_a → reduction_a → blocks_b → reduction_b → blocks_c → [conv7b] → avgpool → dropout → fc."""

    def __init__(
        self,
        stem: nn.Module,
        blocks_a: nn.Sequential,
        reduction_a: nn.Module,
        blocks_b: nn.Sequential,
        reduction_b: nn.Module,
        blocks_c: nn.Sequential,
        num_features: int,
        num_classes: int = 1000,
        dropout: float = 0.2,
        conv7b: nn.Module | None = None,
        name: str = "inception",
    ) -> None:
        super().__init__()
        self.name = name
        self.stem = stem
        self.blocks_a = blocks_a
        self.reduction_a = reduction_a
        self.blocks_b = blocks_b
        self.reduction_b = reduction_b
        self.blocks_c = blocks_c
        self.conv7b = conv7b
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_features, num_classes)
        self.min_input_size = min_input_size(_spine(self))

    def stages(self) -> list[tuple[str, nn.Module]]:
        """(name, module) of every stem layer and block in forward order, then the head's layers."""
        parts = [(f"stem.{n}", m) for n, m in self.stem.named_children()]
        for stage in ("blocks_a", "reduction_a", "blocks_b", "reduction_b", "blocks_c"):
            module = getattr(self, stage)
            if isinstance(module, nn.Sequential):
                parts += [(f"{stage}.{n}", m) for n, m in module.named_children()]
            else:
                parts.append((stage, module))
        if self.conv7b is not None:
            parts.append(("conv7b", self.conv7b))
        return parts

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature maps (N × 1536 × 8 × 8 for 299×299 inputs; 1792 channels for Inception-ResNet-v1)."""
        x = self.reduction_a(self.blocks_a(self.stem(x)))
        x = self.blocks_c(self.reduction_b(self.blocks_b(x)))
        return self.conv7b(x) if self.conv7b is not None else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x, self.min_input_size, self.name)
        x = self.dropout(torch.flatten(self.avgpool(self.features(x)), 1))
        return self.fc(x)


# --- timm's state dicts -----------------------------------------------------------------------------------------

_V4_INDEX = {0: "stem.conv1a", 1: "stem.conv2a", 2: "stem.conv2b", 3: "stem.mixed3a", 4: "stem.mixed4a",
             5: "stem.mixed5a", 10: "reduction_a", 18: "reduction_b"}
_V4_INDEX |= {i: f"blocks_a.{i - 6}" for i in range(6, 10)}
_V4_INDEX |= {i: f"blocks_b.{i - 11}" for i in range(11, 18)}
_V4_INDEX |= {i: f"blocks_c.{i - 19}" for i in range(19, 22)}

# inside timm's blocks: (pattern, replacement) applied after the block's prefix was renamed
_V4_INSIDE = [
    (r"^(stem\.mixed3a)\.conv\.", r"\1.branch1."),  # max pool | conv
    (r"^(stem\.mixed5a)\.conv\.", r"\1.branch0."),  # conv | max pool
    (r"^(blocks_c\.\d)\.branch1_0\.", r"\1.branch1.0."),
    (r"^(blocks_c\.\d)\.branch1_1a\.", r"\1.branch1.1.branch0."),
    (r"^(blocks_c\.\d)\.branch1_1b\.", r"\1.branch1.1.branch1."),
    (r"^(blocks_c\.\d)\.branch2_([012])\.", r"\1.branch2.\2."),
    (r"^(blocks_c\.\d)\.branch2_3a\.", r"\1.branch2.3.branch0."),
    (r"^(blocks_c\.\d)\.branch2_3b\.", r"\1.branch2.3.branch1."),
]


def _rename(state: Mapping[str, torch.Tensor], rules: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state.items():
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return renamed


def timm_to_inception_v4(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's ``inception_v4`` state dict (``features.0`` … ``features.21``, ``last_linear``) with our key names."""
    def block(match: re.Match) -> str:
        return _V4_INDEX[int(match.group(1))] + "."

    prefixed = {re.sub(r"^features\.(\d+)\.", block, k): v for k, v in state.items()}
    return _rename(prefixed, [(r"^last_linear\.", "fc."), *_V4_INSIDE])


_RESNET_V2_RULES = [
    (r"^conv2d_(1a|2a|2b|3b|4a)\.", r"stem.conv\1."),
    (r"^mixed_5b\.", "stem.mixed5b."),
    (r"^repeat\.", "blocks_a."),
    (r"^mixed_6a\.", "reduction_a."),
    (r"^repeat_1\.", "blocks_b."),
    (r"^mixed_7a\.", "reduction_b."),
    (r"^repeat_2\.", "blocks_c."),
    (r"^block8\.", "blocks_c.9."),  # the tenth, unscaled C block
    (r"^conv2d_7b\.", "conv7b."),
    (r"^classif\.", "fc."),
    (r"\.conv2d\.", ".project."),  # a residual block's linear 1×1 convolution
]


def timm_to_inception_resnet_v2(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's ``inception_resnet_v2`` state dict (``conv2d_1a`` … ``repeat_2``, ``block8``, ``classif``) with ours."""
    return _rename(state, _RESNET_V2_RULES)


def _timm_weights(model: InceptionNet, timm_model: str, weights: str, key_map, weights_file) -> InceptionNet:
    """Load timm's pretrained ``weights`` (``"DEFAULT"`` or a timm tag such as ``"tf_in1k"``) into ``model``."""
    import timm

    tags = [name.split(".", 1)[1] for name in timm.list_pretrained(f"{timm_model}.*")]
    tag = timm.models.get_pretrained_cfg(timm_model).tag if weights == "DEFAULT" else weights
    if tag not in tags:
        raise ValueError(f"timm has no weights {weights!r} for {timm_model}; choose one of DEFAULT, {', '.join(tags)}")
    return load_timm_weights(model, f"{timm_model}.{tag}", key_map, file=weights_file)  # type: ignore[return-value]


def _check_head(weights: str | None, num_classes: int) -> None:
    if weights is not None:  # the ImageNet weights fix the classifier's size
        overwrite_named_param({"num_classes": num_classes}, "num_classes", 1000)


@register_model(chapter=11, input_size=(3, 299, 299), twin="timm:inception_v4")
def inception_v4(
    weights: str | None = None, *, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.2,
    weights_file: str | Path | None = None,
) -> InceptionNet:
    """Inception-v4 (figure 9): 42,679,816 parameters; ``weights="DEFAULT"`` loads timm's ImageNet weights.

    ``weights_file`` loads them from a local copy of timm's file instead of the Hugging Face hub. The paper's dropout
    keeps 80% of the activations (``dropout=0.2``); timm's default is 0, which changes nothing in eval mode.
    """
    _check_head(weights, num_classes)
    model = InceptionNet(
        stem_v4(in_channels),
        nn.Sequential(*[InceptionA(384) for _ in range(4)]),
        ReductionA(384, 192, 224, 256, 384),
        nn.Sequential(*[InceptionB(1024) for _ in range(7)]),
        ReductionB(1024),
        nn.Sequential(*[InceptionC(1536) for _ in range(3)]),
        num_features=1536, num_classes=num_classes, dropout=dropout, name="inception_v4",
    )
    if weights is not None:
        _timm_weights(model, "inception_v4", weights, timm_to_inception_v4, weights_file)
    return model


@register_model(chapter=11, input_size=(3, 299, 299))
def inception_resnet_v1(
    *, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.2,
    scales: tuple[float, float, float] = (SCALE_A, SCALE_B, SCALE_C),
) -> InceptionNet:
    """Inception-ResNet-v1 as in the paper's figure 15: stem (figure 14), 5 × A, Reduction-A, 10 × B, Reduction-B,
    5 × C, 1792 features. ``scales`` are the residual scales of the A, B and C blocks (1.0 turns scaling off)."""
    a, b, c = scales
    reduction_a = ReductionA(256, 192, 192, 256, 384)  # 256 → 896 channels
    reduction_b = ReductionBResNet(reduction_a.out_channels, 256, 256, 256)  # 896 → 1792
    return InceptionNet(
        stem_resnet_v1(in_channels),
        nn.Sequential(*[InceptionResNetA(256, a, version=1) for _ in range(5)]),
        reduction_a,
        nn.Sequential(*[InceptionResNetB(reduction_a.out_channels, b, version=1) for _ in range(10)]),
        reduction_b,
        nn.Sequential(*[InceptionResNetC(reduction_b.out_channels, c, version=1) for _ in range(5)]),
        num_features=reduction_b.out_channels, num_classes=num_classes, dropout=dropout, name="inception_resnet_v1",
    )


@register_model(chapter=11, input_size=(3, 299, 299), twin="timm:inception_resnet_v2")
def inception_resnet_v2(
    weights: str | None = None, *, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.2,
    scales: tuple[float, float, float] = (SCALE_A, SCALE_B, SCALE_C), weights_file: str | Path | None = None,
) -> InceptionNet:
    """Google's released Inception-ResNet-v2 (timm's twin): 55,843,464 parameters, 10 × A, 20 × B, 9 + 1 × C.

    ``weights="DEFAULT"`` (= ``"tf_in1k"``) or ``"tf_ens_adv_in1k"`` (ensemble-adversarially trained) loads timm's
    ImageNet weights, ``weights_file`` from a local copy. ``scales`` are the A, B and C blocks' residual scales.
    """
    _check_head(weights, num_classes)
    a, b, c = scales
    reduction_a = ReductionA(320, 256, 256, 384, 384)  # 320 → 1088 channels
    reduction_b = ReductionBResNet(reduction_a.out_channels, 288, 288, 320)  # 1088 → 2080
    channels = reduction_b.out_channels
    model = InceptionNet(
        stem_resnet_v2(in_channels),
        nn.Sequential(*[InceptionResNetA(320, a) for _ in range(10)]),
        reduction_a,
        nn.Sequential(*[InceptionResNetB(reduction_a.out_channels, b) for _ in range(20)]),
        reduction_b,
        nn.Sequential(*[InceptionResNetC(channels, c) for _ in range(9)],
                      InceptionResNetC(channels, scale=1.0, activation=False)),
        num_features=1536, num_classes=num_classes, dropout=dropout, conv7b=conv(channels, 1536, 1),
        name="inception_resnet_v2",
    )
    if weights is not None:
        _timm_weights(model, "inception_resnet_v2", weights, timm_to_inception_resnet_v2, weights_file)
    return model
