"""The course's ImageNet models side by side: parameters and FLOPs measured, top-1 from the twin's metadata.

Chapter 00's bubble chart and chapter 14's closing table both come from `catalog`, which reads the model list from
the registry (`cnncourse.models.list_models`), so a model that a chapter registers joins them without being listed
here. Every model is built on the ``meta`` device (shapes without numbers: free even for VGG) and measured at its
registered input size: 224×224, 299×299 for the Inception family, each EfficientNet at the size its weights were
evaluated at.

Only the year is kept by hand (`YEARS`): the registry does not record it. `chart` draws the rows with a published
accuracy as the course's bubble chart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import torch
from torchvision.models import get_model_weights

from . import models, plot, profile

# Year each family's paper first appeared (arXiv), by name prefix; the longest matching prefix wins.
YEARS: dict[str, int] = {
    "lenet": 1998,
    "alexnet": 2012,
    "nin": 2013,
    "vgg": 2014,
    "googlenet": 2014,
    "inception_v3": 2015,
    "resnet": 2015,
    "resnext": 2016,
    "wide_resnet": 2016,
    "densenet": 2016,
    "inception_v4": 2016,
    "inception_resnet": 2016,
    "resnetv2": 2019,  # the course's ResNetV2 builders are BiT's (resnetv2_50x1_bit…); pre-activation itself: 2016
    "efficientnet": 2019,
}

# Top-1 accuracy of torchvision's first published weights by default: the architectures as their papers trained
# them. "DEFAULT" gives torchvision's best weights instead, which for ResNets and others include a 2021 recipe.
ORIGINAL_WEIGHTS = "IMAGENET1K_V1"


@dataclass(frozen=True)
class CatalogRow:
    """One model, measured at ``input_size``×``input_size`` pixels (FLOPs: multiply-add = 2)."""

    name: str
    chapter: int
    year: int | None
    input_size: int
    params: int  # parameters inference uses (`profile.inference_cost`)
    stored_params: int  # every parameter the model holds (auxiliary classifiers included)
    flops: int
    top1: float | None  # ImageNet top-1 (%) of the twin's weights ``weights``; None without published weights
    twin: str | None
    weights: str | None  # which of the twin's weights ``top1`` belongs to, e.g. "IMAGENET1K_V1"


def model_year(name: str) -> int | None:
    """Year of the paper that introduced ``name``'s family (`YEARS`), or None if no prefix matches."""
    matches = [prefix for prefix in YEARS if name.startswith(prefix)]
    return YEARS[max(matches, key=len)] if matches else None


def imagenet_models() -> list[str]:
    """Registered models whose input is an ImageNet-sized RGB image (3×224×224 or larger), in chapter order."""
    return [n for n in models.list_models() if (info := models.model_info(n)).input_size[0] == 3
            and min(info.input_size[1:]) >= 224]


def published_top1(name: str, weights: str = ORIGINAL_WEIGHTS) -> tuple[float | None, str | None]:
    """ImageNet top-1 (%) of ``name``'s torchvision twin's ``weights`` (its default ones if it has no such name).

    Returns ``(accuracy, weights name)``; ``(None, None)`` for course-only models and timm twins, whose pretrained
    configurations carry no accuracy. ``weights="DEFAULT"`` gives the registry's `ModelInfo.published_top1`.
    """
    info = models.model_info(name)
    if info.twin_library != "torchvision":
        return None, None
    enum = get_model_weights(info.twin_name)
    member = enum[weights] if weights in enum.__members__ else enum.DEFAULT
    return float(member.meta["_metrics"]["ImageNet-1K"]["acc@1"]), member.name


@cache
def _measure(name: str) -> tuple[int, int, int]:
    """(parameters used, parameters stored, FLOPs) of the registered model ``name`` built with its defaults."""
    info = models.model_info(name)
    with torch.device("meta"):
        model = info.builder().eval()
    cost = profile.inference_cost(model, (1, *info.input_size))
    return cost.params, profile.count_params(model), cost.flops


def catalog(names: Iterable[str] | None = None, weights: str = ORIGINAL_WEIGHTS) -> list[CatalogRow]:
    """One measured `CatalogRow` per model in ``names`` (default: `imagenet_models()`), in that order.

    Measurements are cached per model name for the life of the process (they depend only on the code).
    """
    rows = []
    for name in imagenet_models() if names is None else names:
        info = models.model_info(name)
        params, stored, flops = _measure(name)
        top1, tag = published_top1(name, weights)
        rows.append(CatalogRow(
            name=name, chapter=info.chapter, year=model_year(name), input_size=info.input_size[-1], params=params,
            stored_params=stored, flops=flops, top1=top1, twin=info.twin, weights=tag,
        ))
    return rows


def format_catalog(rows: Sequence[CatalogRow]) -> str:
    """The rows as an aligned text table: chapter, year, input, parameters (M), GFLOPs, top-1 and its weights."""
    lines = [f"{'model':20s} {'ch':>2s} {'year':>4s} {'input':>5s} {'params (M)':>10s} {'GFLOPs':>7s} "
             f"{'top-1 %':>7s}  weights"]
    for r in rows:
        top1 = f"{r.top1:7.2f}" if r.top1 is not None else f"{'—':>7s}"
        year = str(r.year) if r.year is not None else "—"
        if r.weights is not None:
            source = f"torchvision {r.weights}"
        else:
            source = f"{r.twin}, no accuracy in its metadata" if r.twin else "course-only, no published weights"
        lines.append(f"{r.name:20s} {r.chapter:2d} {year:>4s} {r.input_size:5d} {r.params / 1e6:10.2f} "
                     f"{r.flops / 1e9:7.2f} {top1}  {source}")
    return "\n".join(lines)


def chart(rows: Sequence[CatalogRow], title: str | None = None):
    """Top-1 vs FLOPs (log) of the rows with a published accuracy, bubble area = parameters, coloured by chapter."""
    ranked = [r for r in rows if r.top1 is not None]
    if not ranked:
        raise ValueError("none of the rows has a published top-1 accuracy to plot")
    years: dict[int, list[int]] = {}
    for r in ranked:
        years.setdefault(r.chapter, []).append(r.year)
    group = {ch: f"ch {ch:02d} ({min(y)}" + (f"–{max(y)})" if max(y) != min(y) else ")") for ch, y in years.items()}
    weights = sorted({r.weights for r in ranked})
    return plot.bubble_chart(
        [r.flops / 1e9 for r in ranked], [r.top1 for r in ranked], [r.params / 1e6 for r in ranked],
        [r.name for r in ranked], [group[r.chapter] for r in ranked],
        size_legend=(5, 25, 100), size_unit="M parameters",
        xlabel="GFLOPs per image at the model's input size (multiply-add = 2), log scale",
        ylabel=f"ImageNet top-1 accuracy (%), torchvision {' / '.join(weights)}",
        title=title or f"{len(ranked)} course models: accuracy vs computation (bubble area = parameters)",
    )
