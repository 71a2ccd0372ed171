"""torchvision's official ImageNet weights for the course's models, through torchvision's own weight enums.

Every builder that torchvision also has (``alexnet``, ``vgg16``, later ``resnet50``…) takes ``weights=``: ``None``,
``"DEFAULT"``, a name such as ``"IMAGENET1K_V1"`` (or ``"VGG16_Weights.IMAGENET1K_V1"``), or the enum member
itself. The file is fetched by ``weights.get_state_dict(progress=..., check_hash=True)``, that is
``torch.hub.load_state_dict_from_url``: it is cached in ``torch.hub.get_dir()/checkpoints`` under the name the URL
ends with (``alexnet-owt-7be5be79.pth``), and the hex digits after the last ``-`` are the start of the file's
SHA-256, which torch.hub compares **when it downloads** the file. A file already in the cache is loaded as it is, so
copying an official file there by hand works offline (the tests use this to exercise the real loading path with a
locally written file).

Offline without the file, loading raises `WeightsUnavailableError` (a `cnncourse.data.DataUnavailableError`) that
names the file, the folder it was expected in, and how to proceed, instead of a bare ``URLError``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import WeightsEnum, get_model_weights

from ..config import MODE_ENV
from ..data import DataUnavailableError


class WeightsUnavailableError(DataUnavailableError):
    """Pretrained weights are not in torch's hub cache and could not be downloaded."""


def resolve_weights(model_name: str, weights: WeightsEnum | str | None) -> WeightsEnum | None:
    """torchvision's weight enum member for ``model_name`` from None / ``"DEFAULT"`` / a name / a member."""
    if weights is None:
        return None
    enum = get_model_weights(model_name)
    if isinstance(weights, WeightsEnum) and not isinstance(weights, enum):
        raise TypeError(f"{model_name} takes {enum.__name__} weights, got {weights!r}")
    try:
        return enum.verify(weights)
    except KeyError:
        names = ", ".join(["DEFAULT", *enum.__members__])
        raise ValueError(f"{model_name} has no weights named {weights!r}; choose one of {names}") from None


def weights_num_classes(weights: WeightsEnum) -> int:
    """Number of classes the weights' classifier was trained for (1000 for ImageNet-1K)."""
    categories = weights.meta.get("categories")
    return len(categories) if categories else 1000


def check_num_classes(model_name: str, weights: WeightsEnum | None, num_classes: int) -> None:
    """A clear ``ValueError`` when ``num_classes`` differs from what ``weights`` were trained for."""
    if weights is None:
        return
    expected = weights_num_classes(weights)
    if num_classes != expected:
        raise ValueError(
            f"{weights!r} were trained for {expected} classes but num_classes={num_classes} was asked for. "
            f"Load them with num_classes={expected}, then replace the last layer for your {num_classes} classes "
            f"(transfer learning), or train from scratch with weights=None."
        )


def weights_file(weights: WeightsEnum) -> Path:
    """Where torch.hub caches ``weights``: ``torch.hub.get_dir()/checkpoints/<last part of the URL>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def load_state_dict(weights: WeightsEnum, progress: bool = True, check_hash: bool = True) -> dict[str, torch.Tensor]:
    """The weights' state dict via torchvision (cached, hash-checked on download); a clear error when offline."""
    path = weights_file(weights)
    existed = path.exists()
    try:
        return weights.get_state_dict(progress=progress, check_hash=check_hash)
    except Exception as err:
        if not existed and not isinstance(err, (OSError, RuntimeError)):  # URLError is an OSError
            raise
        if existed:  # the file was there but could not be read: say so instead of blaming the network
            raise WeightsUnavailableError(
                f"{path.name} in {path.parent} could not be loaded ({type(err).__name__}: {err}); "
                f"delete it and run again to download a fresh copy."
            ) from err
        raise WeightsUnavailableError(
            f"pretrained weights {weights!r} are not available: {path.name} is missing from {path.parent} "
            f"and downloading it from {weights.url} failed ({type(err).__name__}: {err}).\n"
            f"Fix: connect to the internet and run again (the file is cached there), or copy {path.name} into "
            f"{path.parent} (set TORCH_HOME to use another cache folder), or use weights=None / "
            f"{MODE_ENV}=tiny, where the course never downloads weights."
        ) from err


def load_weights(
    model: nn.Module, weights: WeightsEnum | None, progress: bool = True, check_hash: bool = True
) -> nn.Module:
    """Load ``weights`` into ``model`` strictly (every key and shape must match) and return it; None does nothing."""
    if weights is not None:
        model.load_state_dict(load_state_dict(weights, progress=progress, check_hash=check_hash))
    return model
