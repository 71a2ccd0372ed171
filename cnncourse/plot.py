"""Plots the chapters share: training curves and labelled image grids."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .train import History

_METRIC_LABELS = {"loss": "cross-entropy loss", "acc": "accuracy (%)"}


def plot_history(
    histories: History | Mapping[str, History],
    metrics: Sequence[str] = ("loss", "acc"),
    title: str | None = None,
) -> plt.Figure:
    """Loss and accuracy per epoch, training (solid) and validation (dashed); pass a dict to compare runs."""
    runs = {"": histories} if isinstance(histories, History) else dict(histories)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, (name, hist) in enumerate(runs.items()):
            color = f"C{i}"
            for split, style in (("train", "-"), ("val", "--")):
                key = f"{split}_{metric}"
                if not hist.epochs or key not in hist.epochs[0]:
                    continue
                values = np.asarray(hist[key], dtype=float) * (100 if metric == "acc" else 1)
                label = f"{name} {split}".strip()
                ax.plot(hist["epoch"], values, style, color=color, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        ax.set_title(f"{_METRIC_LABELS.get(metric, metric)} per epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _to_hwc(image: torch.Tensor | np.ndarray) -> np.ndarray:
    a = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)  # C×H×W -> H×W×C
    return a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a


def show_images(
    images: torch.Tensor | np.ndarray | Sequence,
    labels: Sequence | None = None,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "gray",
    size: float = 1.4,
) -> plt.Figure:
    """A grid of images (N×C×H×W, N×H×W or H×W×C each) with optional labels above them."""
    n = len(images)
    if n == 0:
        raise ValueError("show_images needs at least one image")
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {n} images but {len(labels)} labels")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = _to_hwc(images[i])
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
