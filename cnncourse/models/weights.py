"""torchvision's official ImageNet weights for the course's models, through torchvision's own weight enums.

Every builder that torchvision also has (``alexnet``, ``vgg16``, later ``resnet50``…) takes ``weights=``: ``None``,
``"DEFAULT"``, a name such as ``"IMAGENET1K_V1"`` (or ``"VGG16_Weights.IMAGENET1K_V1"``), or the enum member
itself. The file is fetched by ``torch.hub.load_state_dict_from_url`` (what ``weights.get_state_dict`` calls) with
``weights_only=True``, so a weights file can only hold tensors, never code: it is cached in ``torch.hub.get_dir()/checkpoints`` under the name the URL
ends with (``alexnet-owt-7be5be79.pth``), and the hex digits after the last ``-`` are the start of the file's
SHA-256, which torch.hub compares **when it downloads** the file. A file already in the cache is loaded as it is, so
copying an official file there by hand works offline (the tests use this to exercise the real loading path with a
locally written file).

Offline without the file, loading raises `WeightsUnavailableError` (a `cnncourse.data.DataUnavailableError`) that
names the file, the folder it was expected in, and how to proceed, instead of a bare ``URLError``.

Two more sources and hooks the later chapters need:

- ``remap``: a function applied to a state dict before loading, for checkpoints saved under older key names
  (torchvision's DenseNet weights say ``norm.1`` where the module is now ``norm1``).
- `load_timm_weights`: timm's pretrained weights (Inception-v4, Inception-ResNet-v2, BiT), downloaded by timm from
  the Hugging Face hub into its cache and mapped to our key names, with the same kind of offline error.
- `overwrite_named_param`: how a builder fixes an argument that weights imply (GoogLeNet's ``aux_logits``,
  ``transform_input``), refusing a contradicting value the way torchvision does.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
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


StateDict = dict[str, torch.Tensor]
Remap = Callable[[Mapping[str, torch.Tensor]], StateDict]


def overwrite_named_param(kwargs: dict[str, Any], name: str, value: Any) -> None:
    """Set ``kwargs[name] = value`` unless the caller chose a different value, which is a ``ValueError``.

    Builders use it where pretrained weights fix an argument: ``googlenet(weights=...)`` needs ``aux_logits`` off
    at the end and ``transform_input`` on, because that is how the weights were trained.
    """
    if name in kwargs and kwargs[name] != value:
        raise ValueError(f"these weights need {name}={value!r}, but {name}={kwargs[name]!r} was asked for")
    kwargs[name] = value


def load_state_dict(weights: WeightsEnum, progress: bool = True, check_hash: bool = True) -> StateDict:
    """The weights' state dict via torch.hub (cached, hash-checked on download, tensors only); clear offline errors."""
    path = weights_file(weights)
    existed = path.exists()
    try:
        return torch.hub.load_state_dict_from_url(
            weights.url, progress=progress, check_hash=check_hash, weights_only=True
        )
    except Exception as err:
        if not existed and not isinstance(err, (OSError, RuntimeError)):  # URLError is an OSError
            raise
        if existed:  # the file was there but could not be read: say so instead of blaming the network
            why = "it holds more than tensors, or is damaged" if isinstance(err, pickle.UnpicklingError) else (
                f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
            raise WeightsUnavailableError(
                f"{path.name} in {path.parent} could not be loaded as a weights file of tensors ({why}); "
                f"delete it and run again to download a fresh copy."
            ) from None
        raise WeightsUnavailableError(
            f"pretrained weights {weights!r} are not available: {path.name} is missing from {path.parent} "
            f"and downloading it from {weights.url} failed ({type(err).__name__}: {err}).\n"
            f"Fix: connect to the internet and run again (the file is cached there), or copy {path.name} into "
            f"{path.parent} (set TORCH_HOME to use another cache folder), or use weights=None / "
            f"{MODE_ENV}=tiny, where the course never downloads weights."
        ) from err


def load_weights(
    model: nn.Module,
    weights: WeightsEnum | None,
    progress: bool = True,
    check_hash: bool = True,
    remap: Remap | None = None,
) -> nn.Module:
    """Load ``weights`` into ``model`` strictly (every key and shape must match) and return it; None does nothing.

    ``remap`` rewrites the downloaded state dict first (old key names to today's).
    """
    if weights is not None:
        state = load_state_dict(weights, progress=progress, check_hash=check_hash)
        model.load_state_dict(remap(state) if remap is not None else state)
    return model


def load_timm_weights(
    model: nn.Module, timm_name: str, key_map: Remap | None = None, *, file: str | Path | None = None
) -> nn.Module:
    """Load timm's pretrained weights for ``timm_name`` into ``model`` strictly, through ``key_map``; return it.

    timm downloads them from the Hugging Face hub into its cache (``HF_HOME``, by default
    ``~/.cache/huggingface/hub``). ``file`` loads a local copy instead (a ``.safetensors`` or ``.pth`` file of
    timm's state dict), which is also how the tests exercise this path offline.
    """
    import timm

    if not timm.is_model(timm_name):
        raise ValueError(f"timm has no model named {timm_name!r}")
    cfg = timm.models.get_pretrained_cfg(timm_name)
    overlay = {"file": str(file)} if file is not None else None
    try:
        reference = timm.create_model(timm_name, pretrained=True, pretrained_cfg_overlay=overlay)
    except Exception as err:
        from huggingface_hub.constants import HF_HUB_CACHE

        where = Path(file) if file is not None else Path(HF_HUB_CACHE) / f"models--{cfg.hf_hub_id.replace('/', '--')}"
        raise WeightsUnavailableError(
            f"timm's pretrained weights for {timm_name} are not available: they are looked for in {where} "
            f"(Hugging Face repository {cfg.hf_hub_id}) and loading or downloading them failed "
            f"({type(err).__name__}: {err}).\n"
            f"Fix: connect to the internet and run again (timm caches the file there), or pass file= with a local "
            f"copy of the weights, or use {MODE_ENV}=tiny, where the course never downloads weights."
        ) from err
    state = reference.state_dict()
    model.load_state_dict(key_map(state) if key_map is not None else state)
    return model
