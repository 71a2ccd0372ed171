"""Inception-v3 (Szegedy et al., 2015, "Rethinking the Inception Architecture"): factorised convolutions.

- `inception_v3`: torchvision's version, state-dict compatible with ``torchvision.models.inception_v3`` so
  ``weights=`` loads its ImageNet weights (ported from TensorFlow): 27,161,264 parameters with the auxiliary head.
  It accepts inputs from 75×75 pixels in eval mode; in training mode the auxiliary head (a 5×5/3 average pooling,
  then a 5×5 convolution without padding) needs the 17×17 grid that only a 299×299 input gives.
- `inception_v3_small`: the same blocks (one of each kind by default) at a fraction of the width with a stem for
  32×32 images, for the tiny-mode experiments (no auxiliary head: its fixed 5×5 windows need the 17×17 grid).

The blocks, named as in torchvision (and the paper's figures):

- `InceptionA` (35×35 grid, figure 5): 1×1 | 1×1 → 5×5 | 1×1 → 3×3 → 3×3 | avg pool → 1×1. The paper factorises
  every 5×5 into two 3×3s; the TensorFlow model whose weights everyone uses keeps one real 5×5 branch as well.
- `InceptionB` (35 → 17, figure 10): a grid-size reduction by a stride-2 convolution branch, a stride-2 double-3×3
  branch and a stride-2 max pooling, concatenated.
- `InceptionC` (17×17, figure 6): n×n factorised into 1×n and n×1 with n = 7.
- `InceptionD` (17 → 8): the second grid-size reduction.
- `InceptionE` (8×8, figure 7): the expanded filter bank, where 1×3 and 3×1 run side by side.
- `InceptionAux`: the auxiliary classifier on the last 17×17 grid.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torchvision.models import WeightsEnum

from .common import check_input_size, min_input_size
from .googlenet import BasicConv2d, scaled, transform_input
from .registry import register_model
from .weights import check_num_classes, load_weights, overwrite_named_param, resolve_weights, weights_num_classes


class InceptionOutputs(NamedTuple):
    """What `Inception3` returns in training mode with its auxiliary head (torchvision's fields)."""

    logits: torch.Tensor
    aux_logits: torch.Tensor | None


class InceptionA(nn.Module):
    """35×35 block: 1×1 (64) | 1×1 (48) → 5×5 (64) | 1×1 (64) → 3×3 (96) → 3×3 (96) | 3×3 avg pool → 1×1."""

    def __init__(self, in_channels: int, pool_features: int, width: float = 1.0) -> None:
        super().__init__()
        c = lambda n: scaled(n, width)  # noqa: E731
        self.branch1x1 = BasicConv2d(in_channels, c(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, c(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(c(48), c(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, c(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(64), c(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(c(96), c(96), kernel_size=3, padding=1)
        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, c(pool_features), kernel_size=1)
        self.out_channels = c(64) + c(64) + c(96) + c(pool_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(self.pool(x)),
            ],
            1,
        )


class InceptionB(nn.Module):
    """Grid-size reduction 35 → 17: 3×3/2 conv (384) | 1×1 → 3×3 → 3×3/2 (96) | 3×3/2 max pool, concatenated."""

    def __init__(self, in_channels: int, width: float = 1.0) -> None:
        super().__init__()
        c = lambda n: scaled(n, width)  # noqa: E731
        self.branch3x3 = BasicConv2d(in_channels, c(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, c(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(64), c(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(c(96), c(96), kernel_size=3, stride=2)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)
        self.out_channels = c(384) + c(96) + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))), self.pool(x)], 1
        )


class InceptionC(nn.Module):
    """17×17 block with 7×7 factorised into 1×7 and 7×1: 1×1 | 1×1 → 1×7 → 7×1 | 1×1 → (7×1 → 1×7)×2 | pool → 1×1."""

    def __init__(self, in_channels: int, channels_7x7: int, width: float = 1.0) -> None:
        super().__init__()
        c = lambda n: scaled(n, width)  # noqa: E731
        c7 = c(channels_7x7)
        self.branch1x1 = BasicConv2d(in_channels, c(192), kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, c(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, c(192), kernel_size=(1, 7), padding=(0, 3))
        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, c(192), kernel_size=1)
        self.out_channels = 4 * c(192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = self.branch7x7dbl_1(x)
        d7 = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(d7))))
        return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(self.pool(x))], 1)


class InceptionD(nn.Module):
    """Grid-size reduction 17 → 8: 1×1 → 3×3/2 (320) | 1×1 → 1×7 → 7×1 → 3×3/2 (192) | 3×3/2 max pool."""

    def __init__(self, in_channels: int, width: float = 1.0) -> None:
        super().__init__()
        c = lambda n: scaled(n, width)  # noqa: E731
        self.branch3x3_1 = BasicConv2d(in_channels, c(192), kernel_size=1)
        self.branch3x3_2 = BasicConv2d(c(192), c(320), kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, c(192), kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(c(192), c(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(c(192), c(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(c(192), c(192), kernel_size=3, stride=2)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)
        self.out_channels = c(320) + c(192) + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, self.pool(x)], 1)


class InceptionE(nn.Module):
    """8×8 expanded block: 1×1 | 1×1 → (1×3 ‖ 3×1) | 1×1 → 3×3 → (1×3 ‖ 3×1) | pool → 1×1 (‖: side by side)."""

    def __init__(self, in_channels: int, width: float = 1.0) -> None:
        super().__init__()
        c = lambda n: scaled(n, width)  # noqa: E731
        self.branch1x1 = BasicConv2d(in_channels, c(320), kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, c(384), kernel_size=1)
        self.branch3x3_2a = BasicConv2d(c(384), c(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(c(384), c(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, c(448), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(448), c(384), kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(c(384), c(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(c(384), c(384), kernel_size=(3, 1), padding=(1, 0))
        self.pool = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = BasicConv2d(in_channels, c(192), kernel_size=1)
        self.out_channels = c(320) + 4 * c(384) + c(192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(b3),
                self.branch3x3_2b(b3),
                self.branch3x3dbl_3a(d3),
                self.branch3x3dbl_3b(d3),
                self.branch_pool(self.pool(x)),
            ],
            1,
        )


class InceptionAux(nn.Module):
    """Auxiliary classifier on the 17×17 grid: 5×5/3 avg pool → 1×1 conv (128) → 5×5 conv (768) → FC classes.

    Its convolutions are batch-normalised (`BasicConv2d`): the paper's "BN-auxiliary" row. Its classifier starts
    from N(0, 0.001²) (``stddev``) instead of 0.1. torchvision also sets ``stddev = 0.01`` on the 5×5 convolution's
    `BasicConv2d` wrapper, where its initialisation loop (which looks at the ``nn.Conv2d`` inside) never reads it,
    so that convolution gets 0.1 like the rest; we reproduce what torchvision does, not what it seems to say.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv0 = BasicConv2d(in_channels, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001  # type: ignore[assignment]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(self.pool(x)))  # 17×17 -> 5×5 -> 1×1
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Inception3(nn.Module):
    """Stem of plain convolutions → 3 × A (35×35) → B → 4 × C (17×17) → D → 2 × E (8×8) → pool → dropout → FC.

    Module names follow torchvision (``Conv2d_1a_3x3`` … ``Mixed_7c``, ``AuxLogits``, ``fc``). ``small_input=True``
    keeps the stem at full resolution for 32×32 images (stride 1, padded, no second pooling: grids 15, 7, 3);
    ``width`` scales every channel count; ``blocks`` is the number of A, C and E blocks (the first ones are kept).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.5,
        *,
        in_channels: int = 3,
        width: float = 1.0,
        small_input: bool = False,
        blocks: tuple[int, int, int] = (3, 4, 2),
        name: str = "inception_v3",
    ) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if transform_input and in_channels != 3:
            raise ValueError("transform_input converts ImageNet-normalised RGB input, so it needs in_channels=3")
        if aux_logits and (small_input or width != 1.0 or tuple(blocks) != (3, 4, 2)):
            raise ValueError(
                "the auxiliary head is built for the full-width network on 299×299 inputs (its 5×5 windows need the "
                "17×17 grid); use aux_logits=False with small_input, width or blocks"
            )
        self.name = name
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        c = lambda n: scaled(n, width)  # noqa: E731
        pad = 1 if small_input else 0  # the small stem keeps 32×32 instead of shrinking 299 to 35

        self.Conv2d_1a_3x3 = BasicConv2d(in_channels, c(32), kernel_size=3, stride=1 if small_input else 2, padding=pad)
        self.Conv2d_2a_3x3 = BasicConv2d(c(32), c(32), kernel_size=3, padding=pad)
        self.Conv2d_2b_3x3 = BasicConv2d(c(32), c(64), kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(c(64), c(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(c(80), c(192), kernel_size=3, padding=pad)
        self.maxpool2: nn.Module = nn.Identity() if small_input else nn.MaxPool2d(kernel_size=3, stride=2)
        n_a, n_c, n_e = blocks
        if not (1 <= n_a <= 3 and 1 <= n_c <= 4 and 1 <= n_e <= 2):
            raise ValueError(f"blocks gives 1-3 A, 1-4 C and 1-2 E blocks, got {blocks}")
        channels = c(192)
        # names as in torchvision: 35×35 Mixed_5b-d, reduction Mixed_6a, 17×17 Mixed_6b-e, Mixed_7a, 8×8 Mixed_7b-c
        self.stage_35 = [f"Mixed_5{s}" for s in "bcd"[:n_a]]
        self.stage_17 = [f"Mixed_6{s}" for s in "bcde"[:n_c]]
        self.stage_8 = [f"Mixed_7{s}" for s in "bc"[:n_e]]
        for block, pool_features in zip(self.stage_35, (32, 64, 64)):
            setattr(self, block, InceptionA(channels, pool_features, width))
            channels = getattr(self, block).out_channels
        self.Mixed_6a = InceptionB(channels, width)
        channels = self.Mixed_6a.out_channels
        for block, channels_7x7 in zip(self.stage_17, (128, 160, 160, 192)):
            setattr(self, block, InceptionC(channels, channels_7x7, width))
            channels = getattr(self, block).out_channels
        self.AuxLogits: InceptionAux | None = InceptionAux(channels, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(channels, width)
        channels = self.Mixed_7a.out_channels
        for block in self.stage_8:
            setattr(self, block, InceptionE(channels, width))
            channels = getattr(self, block).out_channels
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels, num_classes)

        stem = [self.Conv2d_1a_3x3.conv, self.Conv2d_2a_3x3.conv, self.Conv2d_2b_3x3.conv, self.maxpool1,
                self.Conv2d_3b_1x1.conv, self.Conv2d_4a_3x3.conv, self.maxpool2]
        to_17 = stem + [self.Mixed_6a.pool]
        self.min_input_size = min_input_size(to_17 + [self.Mixed_7a.pool])
        # training mode also runs the auxiliary head on the 17×17 grid: 5×5/3 pooling, then a 5×5 convolution
        aux = [self.AuxLogits.pool, self.AuxLogits.conv1.conv] if self.AuxLogits is not None else []
        self.min_train_input_size = max(self.min_input_size, min_input_size(to_17 + aux))
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation: N(0, ``stddev``²) truncated at ±2 (stddev 0.1 unless a layer sets its own)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=float(getattr(m, "stddev", 0.1)), a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def remove_aux(self) -> None:
        """Drop the auxiliary head: its parameters leave the model and its state dict."""
        self.aux_logits = False
        self.AuxLogits = None

    def forward(self, x: torch.Tensor) -> torch.Tensor | InceptionOutputs:
        with_aux = self.training and self.aux_logits and self.AuxLogits is not None
        if with_aux:
            check_input_size(x, self.min_train_input_size, f"{self.name} in training mode (its auxiliary head)")
        else:
            check_input_size(x, self.min_input_size, self.name)
        if self.transform_input:
            x = transform_input(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(self.maxpool1(x))))
        for block in self.stage_35:
            x = getattr(self, block)(x)
        x = self.Mixed_6a(x)
        for block in self.stage_17:
            x = getattr(self, block)(x)
        aux = self.AuxLogits(x) if with_aux else None  # type: ignore[misc]
        x = self.Mixed_7a(x)
        for block in self.stage_8:
            x = getattr(self, block)(x)
        x = self.fc(torch.flatten(self.dropout(self.avgpool(x)), 1))
        if with_aux:
            return InceptionOutputs(x, aux)
        return x


@register_model(chapter=9, input_size=(3, 299, 299), twin="torchvision")
def inception_v3(weights: WeightsEnum | str | None = None, progress: bool = True, **kwargs: Any) -> Inception3:
    """torchvision's Inception-v3 (299×299 inputs); ``weights="DEFAULT"`` loads its ImageNet weights.

    ``kwargs`` go to `Inception3` (``num_classes``, ``aux_logits``, ``transform_input``, ``init_weights``,
    ``dropout``). As in torchvision, weights imply ``transform_input=True`` (unless given), ``aux_logits=True`` and
    ``init_weights=False``, and a contradicting value is a ``ValueError``; the (trained) auxiliary head is kept.
    """
    w = resolve_weights("inception_v3", weights)
    if w is not None:
        check_num_classes("inception_v3", w, kwargs.get("num_classes", weights_num_classes(w)))
        if "transform_input" not in kwargs:
            overwrite_named_param(kwargs, "transform_input", True)
        overwrite_named_param(kwargs, "aux_logits", True)
        overwrite_named_param(kwargs, "init_weights", False)
        overwrite_named_param(kwargs, "num_classes", weights_num_classes(w))
    return load_weights(Inception3(**kwargs), w, progress)  # type: ignore[return-value]


@register_model(chapter=9, input_size=(1, 32, 32))
def inception_v3_small(
    num_classes: int = 10,
    in_channels: int = 1,
    *,
    width: float = 0.125,
    blocks: tuple[int, int, int] = (1, 1, 1),
    dropout: float = 0.2,
) -> Inception3:
    """Inception-v3 in miniature for 32×32 images: ``blocks`` A, C and E blocks (one each by default) and both
    grid reductions, at ``width`` × the channels; grids 15/7/3, inputs of at least 15×15 pixels."""
    return Inception3(
        num_classes, aux_logits=False, dropout=dropout, in_channels=in_channels, width=width, small_input=True,
        blocks=blocks, name="inception_v3_small",
    )
