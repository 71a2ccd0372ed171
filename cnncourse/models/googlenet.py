"""GoogLeNet / Inception v1 (Szegedy et al., 2014): Inception modules, 1×1 reductions, auxiliary classifiers.

- `googlenet`: torchvision's version, state-dict compatible with ``torchvision.models.googlenet`` so ``weights=``
  loads its ImageNet weights: 6,624,904 parameters without the two auxiliary heads, 13,004,888 with them.
  Its weights were ported from TensorFlow-slim's ``inception_v1``, which differs from the paper in two ways the
  course points out: a batch-normalised `BasicConv2d` everywhere (the paper predates BatchNorm), and a **3×3**
  convolution in the branch the paper gives a 5×5 (pytorch/vision#906). ``five_by_five=True`` builds the paper's
  5×5 branch (then torchvision's weights no longer fit).
- `googlenet_small`: the same blocks at a fraction of the width, with a stem for 32×32 images (a 3×3 convolution
  with stride 1 instead of the 7×7 one with stride 2), for the tiny-mode experiments.

The model returns the main logits in eval mode, and in training mode with ``aux_logits=True`` a `GoogLeNetOutputs`
``(logits, aux_logits2, aux_logits1)`` (torchvision's order), whose auxiliary losses are added with weight 0.3
(`aux_loss`). `BasicConv2d` and `transform_input` are shared with Inception-v3 (`inception.py`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import WeightsEnum

from .common import check_input_size
from .registry import register_model
from .weights import check_num_classes, load_weights, overwrite_named_param, resolve_weights, weights_num_classes

# The paper's Table 1: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj) of every Inception module.
INCEPTION_V1: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUX_WEIGHT = 0.3  # the paper's weight of each auxiliary loss


class GoogLeNetOutputs(NamedTuple):
    """What `GoogLeNet` returns in training mode with auxiliary heads (the fields of torchvision's namedtuple)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor | None
    aux_logits1: torch.Tensor | None


def scaled(channels: int, width: float) -> int:
    """``channels × width`` rounded, at least 1 (how the narrow variants shrink every layer)."""
    return max(1, round(channels * width))


def transform_input(x: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalised input (torchvision's mean/std) → the [-1, 1] pixels the ported TensorFlow weights expect.

    ``x * std / 0.5 + (mean - 0.5) / 0.5`` per colour channel, which is ``(pixel - 0.5) / 0.5``; N×3×H×W in and out.
    """
    stats = zip(IMAGENET_MEAN, IMAGENET_STD)
    return torch.cat([x[:, c : c + 1] * (std / 0.5) + (mean - 0.5) / 0.5 for c, (mean, std) in enumerate(stats)], 1)


class BasicConv2d(nn.Module):
    """Convolution (no bias: BatchNorm's shift replaces it) → BatchNorm (eps 0.001, TensorFlow's) → ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **conv_args: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_args)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four parallel branches concatenated along the channels; every branch keeps the height and width.

    1×1 | 1×1 reduce → 3×3 | 1×1 reduce → "5×5" | 3×3 max pool → 1×1 projection. The "5×5" branch is a 3×3
    convolution in torchvision (pytorch/vision#906) unless ``five_by_five=True``.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        five_by_five: bool = False,
    ) -> None:
        super().__init__()
        k = 5 if five_by_five else 3
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=k, padding=k // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: average-pool to 4×4 → 1×1 conv (128) → FC 1024 + ReLU → dropout 0.7 → FC classes.

    The pooling is torchvision's adaptive one. The paper's 5×5 window with stride 3 also gives 4×4 on its 14×14 maps,
    but not the same values: its windows start at rows 0, 3, 6, 9 and are 5 wide, the adaptive ones start at
    0, 3, 7, 10 and are 4 wide. The adaptive pooling also gives 4×4 for any other input size.
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7, width: float = 1.0) -> None:
        super().__init__()
        channels, hidden = scaled(128, width), scaled(1024, width)
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = BasicConv2d(in_channels, channels, kernel_size=1)
        self.fc1 = nn.Linear(channels * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


# --- the smallest input, for networks whose poolings round up (ceil_mode) ----------------------------------------

def _side_after(layers: Sequence[nn.Module], size: int) -> int:
    """Side length after ``layers`` (convs and poolings, in order) for a ``size``×``size`` input; 0 if one fails.

    PyTorch's rule: ``out = floor((in + 2p - d(k-1) - 1 [+ s - 1 with ceil_mode]) / s) + 1``, and with ceil_mode
    a last window that would start beyond the (left-padded) input is dropped.
    """
    for m in layers:
        k, s, p = m.kernel_size, m.stride, m.padding  # type: ignore[union-attr]
        k, s, p = (v if isinstance(v, int) else v[0] for v in (k, s, p))
        d = getattr(m, "dilation", 1)
        d = d if isinstance(d, int) else d[0]
        ceil = bool(getattr(m, "ceil_mode", False))
        out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
        if ceil and (out - 1) * s >= size + p:
            out -= 1
        if out < 1:
            return 0
        size = out
    return size


def smallest_input(layers: Sequence[nn.Module], limit: int = 4096) -> int:
    """Smallest square side for which every conv / pooling in ``layers`` leaves at least one pixel (ceil_mode too)."""
    for size in range(1, limit + 1):
        if _side_after(layers, size) >= 1:
            return size
    raise ValueError(f"no input up to {limit}×{limit} pixels passes these layers")


# --- the network ---------------------------------------------------------------------------------------------------

class GoogLeNet(nn.Module):
    """Stem (convolutions and poolings) → nine Inception modules in three stages → global average pooling → FC.

    Module names follow torchvision (``conv1`` … ``inception5b``, ``aux1``, ``aux2``, ``fc``), which is what makes
    the state dicts interchangeable. ``small_input=True`` replaces the 7×7/2 convolution by a 3×3/1 one, for 32×32
    images (grids 16, 8, 4, 2 instead of 56, 28, 14, 7); ``width`` scales every channel count.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
        *,
        in_channels: int = 3,
        width: float = 1.0,
        small_input: bool = False,
        five_by_five: bool = False,
        name: str = "googlenet",
    ) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if transform_input and in_channels != 3:
            raise ValueError("transform_input converts ImageNet-normalised RGB input, so it needs in_channels=3")
        self.name = name
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        c = lambda n: scaled(n, width)  # noqa: E731

        if small_input:  # 32×32 -> 16×16 after maxpool1 (224×224 -> 56×56 in the ImageNet network)
            self.conv1 = BasicConv2d(in_channels, c(64), kernel_size=3, padding=1)
        else:
            self.conv1 = BasicConv2d(in_channels, c(64), kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(c(64), c(64), kernel_size=1)
        self.conv3 = BasicConv2d(c(64), c(192), kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        channels = c(192)

        def inception(stage: str) -> Inception:
            nonlocal channels
            block = Inception(channels, *(c(n) for n in INCEPTION_V1[stage]), five_by_five=five_by_five)
            channels = block.out_channels
            return block

        self.inception3a = inception("3a")
        self.inception3b = inception("3b")
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception("4a")
        aux1_channels = channels
        self.inception4b = inception("4b")
        self.inception4c = inception("4c")
        self.inception4d = inception("4d")
        aux2_channels = channels
        self.inception4e = inception("4e")
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = inception("5a")
        self.inception5b = inception("5b")

        self.aux1: InceptionAux | None = None
        self.aux2: InceptionAux | None = None
        if aux_logits:
            self.aux1 = InceptionAux(aux1_channels, num_classes, dropout=dropout_aux, width=width)
            self.aux2 = InceptionAux(aux2_channels, num_classes, dropout=dropout_aux, width=width)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels, num_classes)

        stem = [self.conv1.conv, self.maxpool1, self.conv2.conv, self.conv3.conv, self.maxpool2]
        self.min_input_size = smallest_input(stem + [self.maxpool3, self.maxpool4])
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation: weights ~ N(0, 0.01²) truncated at ±2, BatchNorm scale 1 and shift 0."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def remove_aux(self) -> None:
        """Drop the auxiliary heads (what inference does anyway): their parameters leave the model and state dict."""
        self.aux_logits = False
        self.aux1 = None
        self.aux2 = None

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        check_input_size(x, self.min_input_size, self.name)
        if self.transform_input:
            x = transform_input(x)
        with_aux = self.training and self.aux_logits
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if with_aux and self.aux1 is not None else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux and self.aux2 is not None else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if with_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def aux_loss(
    outputs: torch.Tensor | tuple,
    target: torch.Tensor,
    aux_weight: float = AUX_WEIGHT,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> torch.Tensor:
    """The training loss of a network with auxiliary heads: main loss + ``aux_weight`` × each auxiliary loss.

    ``outputs`` is a model's output: a tensor (eval mode, or no heads: plain ``loss_fn``) or a tuple whose first
    entry is the main logits (`GoogLeNetOutputs`, Inception-v3's ``InceptionOutputs``); ``None`` entries are skipped.
    """
    if isinstance(outputs, torch.Tensor):
        return loss_fn(outputs, target)
    main, *aux = outputs
    loss = loss_fn(main, target)
    for logits in aux:
        if logits is not None:
            loss = loss + aux_weight * loss_fn(logits, target)
    return loss


@register_model(chapter=7, twin="torchvision")
def googlenet(weights: WeightsEnum | str | None = None, progress: bool = True, **kwargs: Any) -> GoogLeNet:
    """torchvision's GoogLeNet; ``weights="DEFAULT"`` loads its ImageNet weights.

    ``kwargs`` go to `GoogLeNet` (``num_classes``, ``aux_logits``, ``transform_input``, ``init_weights``,
    ``dropout``, ``dropout_aux``, ``five_by_five``). As in torchvision, weights imply ``transform_input=True`` (unless
    given), ``aux_logits=True`` while loading and ``init_weights=False``; a contradicting value is a ``ValueError``.
    The auxiliary heads are dropped after loading unless ``aux_logits=True`` was asked for, because the file's
    auxiliary weights were never trained (a warning says so).
    """
    w = resolve_weights("googlenet", weights)
    keep_aux = kwargs.get("aux_logits", False)
    if w is not None:
        check_num_classes("googlenet", w, kwargs.get("num_classes", weights_num_classes(w)))
        if "transform_input" not in kwargs:
            overwrite_named_param(kwargs, "transform_input", True)
        overwrite_named_param(kwargs, "aux_logits", True)
        overwrite_named_param(kwargs, "init_weights", False)
        overwrite_named_param(kwargs, "num_classes", weights_num_classes(w))
    model = GoogLeNet(**kwargs)
    if w is not None:
        load_weights(model, w, progress)
        if keep_aux:
            warnings.warn("the auxiliary heads of the pretrained GoogLeNet are NOT pretrained: train them before use")
        else:
            model.remove_aux()
    return model


@register_model(chapter=7, input_size=(1, 32, 32))
def googlenet_small(
    num_classes: int = 10,
    in_channels: int = 1,
    *,
    width: float = 0.25,
    aux_logits: bool = True,
    dropout: float = 0.2,
    dropout_aux: float = 0.7,
    five_by_five: bool = False,
) -> GoogLeNet:
    """GoogLeNet's blocks at ``width`` × the channels, with a 3×3 stem for 32×32 images (min. 8×8 pixels)."""
    return GoogLeNet(
        num_classes, aux_logits, transform_input=False, dropout=dropout, dropout_aux=dropout_aux,
        in_channels=in_channels, width=width, small_input=True, five_by_five=five_by_five, name="googlenet_small",
    )
