"""BiT's ResNetV2 (Kolesnikov et al., "Big Transfer", 2019): a pre-activation ResNet with GroupNorm and weight
standardisation, and the original BiT weights.

Three changes turn torchvision's ResNet-50 into BiT's R50x1:

- **pre-activation** blocks (He et al., "Identity Mappings in Deep Residual Networks", 2016): norm → ReLU → conv,
  three times, then the addition, and nothing after it (`PreActBottleneck`). The path from block to block is a
  clean identity; one final norm + ReLU (`ResNetV2.norm`) comes before the pooling. As in torchvision's and BiT's
  code the stride sits on the 3×3 convolution.
- **GroupNorm** (32 groups) instead of BatchNorm: no batch statistics, so no running averages to adapt when the
  data changes, and the same result for any batch size (BiT trained on 8 images per TPU core);
- **weight standardisation**: every convolution is a `cnncourse.scratch.StdConv2d`, which standardises each filter
  before convolving.

`resnetv2_bit` builds the six published sizes (R50x1 … R152x4: depth and a width factor that multiplies every
channel count), the builders ``resnetv2_50x1_bit`` … name them like timm, whose models of the same names compute the
same function given the same weights (`timm_to_resnetv2` renames timm's state dict to ours). The stem is BiT's: a
7×7/2 convolution, then zero padding and a 3×3/2 max pooling without padding (not the same as max pooling with
padding 1: the stem's outputs are not ReLU'd yet, so they can be negative, and zeros then win the maximum at the
border).

The original weights are 12 NumPy ``.npz`` files (BiT-S: ImageNet-1k, 1,000-class head; BiT-M: ImageNet-21k,
21,843-class head) with TensorFlow's names and HWIO kernels. `bit_weights_file` downloads one into the course's
data folder and `load_bit_npz` loads it; `save_bit_npz` writes a model in the same layout.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import MODE_ENV, data_dir
from ..scratch.norm import BIT_EPS, StdConv2d
from .common import check_input_size, min_input_size
from .registry import register_model
from .resnet import ConvLayer, NormLayer, conv1x1, conv3x3, he_init
from .weights import WeightsUnavailableError

# variant: (bottleneck blocks per stage, width factor)
BIT_VARIANTS: dict[str, tuple[tuple[int, int, int, int], int]] = {
    "R50x1": ((3, 4, 6, 3), 1),
    "R50x3": ((3, 4, 6, 3), 3),
    "R101x1": ((3, 4, 23, 3), 1),
    "R101x3": ((3, 4, 23, 3), 3),
    "R152x2": ((3, 8, 36, 3), 2),
    "R152x4": ((3, 8, 36, 3), 4),
}
BIT_CLASSES = {"BiT-S": 1_000, "BiT-M": 21_843}  # the head of each upstream dataset: ImageNet-1k, ImageNet-21k
BIT_URL = "https://storage.googleapis.com/bit_models/{name}.npz"
BIT_FOLDER = "bit"  # under the course's data folder


def group_norm_layer(num_groups: int = 32) -> NormLayer:
    """A norm layer for ``channels`` channels: ``nn.GroupNorm(num_groups, channels)``."""
    return partial(nn.GroupNorm, num_groups)


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck: (norm → ReLU → conv) for a 1×1, a 3×3 (``stride``) and a 1×1 convolution, plus
    the shortcut; ``planes`` channels inside, ``planes · expansion`` out. BiT's norm is GroupNorm with 32 groups,
    its convolution `StdConv2d` (the defaults).

    When the shape changes, the shortcut is a 1×1 projection (``downsample``) of the *pre-activated* input: the first
    norm and ReLU are shared by both paths. Otherwise the shortcut is the input itself.
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        *,
        norm_layer: NormLayer | None = None,
        conv_layer: ConvLayer = StdConv2d,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or group_norm_layer(32)
        out = planes * self.expansion
        self.norm1 = norm_layer(inplanes)
        self.conv1 = conv1x1(inplanes, planes, conv_layer=conv_layer)
        self.norm2 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes, stride, conv_layer=conv_layer)
        self.norm3 = norm_layer(planes)
        self.conv3 = conv1x1(planes, out, conv_layer=conv_layer)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            conv1x1(inplanes, out, stride, conv_layer=conv_layer) if stride != 1 or inplanes != out else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(x))
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.norm2(out)))
        out = self.conv3(self.relu(self.norm3(out)))
        return out + shortcut


class ResNetV2(nn.Module):
    """A stem, one stage of `PreActBottleneck` s per entry of ``layers``, GroupNorm → ReLU, global average pooling,
    ``fc``.

    - Stage ``i`` has ``widths[i] · width_factor`` channels inside its blocks and 4× that out; every stage after the
      first starts with stride 2. The stem convolution has ``stem_width · width_factor`` channels.
    - ImageNet stem (default): BiT's 7×7/2 convolution, zero padding of 1, 3×3/2 max pooling. ``small_input=True``:
      one 3×3 convolution and no pooling (for 8–32-pixel images).
    - ``zero_head``: the classifier starts at zero (BiT's fine-tuning: the first steps then train the head
      alone).
    - ``num_groups``: groups of every GroupNorm; ``eps``: the weight standardisation's epsilon. ``norm_layer`` and
      ``conv_layer`` replace GroupNorm and `StdConv2d` (e.g. ``nn.BatchNorm2d`` and ``nn.Conv2d``, to compare).
    """

    def __init__(
        self,
        layers: Sequence[int],
        width_factor: int = 1,
        num_classes: int = 1000,
        *,
        widths: Sequence[int] = (64, 128, 256, 512),
        stem_width: int = 64,
        in_channels: int = 3,
        small_input: bool = False,
        num_groups: int = 32,
        eps: float = BIT_EPS,
        norm_layer: NormLayer | None = None,
        conv_layer: ConvLayer | None = None,
        zero_head: bool = True,
        name: str = "ResNetV2",
    ) -> None:
        super().__init__()
        if len(layers) != len(widths) or not layers or min(layers) < 1:
            raise ValueError(f"need one positive block count per stage width, got layers={layers}, widths={widths}")
        if width_factor < 1:
            raise ValueError(f"width_factor must be a positive integer, got {width_factor}")
        self.name = name
        norm = norm_layer or group_norm_layer(num_groups)
        conv = conv_layer or partial(StdConv2d, eps=eps)
        inplanes = stem_width * width_factor
        if small_input:
            self.conv1 = conv3x3(in_channels, inplanes, conv_layer=conv)
            self.pad: nn.Module = nn.Identity()
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.conv1 = conv(in_channels, inplanes, 7, stride=2, padding=3, bias=False)
            self.pad = nn.ConstantPad2d(1, 0.0)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2)
        self.num_stages = len(layers)
        for i, (planes, blocks) in enumerate(zip(widths, layers)):
            planes *= width_factor
            stage = [PreActBottleneck(inplanes, planes, 1 if i == 0 else 2, norm_layer=norm, conv_layer=conv)]
            inplanes = planes * PreActBottleneck.expansion
            stage += [PreActBottleneck(inplanes, planes, norm_layer=norm, conv_layer=conv) for _ in range(1, blocks)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.norm = norm(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)
        # padding 1 then pooling without padding shrinks like pooling with padding 1, which min_input_size handles
        stem = [self.conv1] if small_input else [self.conv1, nn.MaxPool2d(3, stride=2, padding=1)]
        self.min_input_size = min_input_size([*stem, *(m for s in self.stages() for m in s.modules())])
        self.reset_parameters(zero_head)

    def reset_parameters(self, zero_head: bool = True) -> None:
        """He initialisation (fan-out) for convolutions, GroupNorm at scale 1 / shift 0, the head zero or PyTorch's."""
        he_init(self)
        if zero_head:
            nn.init.zeros_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)
        else:
            self.fc.reset_parameters()

    def stages(self) -> list[nn.Sequential]:
        """``layer1``, ``layer2``, … in order."""
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled, normalised features the head classifies: N×C×H×W → N×``fc.in_features``."""
        check_input_size(x, self.min_input_size, self.name)
        x = self.maxpool(self.pad(self.conv1(x)))
        for stage in self.stages():
            x = stage(x)
        return torch.flatten(self.avgpool(self.relu(self.norm(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


# --- the BiT family -------------------------------------------------------------------------------------------

def _variant(variant: str) -> tuple[tuple[int, int, int, int], int]:
    if variant not in BIT_VARIANTS:
        raise ValueError(f"BiT has no variant {variant!r}; choose one of {', '.join(BIT_VARIANTS)}")
    return BIT_VARIANTS[variant]


def resnetv2_bit(
    variant: str,
    num_classes: int = 1000,
    zero_head: bool = True,
    *,
    weights: str | None = None,
    root: str | Path | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> ResNetV2:
    """BiT's ResNetV2 ``variant`` (``"R50x1"`` … ``"R152x4"``, `BIT_VARIANTS`) with a ``num_classes`` head.

    ``weights="BiT-S"`` or ``"BiT-M"`` loads the original weights (`bit_weights_file` downloads them into ``root``,
    by default the course's data folder); their head is loaded only if it has ``num_classes`` classes (1,000 for
    BiT-S, 21,843 for BiT-M), otherwise the new head stays as ``zero_head`` says. Extra keyword arguments go to
    `ResNetV2` (``eps``, ``in_channels``…).
    """
    layers, width_factor = _variant(variant)
    model = ResNetV2(layers, width_factor, num_classes, zero_head=zero_head, name=f"BiT-{variant}", **kwargs)
    if weights is not None:
        if weights not in BIT_CLASSES:
            raise ValueError(f"BiT weights are {' or '.join(BIT_CLASSES)}, not {weights!r}")
        load_bit_npz(model, bit_weights_file(f"{weights}-{variant}", root, progress=progress))
    return model


@register_model(chapter=13, twin="timm:resnetv2_50x1_bit")
def resnetv2_50x1_bit(weights: str | None = None, *, num_classes: int = 1000, zero_head: bool = True,
                      **kwargs: Any) -> ResNetV2:
    """BiT-R50x1: ResNet-50 layout [3, 4, 6, 3], width ×1; 23,520,842 parameters with a 10-class head."""
    return resnetv2_bit("R50x1", num_classes, zero_head, weights=weights, **kwargs)


@register_model(chapter=13, twin="timm:resnetv2_50x3_bit")
def resnetv2_50x3_bit(weights: str | None = None, *, num_classes: int = 1000, zero_head: bool = True,
                      **kwargs: Any) -> ResNetV2:
    """BiT-R50x3: [3, 4, 6, 3], every layer 3× as wide."""
    return resnetv2_bit("R50x3", num_classes, zero_head, weights=weights, **kwargs)


@register_model(chapter=13, twin="timm:resnetv2_101x1_bit")
def resnetv2_101x1_bit(weights: str | None = None, *, num_classes: int = 1000, zero_head: bool = True,
                       **kwargs: Any) -> ResNetV2:
    """BiT-R101x1: ResNet-101 layout [3, 4, 23, 3], width ×1."""
    return resnetv2_bit("R101x1", num_classes, zero_head, weights=weights, **kwargs)


@register_model(chapter=13, twin="timm:resnetv2_101x3_bit")
def resnetv2_101x3_bit(weights: str | None = None, *, num_classes: int = 1000, zero_head: bool = True,
                       **kwargs: Any) -> ResNetV2:
    """BiT-R101x3: [3, 4, 23, 3], width ×3."""
    return resnetv2_bit("R101x3", num_classes, zero_head, weights=weights, **kwargs)


@register_model(chapter=13, twin="timm:resnetv2_152x2_bit")
def resnetv2_152x2_bit(weights: str | None = None, *, num_classes: int = 1000, zero_head: bool = True,
                       **kwargs: Any) -> ResNetV2:
    """BiT-R152x2: ResNet-152 layout [3, 8, 36, 3], width ×2."""
    return resnetv2_bit("R152x2", num_classes, zero_head, weights=weights, **kwargs)


@register_model(chapter=13, twin="timm:resnetv2_152x4_bit")
def resnetv2_152x4_bit(weights: str | None = None, *, num_classes: int = 1000, zero_head: bool = True,
                       **kwargs: Any) -> ResNetV2:
    """BiT-R152x4: [3, 8, 36, 3], width ×4 — BiT-L's architecture (JFT-300M weights were not released)."""
    return resnetv2_bit("R152x4", num_classes, zero_head, weights=weights, **kwargs)


# --- timm's names ------------------------------------------------------------------------------------------------

_TIMM_RULES = [
    (r"^stem\.conv\.", "conv1."),
    (r"^stages\.(\d+)\.blocks\.", lambda m: f"layer{int(m.group(1)) + 1}."),
    (r"\.downsample\.conv\.", ".downsample."),
    (r"^head\.fc\.", "fc."),
]


def timm_to_resnetv2(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's BiT ``ResNetV2`` state dict (``stem.conv``, ``stages.0.blocks.0``, ``head.fc``) with our key names; its
    1×1-convolution head becomes our linear layer (O×I×1×1 → O×I)."""
    renamed = {}
    for key, value in state.items():
        for pattern, replacement in _TIMM_RULES:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value.flatten(1) if key == "fc.weight" else value
    return renamed


# --- the original .npz files -------------------------------------------------------------------------------------

_NPZ_LAYER = {"conv": "standardized_conv2d/kernel", "weight": "group_norm/gamma", "bias": "group_norm/beta"}


def npz_key(key: str, prefix: str = "resnet/") -> str:
    """The key of our state-dict entry ``key`` in a BiT ``.npz``: ``layer1.0.conv2.weight`` →
    ``resnet/block1/unit01/b/standardized_conv2d/kernel`` (units count from 01, a/b/c are a unit's three layers)."""
    if key == "conv1.weight":
        return f"{prefix}root_block/standardized_conv2d/kernel"
    if key in ("fc.weight", "fc.bias"):
        return f"{prefix}head/conv2d/{'kernel' if key.endswith('weight') else 'bias'}"
    if key in ("norm.weight", "norm.bias"):
        return prefix + _NPZ_LAYER[key.split(".")[1]]
    match = re.fullmatch(r"layer(\d+)\.(\d+)\.(conv|norm|downsample)(\d?)\.(weight|bias)", key)
    if match is None:
        raise ValueError(f"{key!r} is not a parameter of BiT's ResNetV2")
    stage, unit, kind, index, what = match.groups()
    unit_prefix = f"{prefix}block{stage}/unit{int(unit) + 1:02d}/"
    if kind == "downsample":
        return unit_prefix + "a/proj/standardized_conv2d/kernel"
    return unit_prefix + "abc"[int(index) - 1] + "/" + _NPZ_LAYER["conv" if kind == "conv" else what]


def hwio_to_oihw(array: np.ndarray) -> torch.Tensor:
    """A TensorFlow kernel (height, width, in, out) as PyTorch's (out, in, height, width); other arrays unchanged."""
    if array.ndim == 4:
        array = array.transpose(3, 2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def load_bit_npz(model: ResNetV2, path: str | Path, *, head: bool | None = None) -> ResNetV2:
    """Load an original BiT ``.npz`` (TensorFlow names, HWIO kernels) into ``model`` and return it.

    Every convolution and GroupNorm must be in the file with the model's shapes. The head is loaded when it has
    as many classes as ``model.fc`` (``head=None``), always (``True``: a mismatch is an error) or never (``False``);
    when it is not loaded, ``model.fc`` keeps its values (zero with ``zero_head``).
    """
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not a set of named arrays")
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise WeightsUnavailableError(
            f"{Path(path).name} in {Path(path).parent} is not a readable .npz file ({type(err).__name__}: {err}); "
            f"delete it and run again to download a fresh copy."
        ) from err
    with npz:
        kernel = npz_key("fc.weight")
        if head is None:
            head = kernel in npz.files and npz[kernel].shape[-1] == model.fc.out_features
        state = {}
        for key in model.state_dict():
            if key.startswith("fc.") and not head:
                continue
            name = npz_key(key)
            if name not in npz.files:
                raise ValueError(f"{Path(path).name} has no {name!r} (for {key}): it is not a BiT ResNetV2 checkpoint")
            state[key] = hwio_to_oihw(npz[name])
    if head:
        state["fc.weight"] = state["fc.weight"].flatten(1)  # the original head is a 1×1 convolution
    model.load_state_dict(state, strict=False)  # shapes are still checked; only fc can be left out
    return model


def save_bit_npz(model: ResNetV2, path: str | Path) -> Path:
    """Write ``model``'s weights as an original BiT ``.npz`` (the layout `load_bit_npz` and BiT's own code read)."""
    arrays = {}
    for key, value in model.state_dict().items():
        array = value.detach().cpu().numpy()
        if key == "fc.weight":
            array = array[:, :, None, None]  # the original head is a 1×1 convolution
        arrays[npz_key(key)] = array.transpose(2, 3, 1, 0) if array.ndim == 4 else array
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


# --- downloading them ----------------------------------------------------------------------------------------------

BIT_NAMES = [f"{kind}-{variant}" for kind in BIT_CLASSES for variant in BIT_VARIANTS]  # the 12 published files


def bit_weights_file(name: str, root: str | Path | None = None, *, download: bool = True, progress: bool = True) -> Path:
    """The path of BiT's ``<name>.npz`` (e.g. ``"BiT-M-R50x1"``) in ``<root>/bit``, downloaded there if missing.

    ``root`` defaults to the course's data folder (``$CNNCOURSE_DATA``). The download goes to ``<name>.npz.part``
    and is renamed only when complete: its size must equal the server's ``Content-Length`` and its MD5 the
    server's ``x-goog-hash`` (when sent), so an interrupted download never leaves a half-written file behind. A file
    already there is used if it is a complete zip archive (a truncated one is an error that says to delete it).
    Offline without the file: `WeightsUnavailableError` naming the file, the folder and the fixes.
    """
    if name not in BIT_NAMES:
        raise ValueError(f"BiT published no weights named {name!r}; choose one of {', '.join(BIT_NAMES)}")
    folder = Path(root if root is not None else data_dir()) / BIT_FOLDER
    path = folder / f"{name}.npz"
    if path.exists():
        if not zipfile.is_zipfile(path):
            raise WeightsUnavailableError(
                f"{path.name} in {folder} is incomplete or damaged (not a complete .npz archive); delete it and run "
                f"again to download a fresh copy."
            )
        return path
    url = BIT_URL.format(name=name)
    fixes = (f"Fix: connect to the internet and run again (the file is cached there), or copy {path.name} from "
             f"{url} into {folder}, or set {MODE_ENV}=tiny, where the course never downloads weights.")
    if not download:
        raise WeightsUnavailableError(f"BiT weights {name} are not available: {path.name} is missing from {folder}.\n"
                                      f"{fixes}")
    try:
        _download(url, path, progress)
    except (OSError, ValueError) as err:  # URLError and HTTPError are OSErrors; a bad size or checksum a ValueError
        raise WeightsUnavailableError(
            f"BiT weights {name} are not available: {path.name} is missing from {folder} and downloading it from "
            f"{url} failed ({type(err).__name__}: {err}).\n{fixes}"
        ) from err
    return path


def _download(url: str, path: Path, progress: bool) -> None:
    """``url`` to ``path`` through ``path.part``: size and MD5 (GCS's ``x-goog-hash``) checked before the rename."""
    from ..train import progress_bar

    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            size = int(response.headers.get("Content-Length") or -1)
            hashes = dict(h.strip().split("=", 1) for h in response.headers.get("x-goog-hash", "").split(",") if "=" in h)
            md5, received = hashlib.md5(), 0
            bar = progress_bar(max(size, 0), path.name, progress)
            try:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    md5.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
        if size >= 0 and received != size:
            raise ValueError(f"received {received:,d} of {size:,d} bytes")
        if "md5" in hashes and base64.b64encode(md5.digest()).decode() != hashes["md5"]:
            raise ValueError("the file's MD5 differs from the server's: the download is corrupt")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
